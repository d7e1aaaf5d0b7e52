/**
 * The canary of a new `staging` model (FR-9.2): it serves a sticky share of patients
 * (params.yaml canary.share, 10 %) for `canary_hours` (24 h) of trial time on the injected clock;
 * the verdict waits `verdictDelayMs` more (the label horizon, so the canary period's predictions
 * are labelled; the share is 0 by then), then CanaryJudge compares the arms: promote (the
 * `production` alias moves to the candidate, the old production is kept as `previous-production`
 * and in the ModelSupervisor for rollback) or roll back (the `staging` alias is removed, the canary
 * stays off).
 *
 * The arms are told apart by the sticky routing itself (`inCanary`), not by version strings (two
 * models trained from one commit can carry the same ONNX model_version).
 */
import type { Logger } from 'pino';
import type { PatientId } from '../actors/patient/protocol.js';
import { PerformanceWindow, type PerformanceWindowOptions } from '../monitoring/performance.js';
import { MlflowRegistryReader } from '../registry/mlflow.js';
import { AepredError } from '../shared/errors.js';
import type { Clock, TimerHandle } from '../supervisors/clock.js';
import type { ModelSupervisor } from '../supervisors/model/actor.js';
import { inCanary } from '../supervisors/model/behavior.js';
import type { ArmStats, CanaryJudge, CanaryVerdict } from './judge.js';
import type { MlflowWriter } from './mlflow.js';
import type { Notifier } from './notify.js';

export type Arm = 'production' | 'canary';

export const PREVIOUS_PRODUCTION = 'previous-production';

export interface CanaryRegistry {
  readonly writer: MlflowWriter;
  readonly name: string;
}

export interface CanaryOptions {
  readonly models: ModelSupervisor;
  readonly clock: Clock;
  readonly judge: CanaryJudge;
  readonly share: number;
  readonly durationMs: number;
  readonly verdictDelayMs: number;
  readonly performance: Partial<PerformanceWindowOptions>;
  readonly notifier: Notifier;
  readonly logger: Logger;
  readonly registry?: CanaryRegistry;
  /**
   * Told once per verdict (after the aliases moved) and awaited before the verdict settles: the
   * DriftSupervisor resets its record against the new production's training reference.
   */
  readonly onVerdict?: (r: CanaryResult) => void | Promise<void>;
}

export interface CanaryResult {
  readonly version: string;
  readonly incident: string;
  readonly startedAt: number;
  readonly decidedAt: number;
  readonly verdict: CanaryVerdict;
}

interface Running {
  readonly version: string;
  readonly incident: string;
  readonly startedAt: number;
  readonly arms: Record<Arm, { window: PerformanceWindow; requests: number; errors: number }>;
  timer: TimerHandle | undefined;
  exposureOver: boolean;
}

export class CanaryController {
  readonly #o: CanaryOptions;
  #run: Running | undefined;
  #settled: Promise<CanaryResult> | undefined;
  #resolve: ((r: CanaryResult) => void) | undefined;
  #deciding: Promise<void> | undefined;
  readonly results: CanaryResult[] = [];

  constructor(o: CanaryOptions) {
    this.#o = o;
  }

  get active(): boolean {
    return this.#run !== undefined;
  }

  /** The verdict of the running canary (resolves when it is decided). */
  get settled(): Promise<CanaryResult> | undefined {
    return this.#settled;
  }

  /** Resolves when a verdict being applied (registry calls) is done. */
  get deciding(): Promise<void> {
    return this.#deciding ?? Promise.resolve();
  }

