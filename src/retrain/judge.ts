/**
 * The canary verdict (FR-9.2), pure. The staging model serves a sticky share of patients for
 * `canary_hours` of trial time; then both arms' windows are compared.
 *
 * "Stable" means all of:
 * - evidence: each arm has at least `minLabelled` labelled predictions with both classes present
 *   (otherwise AUROC and calibration are not known and nothing is promoted on hope);
 * - discrimination: AUROC(canary) >= AUROC(production) - aurocTolerance;
 * - calibration: ECE(canary) <= ECE(production) + eceTolerance;
 * - reliability: error rate(canary) <= error rate(production) + errorRateTolerance, where the error
 *   rate is failed scorings / scoring attempts of the arm (a model that throws is worse than one
 *   that is wrong).
 * Stable promotes; anything else rolls back, with every failed check named.
 */

export interface ArmStats {
  /** Labelled predictions in the arm's window and how many were positive. */
  readonly labelled: number;
  readonly positives: number;
  readonly auroc: number | null;
  readonly calibrationError: number | null;
  /** Scoring attempts and failures routed to the arm. */
  readonly requests: number;
  readonly errors: number;
}

export interface CanaryTolerances {
  readonly minLabelled: number;
  readonly aurocTolerance: number;
  readonly eceTolerance: number;
  readonly errorRateTolerance: number;
}

export type CanaryCheck = 'evidence' | 'auroc' | 'calibration' | 'error_rate';

export interface CanaryVerdict {
  readonly decision: 'promote' | 'rollback';
  readonly checks: Readonly<Record<CanaryCheck, boolean>>;
  /** One sentence per failed check (empty when promoting). */
  readonly reasons: readonly string[];
  readonly production: ArmStats;
  readonly canary: ArmStats;
}

function errorRate(a: ArmStats): number {
  return a.requests === 0 ? 0 : a.errors / a.requests;
}

function hasEvidence(a: ArmStats, min: number): boolean {
  return a.labelled >= min && a.positives > 0 && a.positives < a.labelled && a.auroc !== null;
}

export function validateTolerances(t: CanaryTolerances): CanaryTolerances {
  const bad: string[] = [];
  if (!(Number.isInteger(t.minLabelled) && t.minLabelled >= 0)) bad.push('minLabelled >= 0');
  for (const k of ['aurocTolerance', 'eceTolerance', 'errorRateTolerance'] as const)
    if (!(t[k] >= 0 && t[k] < 1)) bad.push(`0 <= ${k} < 1`);
  if (bad.length > 0) throw new RangeError(`invalid canary tolerances: need ${bad.join(', ')}`);
  return t;
}

export class CanaryJudge {
  readonly #t: CanaryTolerances;

  constructor(tolerances: CanaryTolerances) {
    this.#t = validateTolerances(tolerances);
  }

  get tolerances(): CanaryTolerances {
    return this.#t;
  }

  judge(production: ArmStats, canary: ArmStats): CanaryVerdict {
    const t = this.#t;
    const reasons: string[] = [];
    const evidence = hasEvidence(production, t.minLabelled) && hasEvidence(canary, t.minLabelled);
    if (!evidence)
      reasons.push(
        `too little evidence: need ${t.minLabelled} labelled predictions with both classes per arm ` +
          `(production ${production.labelled}/${production.positives} positive, canary ${canary.labelled}/${canary.positives} positive)`,
      );
    const pa = production.auroc;
    const ca = canary.auroc;
    const auroc = evidence && pa !== null && ca !== null && ca >= pa - t.aurocTolerance;
    if (evidence && !auroc)
      reasons.push(`canary AUROC ${fmt(ca)} < production ${fmt(pa)} - ${t.aurocTolerance}`);
    const pe = production.calibrationError;
    const ce = canary.calibrationError;
    const calibration = evidence && pe !== null && ce !== null && ce <= pe + t.eceTolerance;
    if (evidence && !calibration)
      reasons.push(`canary calibration error ${fmt(ce)} > production ${fmt(pe)} + ${t.eceTolerance}`);
    const er = errorRate(canary);
    const pr = errorRate(production);
    const errors = er <= pr + t.errorRateTolerance;
    if (!errors)
      reasons.push(`canary error rate ${fmt(er)} > production ${fmt(pr)} + ${t.errorRateTolerance}`);
    const checks = { evidence, auroc, calibration, error_rate: errors };
    return {
      decision: evidence && auroc && calibration && errors ? 'promote' : 'rollback',
      checks,
      reasons,
      production,
      canary,
    };
  }
}

function fmt(v: number | null): string {
  return v === null ? 'unknown' : v.toFixed(4);
}
