/**
 * DriftSupervisor (issue 9): the monitoring windows of the serving model and the decay checks on
 * the injected clock. Every check interval it snapshots the performance and drift windows, runs the
 * pure rules (src/monitoring/rules.ts), publishes the gauges and hands each decision to
 * `onDecision` (the TrainingSupervisor). `/retrain` and Alertmanager's webhook come in through
 * `request`. After a promotion or rollback, `modelChanged` restarts the record against the new
 * model's training reference.
 */
import type { Logger } from 'pino';
import {
  DriftWindow,
  type DriftWindowOptions,
  type FeatureVector,
  type TrainingReference,
} from '../../monitoring/drift.js';
import type { MonitoringMetrics } from '../../monitoring/metrics.js';
import { PerformanceWindow, type PerformanceWindowOptions } from '../../monitoring/performance.js';
import {
  type DecayDecision,
  type DecayFindings,
  type DecayRuleParams,
  type DecayState,
  evaluateDecay,
  INITIAL_DECAY_STATE,
  nextCheckAt,
  onModelChanged,
  type RetrainRequest,
  requestRetrain,
} from '../../monitoring/rules.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { DriftEvent } from './protocol.js';

export interface DriftSupervisorOptions {
  readonly clock: Clock;
  readonly rules: DecayRuleParams;
  readonly performance: Partial<PerformanceWindowOptions>;
  readonly drift: Partial<DriftWindowOptions>;
  /** The serving model's training reference (drift_reference.json); none: no drift rule. */
  readonly reference?: TrainingReference;
  /**
   * Bucket width of the per-segment (site) drift windows (monitoring.segment_bucket_minutes);
   * default the drift window's bucket. Memory per site: features x (bins + 2) x 8 B x (window /
   * bucket + 1), about 3 MB for 150 features of 100 bins in 1 h buckets of a 24 h window.
   */
  readonly segmentBucketMs?: number;
  /**
   * The serving model's held-out AUROC recorded at training/registration (its MLflow run's
   * `test_auroc`): the baseline of the relative decay rule (rules.aurocMaxDrop). None: the absolute
   * threshold applies.
   */
  readonly baselineAuroc?: number | null;
  readonly metrics?: MonitoringMetrics;
  /**
   * Trial time after start (or a model change) before the drift window's KS counts: a window that
   * has seen an hour of data compares a few dozen values with the reference, and the KS of so few
   * is noise (about 0.2 at 40 values). Default: the drift window's length, so the rule reads full
   * windows only.
   */
  readonly driftWarmupMs?: number;
  readonly logger: Logger;
  readonly onDecision: (d: DecayDecision) => void;
  readonly emit?: (e: DriftEvent) => void;
}

export interface CheckRecord {
  readonly at: number;
  readonly findings: DecayFindings;
  readonly decisions: readonly DecayDecision[];
}

export class DriftSupervisor {
  readonly #o: DriftSupervisorOptions;
  readonly #log: Logger;
  #state: DecayState = INITIAL_DECAY_STATE;
  #performance: PerformanceWindow;
  #drift: DriftWindow | undefined;
  #segments = new Map<string, DriftWindow>();
  #timer: TimerHandle | undefined;
  #start = 0;
  #driftSince = 0;
  #baseline: number | null;
  /** Every check, in order (tests and the demo read the trail). */
  readonly checks: CheckRecord[] = [];

  constructor(o: DriftSupervisorOptions) {
    this.#o = o;
    this.#log = o.logger.child({ supervisor: 'drift' });
    this.#performance = new PerformanceWindow(o.performance);
    this.#drift = o.reference ? new DriftWindow(o.reference, o.drift) : undefined;
    this.#segments = this.#segmentWindows(o.reference);
    this.#baseline = o.baselineAuroc ?? null;
  }