  /** Which arm a patient is routed to while the canary is exposed. */
  arm(patient: PatientId): Arm {
    const r = this.#run;
    return r && !r.exposureOver && inCanary(patient, this.#o.share) ? 'canary' : 'production';
  }

  /**
   * Loads the staging version (its ONNX bytes from the registry, or the given bytes) and opens the
   * canary. The registry `version` names it in MLflow, the audit trail and the report.
   */
  async start(o: { version: string; incident: string; bytes?: Uint8Array }): Promise<void> {
    if (this.#run)
      throw new AepredError(
        'AEP_CANARY_ACTIVE',
        `a canary (version ${this.#run.version}) is already running`,
        {
          kind: 'usage',
        },
      );
    const bytes = o.bytes ?? (await this.#stagingBytes(o.version));
    await this.#o.models.load('staging', bytes);
    const now = this.#o.clock.now();
    const windowMs = this.#o.durationMs + this.#o.verdictDelayMs + 3_600_000;
    const arm = () => ({
      window: new PerformanceWindow({ ...this.#o.performance, windowMs }),
      requests: 0,
      errors: 0,
    });
    const run: Running = {
      version: o.version,
      incident: o.incident,
      startedAt: now,
      arms: { production: arm(), canary: arm() },
      timer: undefined,
      exposureOver: false,
    };
    this.#run = run;
    this.#settled = new Promise((res) => {
      this.#resolve = res;
    });
    this.#o.models.setCanaryShare(this.#o.share);
    run.timer = this.#o.clock.setTimer(this.#o.durationMs, () => this.#endExposure(run));
    await this.#o.notifier.notify({
      action: 'canary.started',
      incident: o.incident,
      modelVersion: o.version,
      text: `version ${o.version} serves ${(this.#o.share * 100).toFixed(0)} % of patients for ${this.#o.durationMs / 3_600_000} h`,
      payload: { share: this.#o.share, hours: this.#o.durationMs / 3_600_000 },
    });
  }

  async #stagingBytes(version: string): Promise<Uint8Array> {
    const reg = this.#o.registry;
    if (!reg)
      throw new AepredError('AEP_CANARY_NO_MODEL', 'no registry and no bytes for the canary', {
        kind: 'usage',
      });
    const v = await reg.writer.getVersion(reg.name, version);
    return new MlflowRegistryReader(reg.writer.base).runArtifact(v.runId, 'model/model.onnx');
  }

  recordRequest(patient: PatientId, ok: boolean): void {
    const r = this.#run;
    if (!r || r.exposureOver) return;
    const a = r.arms[this.arm(patient)];
    a.requests++;
    if (!ok) a.errors++;
  }

  /** A prediction served at event time `at` (only those made while the canary is exposed count). */
  recordPrediction(patient: PatientId, at: number, probability: number): void {
    const r = this.#run;
    if (!r || r.exposureOver || at < r.startedAt) return;
    r.arms[this.arm(patient)].window.recordPrediction(at, probability, this.#o.clock.now());
  }

  /** A label for a prediction made at `at` by the arm the patient was routed to. */
  recordOutcome(patient: PatientId, at: number, probability: number, label: boolean): void {
    const r = this.#run;
    if (!r || at < r.startedAt || at >= r.startedAt + this.#o.durationMs) return;
    const arm: Arm = inCanary(patient, this.#o.share) ? 'canary' : 'production';
    r.arms[arm].window.recordOutcome(at, probability, label, this.#o.clock.now());
  }

  #endExposure(run: Running): void {
    if (this.#run !== run) return;
    run.exposureOver = true;
    // exposure over: nobody new meets the candidate while its labels come in
    this.#o.models.setCanaryShare(0);
    run.timer = this.#o.clock.setTimer(this.#o.verdictDelayMs, () => {
      this.#deciding = this.#decide(run)
        .catch((e: unknown) =>
          // Started from a timer: nothing awaits it, so a failure is logged rather than left unhandled.
          this.#o.logger.error({ err: (e as Error).message, version: run.version }, 'canary verdict failed'),
        )
        .finally(() => {
          this.#deciding = undefined;
        });
    });
  }

  stats(arm: Arm): ArmStats | undefined {
    const r = this.#run;
    if (!r) return undefined;
    return this.#armStats(r, arm);
  }

  #armStats(r: Running, arm: Arm): ArmStats {
    const a = r.arms[arm];
    const s = a.window.snapshot(this.#o.clock.now());
    return {
      labelled: s.labelled,
      positives: s.positives,
      auroc: s.auroc,
      calibrationError: s.calibrationError,
      requests: a.requests,
      errors: a.errors,
    };
  }

  async #decide(run: Running): Promise<void> {
    if (this.#run !== run) return;
    const verdict = this.#o.judge.judge(this.#armStats(run, 'production'), this.#armStats(run, 'canary'));
    const decidedAt = this.#o.clock.now();
    try {
      if (verdict.decision === 'promote') await this.#promote(run, verdict);
      else await this.#rollback(run, verdict);
    } catch (e) {
      this.#o.logger.error({ err: (e as Error).message, version: run.version }, 'canary verdict not applied');
    }
    const result: CanaryResult = {
      version: run.version,
      incident: run.incident,
      startedAt: run.startedAt,
      decidedAt,
      verdict,
    };
    this.#run = undefined;
    this.results.push(result);
    try {
      await this.#o.onVerdict?.(result);
    } catch (e) {
      this.#o.logger.error({ err: (e as Error).message, version: run.version }, 'verdict listener failed');
    }
    this.#resolve?.(result);
  }

  async #promote(run: Running, verdict: CanaryVerdict): Promise<void> {
    this.#o.models.promoteStaging();
    this.#o.models.setCanaryShare(0);
    const reg = this.#o.registry;
    if (reg) {
      const old = await reg.writer.versionByAlias(reg.name, 'production');
      if (old && old.version !== run.version)
        await reg.writer.setAlias(reg.name, PREVIOUS_PRODUCTION, old.version);
      await reg.writer.setAlias(reg.name, 'production', run.version);
      await reg.writer.deleteAlias(reg.name, 'staging');
      await reg.writer.setVersionTag(reg.name, run.version, 'canary', 'promoted');
    }
    await this.#o.notifier.notify({
      action: 'canary.promoted',
      incident: run.incident,
      modelVersion: run.version,
      text: `version ${run.version} promoted to production (canary stable: ${describe(verdict)})`,
      payload: { checks: verdict.checks, production: verdict.production, canary: verdict.canary },
    });
  }

