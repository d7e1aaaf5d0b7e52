/**
 * Monitoring of the serving model inside `aepred serve` (issue 9, FR-8.1/8.2): every production
 * scoring of the patient actors goes to a DriftSupervisor (performance window, trial-wide and
 * per-site drift windows, decay checks every monitoring.check_interval_hours), and the
 * adverse-event reports the actors receive label those scorings late (OutcomeJoiner). The gauges
 * land in the service's /metrics, so Prometheus, the alert rules and the Grafana dashboards see the
 * live model, not only the closed-loop replay.
 *
 * Time is the data's: the supervisor runs on a SimulatedClock moved to the latest event time seen
 * (the watermark). A live trial's watermark is wall time give or take the feed's lag; a trial
 * replayed from Kafka (make demo) is monitored at its own pace, with checks every 6 h of its time.
 * Canary (staging) scorings are the canary controller's business and are not counted here.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Params } from '../config/params.js';
import type { Observation } from '../features/normalize.js';
import { SimulatedClock } from '../supervisors/clock.js';
import { DriftSupervisor } from '../supervisors/drift/runtime.js';
import { decayRuleParams, driftWindowOptions, performanceWindowOptions } from './config.js';
import { featureVector, type TrainingReference } from './drift.js';
import { registerMonitoringMetrics } from './metrics.js';
import { OutcomeJoiner } from './outcomes.js';
import type { DecayDecision } from './rules.js';

const HOUR = 3_600_000;
/** The watermark moves the joiner's negatives forward in steps of this much data time. */
const OUTCOME_STEP_MS = 5 * 60_000;

export interface LiveMonitorOptions {
  readonly params: Params;
  /** Feature names in the model's input order (the feature set's). */
  readonly names: readonly string[];
  /** The serving model's drift reference (drift_reference.json); none: performance only. */
  readonly reference?: TrainingReference;
  /** The serving model's held-out AUROC (relative decay rule); null: the absolute threshold. */
  readonly baselineAuroc?: number | null;
  /** The production version now (scorings of any other version are not counted). */
  readonly production: () => string | undefined;
  /** A patient's site (enrollment), for the per-site drift windows. */
  readonly siteOf: (patient: string) => string | undefined;
  readonly registry: Registry;
  readonly logger: Logger;
  /** What to do with a retraining decision (the TrainingSupervisor when wired; else logged only). */
  readonly onDecision?: (d: DecayDecision) => void;
  /**
   * True while the feed is catching up (the service's `!feedCaughtUp`): topics are consumed at
   * different paces then, the vitals run ahead of the adverse-event reports, and counting a
   * prediction negative by the vitals' time would miss reports not consumed yet. Negatives wait
   * until the feed has caught up; then the due ones are counted and a check runs at once.
   */
  readonly labelsHeld?: () => boolean;
}

/** What the monitor needs of a scoring (the actors' `patient.risk.scored` event). */
export interface Scored {
  readonly patientId: string;
  readonly t: number;
  readonly probability: number;
  readonly modelVersion: string;
  readonly features: Float32Array;
}

export class LiveMonitor {
  readonly #o: LiveMonitorOptions;
  readonly #log: Logger;
  readonly #metrics;
  readonly outcomes: OutcomeJoiner;
  #clock: SimulatedClock | undefined;
  #drift: DriftSupervisor | undefined;
  #lastOutcomeStep = Number.NEGATIVE_INFINITY;
  #held = false;
  /** Scorings of production counted (drift and performance). */
  observed = 0;

  constructor(o: LiveMonitorOptions) {
    this.#o = o;
    this.#log = o.logger.child({ component: 'live-monitor' });
    this.#metrics = registerMonitoringMetrics(o.registry);
    const p = o.params;
    this.outcomes = new OutcomeJoiner({
      horizonMs: p.labels.horizon_hours * HOUR,
      graceMs: p.monitoring.label_grace_hours * HOUR,
      onOutcome: (at, prob, label) => this.#drift?.observeOutcome(at, prob, label),
    });
    if (o.reference && o.reference.features.length > 0) {
      const known = new Set(o.names);
      const unknown = o.reference.features.map((f) => f.name).filter((n) => !known.has(n));
      if (unknown.length > 0)
        throw new RangeError(
          `drift reference names features the model does not have: ${unknown.slice(0, 5).join(', ')}`,
        );
    }
  }

