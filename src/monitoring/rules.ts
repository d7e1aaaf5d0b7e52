/**
 * Decay rules (FR-9.1) as pure functions: the DriftSupervisor calls `evaluateDecay` on its injected
 * clock every check interval (6 h of trial time) with the latest performance and drift snapshots,
 * and `requestRetrain` for a manual `/retrain` or a critical alert from Alertmanager. Each call
 * returns the next state plus what to do; nothing here reads a clock or has an effect.
 *
 * Rules:
 * - performance: rolling AUROC < the AUROC threshold on `consecutiveChecks` consecutive checks. The
 *   threshold is `aurocThreshold` (absolute), or, with `aurocMaxDrop` set and the serving model's
 *   baseline known (its held-out test AUROC recorded at training/registration), `baseline -
 *   aurocMaxDrop`: decay relative to what the model was validated at, not to a fixed number that
 *   a weaker (or stronger) model sits below (above) from its first day (`aurocThresholdFor`);
 * - drift: more than `maxDriftedFeatures` features with KS > ksThreshold in the whole population, or
 *   more than `segmentMaxDriftedFeatures` with KS > `segmentKsThreshold` within any one segment
 *   (site) against that segment's own reference; features matching `driftExclude` (time-on-study
 *   features: they move as patients accrue follow-up, not with the data) are not counted;
 * - manual: always (an operator asked), but it still starts the cooldown.
 *
 * One incident, one retraining: an incident opens when its condition starts to hold and a retraining
 * is requested for it; while it stays open (until its signal recovers, or the model changes), the
 * same condition, a repeated alert or the other rule firing as well request nothing. After any
 * request, automatic requests wait `cooldownMs`; a condition that begins during the cooldown stays
 * pending (not opened), so it is acted on at the first check after the cooldown if it still holds.
 */

export type RetrainReason = 'performance' | 'drift' | 'manual';
type AutoReason = Exclude<RetrainReason, 'manual'>;

export interface DecayRuleParams {
  readonly checkIntervalMs: number;
  readonly aurocThreshold: number;
  /**
   * Relative decay: when set and the observation carries the serving model's baseline AUROC, the
   * performance threshold is `baseline - aurocMaxDrop` instead of `aurocThreshold`.
   */
  readonly aurocMaxDrop?: number | null;
  readonly consecutiveChecks: number;
  /** Labelled predictions needed before a check's AUROC counts at all. */
  readonly minLabelled: number;
  /**
   * Positive labels needed too: an AUROC on a handful of positives is noise, however many
   * negatives surround them (absent: no minimum).
   */
  readonly minPositives?: number;
  readonly ksThreshold: number;
  /** Drift when strictly more features than this exceed ksThreshold. */
  readonly maxDriftedFeatures: number;
  /** Feature-name patterns (`*` any run, `?` one character) the drift rule does not count. */
  readonly driftExclude?: readonly string[];
  /** Within one segment (site): a feature drifts above this ... */
  readonly segmentKsThreshold?: number;
  /** ... and the segment drifts when strictly more features than this do. */
  readonly segmentMaxDriftedFeatures?: number;
  readonly cooldownMs: number;
}

export const DEFAULT_DECAY_PARAMS: DecayRuleParams = {
  checkIntervalMs: 6 * 3_600_000,
  aurocThreshold: 0.8,
  consecutiveChecks: 2,
  minLabelled: 100,
  ksThreshold: 0.2,
  maxDriftedFeatures: 5,
  cooldownMs: 48 * 3_600_000,
};

export interface OpenIncident {
  readonly reason: AutoReason;
  readonly id: string;
  readonly openedAt: number;
}

export interface DecayState {
  readonly lowAurocStreak: number;
  readonly incidents: readonly OpenIncident[];
  readonly lastRequest: { readonly at: number; readonly reason: RetrainReason } | null;
  readonly lastCheckAt: number | null;
}

export const INITIAL_DECAY_STATE: DecayState = {
  lowAurocStreak: 0,
  incidents: [],
  lastRequest: null,
  lastCheckAt: null,
};

/** What a check sees: the performance and drift snapshots reduced to what the rules read. */
export interface DecayObservation {
  readonly at: number;
  /** Rolling labelled AUROC, null when a class is missing. */
  readonly auroc: number | null;
  readonly labelled: number;
  /** Positive labels among them (absent: unknown, not checked against minPositives). */
  readonly positives?: number;
  /** The serving model's held-out AUROC at registration (relative decay rule); null/absent: unknown. */
  readonly baselineAuroc?: number | null;
  /** KS statistic per feature (null when the feature had no values in the window). */
  readonly ks: ReadonlyArray<FeatureKs>;
  /** The same within each segment (site) that has a reference of its own. */
  readonly segments?: ReadonlyArray<{ readonly segment: string; readonly ks: ReadonlyArray<FeatureKs> }>;
}

export interface FeatureKs {
  readonly feature: string;
  readonly ks: number | null;
}

export interface SegmentDrift {
  readonly segment: string;
  readonly drifted: readonly string[];
}