  async #rollback(run: Running, verdict: CanaryVerdict): Promise<void> {
    this.#o.models.setCanaryShare(0);
    const reg = this.#o.registry;
    if (reg) {
      await reg.writer.deleteAlias(reg.name, 'staging');
      await reg.writer.setVersionTag(reg.name, run.version, 'canary', 'rolled_back');
    }
    await this.#o.notifier.notify({
      action: 'canary.rolled_back',
      incident: run.incident,
      modelVersion: run.version,
      text: `version ${run.version} rolled back: ${verdict.reasons.join('; ')}`,
      payload: {
        checks: verdict.checks,
        reasons: verdict.reasons,
        production: verdict.production,
        canary: verdict.canary,
      },
    });
  }

  /**
   * Rolls production back to the version it replaced: the ModelSupervisor swaps at once (scorings in
   * flight finish on the session they started with), then the registry alias follows. Returns the
   * milliseconds until the swap took effect.
   */
  async rollbackProduction(
    incident: string,
    now: () => number,
  ): Promise<{ swapMs: number; version: string | null }> {
    const t0 = now();
    this.#o.models.rollback();
    const swapMs = now() - t0;
    let version: string | null = null;
    const reg = this.#o.registry;
    if (reg) {
      const prev = await reg.writer.versionByAlias(reg.name, PREVIOUS_PRODUCTION);
      if (prev) {
        await reg.writer.setAlias(reg.name, 'production', prev.version);
        await reg.writer.deleteAlias(reg.name, PREVIOUS_PRODUCTION);
        version = prev.version;
      }
    }
    await this.#o.notifier.notify({
      action: 'model.rolled_back',
      incident,
      text: `production rolled back${version ? ` to version ${version}` : ''} in ${swapMs.toFixed(2)} ms`,
      payload: { swap_ms: swapMs },
      ...(version ? { modelVersion: version } : {}),
    });
    return { swapMs, version };
  }

  close(): void {
    if (this.#run?.timer) this.#o.clock.clearTimer(this.#run.timer);
    this.#run = undefined;
  }
}

function describe(v: CanaryVerdict): string {
  const f = (x: number | null) => (x === null ? '?' : x.toFixed(3));
  return `AUROC ${f(v.canary.auroc)} vs ${f(v.production.auroc)}, ECE ${f(v.canary.calibrationError)} vs ${f(v.production.calibrationError)}`;
}