  /** The DriftSupervisor (created at the first scoring: its clock starts at that data time). */
  get drift(): DriftSupervisor | undefined {
    return this.#drift;
  }

  get now(): number | undefined {
    return this.#clock?.now();
  }

  #start(at: number): DriftSupervisor {
    const p = this.#o.params;
    const start = Math.floor(at / HOUR) * HOUR;
    this.#clock = new SimulatedClock(start);
    this.#drift = new DriftSupervisor({
      clock: this.#clock,
      rules: { ...decayRuleParams(p), aurocMaxDrop: p.monitoring.auroc_max_drop ?? null },
      performance: performanceWindowOptions(p),
      drift: driftWindowOptions(p),
      segmentBucketMs: p.monitoring.segment_bucket_minutes * 60_000,
      ...(this.#o.reference ? { reference: this.#o.reference } : {}),
      baselineAuroc: this.#o.baselineAuroc ?? null,
      metrics: this.#metrics,
      logger: this.#o.logger,
      onDecision: (d) => {
        this.#log.warn(
          { decision: d.type, reason: d.reason, at: new Date(d.at).toISOString() },
          'live monitoring decision',
        );
        this.#o.onDecision?.(d);
      },
    });
    this.#drift.start();
    this.#log.info(
      {
        from: new Date(start).toISOString(),
        drift: this.#o.reference ? 'on' : 'off (no drift reference)',
        sites: this.#drift.segments.length,
      },
      'live monitoring started',
    );
    return this.#drift;
  }

  /** Moves data time to `at` if it is later: due checks run, due negatives are counted. */
  #advance(at: number): void {
    const clock = this.#clock;
    if (!clock) return;
    if (at > clock.now()) clock.advance(at - clock.now());
    if (this.#o.labelsHeld?.() === true) {
      this.#held = true;
      return;
    }
    const now = clock.now();
    if (this.#held) {
      // caught up: every report is in; count what is due and check now (the scheduled checks of
      // the catch-up saw no negatives)
      this.#held = false;
      this.#lastOutcomeStep = now;
      this.outcomes.advance(now);
      this.#drift?.check();
      this.#log.info({ at: new Date(now).toISOString() }, 'feed caught up: labels released, checked');
    } else if (now - this.#lastOutcomeStep >= OUTCOME_STEP_MS) {
      this.#lastOutcomeStep = now;
      this.outcomes.advance(now);
    }
  }

  /** A scoring by the patient actors. */
  scored(e: Scored): void {
    if (e.modelVersion !== this.#o.production()) return;
    const drift = this.#drift ?? this.#start(e.t);
    this.#advance(e.t);
    drift.observePrediction(
      e.t,
      e.probability,
      featureVector(this.#o.names, e.features),
      this.#o.siteOf(e.patientId),
    );
    this.outcomes.prediction(e.patientId, e.t, e.probability);
    this.observed++;
  }

  /** Observations delivered to a patient's actor: adverse events label, every time moves the watermark. */
  delivered(patient: string, observations: readonly Observation[]): void {
    let latest = Number.NEGATIVE_INFINITY;
    for (const obs of observations) {
      if (obs.kind === 'adverse_event') this.outcomes.adverseEvent(patient, obs.time);
      latest = Math.max(latest, obs.kind === 'adverse_event' ? obs.report : obs.time);
    }
    if (Number.isFinite(latest)) this.#advance(latest);
  }

  /**
   * The production model changed (promotion, rollback): the windows restart. `reference` is the new
   * model's; null when it is not known (drift windows off until then; performance goes on).
   */
  modelChanged(reference: TrainingReference | null, baselineAuroc?: number | null): void {
    this.#log.info(
      { drift: reference === null ? 'off (no reference for this model)' : 'on' },
      'model changed',
    );
    this.#drift?.modelChanged(reference, baselineAuroc ?? null);
  }

  stop(): void {
    this.#drift?.stop();
  }
}