export interface DecayFindings {
  /** The AUROC counted (null when missing, or on fewer than minLabelled labels or minPositives positives). */
  readonly auroc: number | null;
  /** The threshold the AUROC was held against (absolute, or baseline - aurocMaxDrop). */
  readonly aurocThreshold: number;
  readonly lowAurocStreak: number;
  readonly drifted: readonly string[];
  /** Every segment checked, with the counted features that drifted in it. */
  readonly segments: readonly SegmentDrift[];
  /** The segments with more drifted features than segmentMaxDriftedFeatures. */
  readonly driftedSegments: readonly string[];
  readonly performance: boolean;
  readonly drift: boolean;
}

export type DecayDecision =
  | {
      readonly type: 'retrain.requested';
      readonly reason: RetrainReason;
      readonly at: number;
      /** Stable id of the incident (or manual request) the retraining answers; dedup key downstream. */
      readonly incident: string;
      /** Every rule that held when it was requested (performance wins the reason over drift). */
      readonly rules: readonly RetrainReason[];
    }
  | {
      readonly type: 'retrain.suppressed';
      readonly reason: RetrainReason;
      readonly at: number;
      readonly why: 'incident-open' | 'cooldown';
      /** For a cooldown: when automatic requests are allowed again. */
      readonly until?: number;
    };

export interface DecayStep {
  readonly state: DecayState;
  readonly findings: DecayFindings;
  readonly decisions: readonly DecayDecision[];
}

export function validateDecayParams(p: DecayRuleParams): DecayRuleParams {
  const bad: string[] = [];
  if (!(p.checkIntervalMs > 0)) bad.push('checkIntervalMs > 0');
  if (!(p.aurocThreshold > 0 && p.aurocThreshold < 1)) bad.push('0 < aurocThreshold < 1');
  const drop = p.aurocMaxDrop;
  if (!(drop === undefined || drop === null || (drop > 0 && drop < 1)))
    bad.push('0 < aurocMaxDrop < 1 (or null)');
  if (!(Number.isInteger(p.consecutiveChecks) && p.consecutiveChecks >= 1))
    bad.push('consecutiveChecks >= 1');
  if (!(Number.isInteger(p.minLabelled) && p.minLabelled >= 0)) bad.push('minLabelled >= 0');
  const mp = p.minPositives;
  if (!(mp === undefined || (Number.isInteger(mp) && mp >= 0))) bad.push('minPositives >= 0');
  if (!(p.ksThreshold > 0 && p.ksThreshold < 1)) bad.push('0 < ksThreshold < 1');
  if (!(Number.isInteger(p.maxDriftedFeatures) && p.maxDriftedFeatures >= 0))
    bad.push('maxDriftedFeatures >= 0');
  if (!(p.cooldownMs >= 0)) bad.push('cooldownMs >= 0');
  const sk = p.segmentKsThreshold;
  if (!(sk === undefined || (sk > 0 && sk < 1))) bad.push('0 < segmentKsThreshold < 1');
  const sm = p.segmentMaxDriftedFeatures;
  if (!(sm === undefined || (Number.isInteger(sm) && sm >= 0))) bad.push('segmentMaxDriftedFeatures >= 0');
  for (const pat of p.driftExclude ?? []) if (pat.length === 0) bad.push('driftExclude patterns non-empty');
  if (bad.length > 0) throw new RangeError(`invalid decay rule params: need ${bad.join(', ')}`);
  return p;
}

/** When the next check is due (the first one an interval after start). */
export function nextCheckAt(state: DecayState, start: number, p: DecayRuleParams): number {
  return (state.lastCheckAt ?? start) + p.checkIntervalMs;
}

function cooldownUntil(state: DecayState, p: DecayRuleParams): number | null {
  return state.lastRequest ? state.lastRequest.at + p.cooldownMs : null;
}

function incidentId(reason: RetrainReason, at: number): string {
  return `${reason}-${new Date(at).toISOString()}`;
}

/**
 * The AUROC below which the performance rule counts a check as low: `baseline - aurocMaxDrop` when
 * both are known (relative decay), else the absolute `aurocThreshold`.
 */
export function aurocThresholdFor(p: DecayRuleParams, baseline: number | null | undefined): number {
  const drop = p.aurocMaxDrop;
  if (drop === undefined || drop === null || baseline === undefined || baseline === null)
    return p.aurocThreshold;
  if (!(baseline > 0 && baseline <= 1))
    throw new RangeError(`baseline AUROC must be in (0, 1], got ${baseline}`);
  return baseline - drop;
}

/** A glob (`*`, `?`) over a whole feature name, as Python's fnmatch.fnmatchcase. */
export function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** A predicate: does the drift rule count this feature (it matches none of the patterns)? */
export function countedFeature(exclude: readonly string[] = []): (name: string) => boolean {
  const res = exclude.map(globToRegExp);
  return (name) => !res.some((r) => r.test(name));
}

function driftedOf(ks: ReadonlyArray<FeatureKs>, threshold: number, counted: (n: string) => boolean) {
  return ks.filter((f) => f.ks !== null && f.ks > threshold && counted(f.feature)).map((f) => f.feature);
}