  #segmentWindows(ref: TrainingReference | undefined): Map<string, DriftWindow> {
    const out = new Map<string, DriftWindow>();
    if (!ref?.segments) return out;
    const windowMs = this.#o.drift.windowMs ?? 24 * 3_600_000;
    const bucketMs = Math.min(windowMs, this.#o.segmentBucketMs ?? this.#o.drift.bucketMs ?? 3_600_000);
    const ksThreshold = this.#o.rules.segmentKsThreshold ?? this.#o.rules.ksThreshold;
    for (const g of ref.segments.groups)
      out.set(
        g.key,
        new DriftWindow(
          { schema_version: 1, feature_set_hash: ref.feature_set_hash, rows: g.rows, features: g.features },
          { ...this.#o.drift, bucketMs, ksThreshold },
        ),
      );
    return out;
  }

  /** Segments (sites) with a reference of their own: their drift is checked separately. */
  get segments(): readonly string[] {
    return [...this.#segments.keys()];
  }

  /** The serving model's baseline AUROC (relative decay rule), null when unknown. */
  get baselineAuroc(): number | null {
    return this.#baseline;
  }

  get state(): DecayState {
    return this.#state;
  }

  start(): void {
    this.#start = this.#o.clock.now();
    this.#driftSince = this.#start;
    this.#schedule();
  }

  stop(): void {
    if (this.#timer) this.#o.clock.clearTimer(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    const due = nextCheckAt(this.#state, this.#start, this.#o.rules);
    this.#timer = this.#o.clock.setTimer(Math.max(0, due - this.#o.clock.now()), () => {
      this.check();
      this.#schedule();
    });
  }

  /**
   * A prediction of the serving model at event time `at` (with the vector it saw, for drift, and
   * the patient's segment: its site, for the per-site drift windows).
   */
  observePrediction(at: number, probability: number, vector?: FeatureVector, segment?: string): void {
    const now = this.#o.clock.now();
    this.#performance.recordPrediction(at, probability, now);
    if (!vector) return;
    this.#drift?.observe(at, vector, now);
    if (segment !== undefined) this.#segments.get(segment)?.observe(at, vector, now);
  }

  /** A label arriving late for the prediction made at `at`. */
  observeOutcome(at: number, probability: number, label: boolean): void {
    this.#performance.recordOutcome(at, probability, label, this.#o.clock.now());
  }

  #evaluate(at: number) {
    const perf = this.#performance.snapshot(at);
    const drift = this.#drift?.snapshot(at);
    const warm = at - this.#driftSince >= (this.#o.driftWarmupMs ?? this.#o.drift.windowMs ?? 0);
    const step = evaluateDecay(
      this.#state,
      {
        at,
        auroc: perf.auroc,
        labelled: perf.labelled,
        positives: perf.positives,
        baselineAuroc: this.#baseline,
        ks: warm ? (drift?.features.map((f) => ({ feature: f.feature, ks: f.ks })) ?? []) : [],
        segments: warm
          ? [...this.#segments].map(([segment, w]) => ({
              segment,
              ks: w.snapshot(at).features.map((f) => ({ feature: f.feature, ks: f.ks })),
            }))
          : [],
      },
      this.#o.rules,
    );
    return { perf, drift, step };
  }

  /**
   * What a check now would decide, without recording it or changing the incident state: the
   * closed-loop scenario probes every trial hour to find when a rule's condition first holds, and
   * so measures the latency of the 6-hourly checks.
   */
  probe(): DecayFindings & { readonly wouldRequest: boolean } {
    const { step } = this.#evaluate(this.#o.clock.now());
    return {
      ...step.findings,
      wouldRequest: step.decisions.some((d) => d.type === 'retrain.requested'),
    };
  }

  /** One scheduled check (public so that a caller can also check on demand). */
  check(): CheckRecord {
    const at = this.#o.clock.now();
    const { perf, drift, step } = this.#evaluate(at);
    this.#state = step.state;
    const m = this.#o.metrics;
    if (m) {
      m.publishPerformance(perf);
      if (drift) m.publishDrift(drift);
      m.publishCheck(at, step.findings, step.decisions);
    }
    const rec: CheckRecord = { at, findings: step.findings, decisions: step.decisions };
    this.checks.push(rec);
    this.#o.emit?.({ type: 'drift.check.completed', at });
    for (const d of step.decisions) this.#deliver(d);
    return rec;
  }

  /** `/retrain` (manual) or Alertmanager's webhook (alert); deduplicated by the rules. */
  request(req: RetrainRequest): DecayDecision {
    const { state, decision } = requestRetrain(this.#state, req, this.#o.rules);
    this.#state = state;
    this.#o.metrics?.publishDecision(decision);
    this.#deliver(decision);
    return decision;
  }

  #deliver(d: DecayDecision): void {
    this.#log.info(
      { decision: d.type, reason: d.reason, at: new Date(d.at).toISOString() },
      'decay decision',
    );
    if (d.type === 'retrain.requested')
      this.#o.emit?.({
        type: 'drift.detected',
        reason: d.reason === 'manual' ? 'performance' : d.reason,
        at: d.at,
        detail: `${d.incident} (${d.rules.join(', ')})`,
      });
    this.#o.onDecision(d);
  }

  /**
   * A new production model: fresh windows (against its reference), its baseline AUROC (absent:
   * none, the absolute threshold applies until one is given) and the incidents closed.
   */
  modelChanged(reference?: TrainingReference | null, baselineAuroc?: number | null): void {
    this.#baseline = baselineAuroc ?? null;
    this.#state = onModelChanged(this.#state);
    this.#driftSince = this.#o.clock.now();
    this.#performance = new PerformanceWindow(this.#o.performance);
    // null: the new model's reference is not known (no drift windows until it is)
    const ref = reference === null ? undefined : (reference ?? this.#o.reference);
    this.#drift = ref ? new DriftWindow(ref, this.#o.drift) : undefined;
    this.#segments = this.#segmentWindows(ref);
  }
}