/** One scheduled check. */
export function evaluateDecay(state: DecayState, obs: DecayObservation, p: DecayRuleParams): DecayStep {
  const enough =
    obs.labelled >= p.minLabelled && (obs.positives ?? Number.POSITIVE_INFINITY) >= (p.minPositives ?? 0);
  const auroc = obs.auroc !== null && enough ? obs.auroc : null;
  const threshold = aurocThresholdFor(p, obs.baselineAuroc);
  // An unknown AUROC (too few labels) neither extends nor breaks the streak.
  const lowAurocStreak =
    auroc === null ? state.lowAurocStreak : auroc < threshold ? state.lowAurocStreak + 1 : 0;
  const counted = countedFeature(p.driftExclude);
  const drifted = driftedOf(obs.ks, p.ksThreshold, counted);
  const segKs = p.segmentKsThreshold ?? p.ksThreshold;
  const segMax = p.segmentMaxDriftedFeatures ?? p.maxDriftedFeatures;
  const segments = (obs.segments ?? []).map((s) => ({
    segment: s.segment,
    drifted: driftedOf(s.ks, segKs, counted),
  }));
  const driftedSegments = segments.filter((s) => s.drifted.length > segMax).map((s) => s.segment);
  const holds: Record<AutoReason, boolean> = {
    performance: lowAurocStreak >= p.consecutiveChecks,
    drift: drifted.length > p.maxDriftedFeatures || driftedSegments.length > 0,
  };
  // Incidents close when their signal recovers: AUROC known and back at or above the threshold
  // (not merely a streak shorter than needed), drift count back at or below the limit.
  const recovered: Record<AutoReason, boolean> = {
    performance: auroc !== null && auroc >= threshold,
    drift: !holds.drift,
  };
  let incidents = state.incidents.filter((i) => !recovered[i.reason]);
  const fresh = (['performance', 'drift'] as const).filter(
    (r) => holds[r] && !incidents.some((i) => i.reason === r),
  );
  const findings: DecayFindings = {
    auroc,
    aurocThreshold: threshold,
    lowAurocStreak,
    drifted,
    segments,
    driftedSegments,
    performance: holds.performance,
    drift: holds.drift,
  };
  let next: DecayState = { ...state, lowAurocStreak, incidents, lastCheckAt: obs.at };
  const first = fresh[0];
  if (first === undefined) return { state: next, findings, decisions: [] };

  const until = cooldownUntil(state, p);
  if (until !== null && obs.at < until) {
    // Left pending (not opened): acted on at the first check after the cooldown if it still holds.
    const decisions = fresh.map(
      (reason): DecayDecision => ({ type: 'retrain.suppressed', reason, at: obs.at, why: 'cooldown', until }),
    );
    return { state: next, findings, decisions };
  }
  const id = incidentId(first, obs.at);
  incidents = [...incidents, ...fresh.map((reason) => ({ reason, id, openedAt: obs.at }))];
  next = { ...next, incidents, lastRequest: { at: obs.at, reason: first } };
  const rules = (['performance', 'drift'] as const).filter((r) => holds[r]);
  return {
    state: next,
    findings,
    decisions: [{ type: 'retrain.requested', reason: first, at: obs.at, incident: id, rules }],
  };
}

export interface RetrainRequest {
  readonly at: number;
  readonly reason: RetrainReason;
  /** manual: `/retrain`; alert: Alertmanager's webhook (e.g. the critical AUROC alert). */
  readonly source: 'manual' | 'alert';
}

/**
 * An external request. Manual requests always go through (and start the cooldown); an alert's
 * request is one more signal for its incident: deduplicated against an open incident of the same
 * reason and held back by the cooldown.
 */
export function requestRetrain(
  state: DecayState,
  req: RetrainRequest,
  p: DecayRuleParams,
): { state: DecayState; decision: DecayDecision } {
  if (req.reason === 'manual' || req.source === 'manual') {
    const id = incidentId('manual', req.at);
    return {
      state: { ...state, lastRequest: { at: req.at, reason: req.reason } },
      decision: {
        type: 'retrain.requested',
        reason: req.reason,
        at: req.at,
        incident: id,
        rules: [req.reason],
      },
    };
  }
  const reason = req.reason;
  if (state.incidents.some((i) => i.reason === reason)) {
    return { state, decision: { type: 'retrain.suppressed', reason, at: req.at, why: 'incident-open' } };
  }
  const until = cooldownUntil(state, p);
  if (until !== null && req.at < until) {
    return { state, decision: { type: 'retrain.suppressed', reason, at: req.at, why: 'cooldown', until } };
  }
  const id = incidentId(reason, req.at);
  return {
    state: {
      ...state,
      incidents: [...state.incidents, { reason, id, openedAt: req.at }],
      lastRequest: { at: req.at, reason },
    },
    decision: { type: 'retrain.requested', reason, at: req.at, incident: id, rules: [reason] },
  };
}

/**
 * A new production model (promotion or rollback): its predictions start a new record, so the AUROC
 * streak restarts and open incidents close. The cooldown stays: it counts from the last request.
 */
export function onModelChanged(state: DecayState): DecayState {
  return { ...state, lowAurocStreak: 0, incidents: [] };
}
