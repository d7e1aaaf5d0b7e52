import type { AlertsParams } from '../../config/params.js';
import type { FeaturePlan, PatientContext, PatientFeaturesState } from '../../features/engine.js';
import { PatientFeatures } from '../../features/engine.js';
import { applyObservation, arrivalOf, type Observation } from '../../features/normalize.js';
import type { ScoreResult } from '../../scoring/session.js';
import { ALERT_START, type AlertMachine, type AlertState, alertStepState } from './alerts.js';
import type {
  AlertChanged,
  AlertLevel,
  EventPosition,
  ModelVersion,
  PatientId,
  RiskFactor,
  RiskScored,
} from './protocol.js';

/**
 * What a patient actor knows, and the pure steps over it: apply an event (idempotent by Kafka
 * position), decide when to score (event time, so replays score at the same instants), turn a model
 * output into a scoring and alert changes. No I/O, no clock: actor.ts does the effects.
 */
export interface PatientState {
  readonly id: PatientId;
  readonly features: PatientFeatures;
  /** Alert level and cooldown times (the statechart's snapshot is resolved from it per step). */
  alert: AlertState;
  /** Highest applied offset per "topic:partition". */
  applied: Map<string, bigint>;
  /** Event time of the last throttled scoring (NaN before the first). */
  lastScoredAt: number;
  last: null | { t: number; probability: number; modelVersion: ModelVersion };
  /** Kafka partition the patient's events come from (placement). */
  partition: number;
}

export interface BehaviorConfig {
  plan: FeaturePlan;
  machine: AlertMachine;
  alerts: AlertsParams;
  throttleMs: number;
}

export function initialState(cfg: BehaviorConfig, id: PatientId, context: PatientContext): PatientState {
  return {
    id,
    features: new PatientFeatures(cfg.plan, context),
    alert: ALERT_START,
    applied: new Map(),
    lastScoredAt: Number.NaN,
    last: null,
    partition: -1,
  };
}

const posKey = (p: EventPosition): string => `${p.topic}:${p.partition}`;

export type ApplyOutcome =
  | { kind: 'skipped'; reason: 'applied' | 'duplicate' }
  | { kind: 'applied'; scoreAt: number | null };

/** Applies one event unless its offset is already applied; says whether a throttled scoring is due. */
export function applyEvent(
  cfg: BehaviorConfig,
  s: PatientState,
  obs: Observation,
  pos: EventPosition,
): ApplyOutcome {
  const key = posKey(pos);
  const done = s.applied.get(key);
  if (done !== undefined && pos.offset <= done) return { kind: 'skipped', reason: 'applied' };
  s.applied.set(key, pos.offset);
  s.partition = pos.partition;
  if (!applyObservation(s.features, obs)) return { kind: 'skipped', reason: 'duplicate' };
  // Throttle on event time: the same stream scores at the same instants on every run.
  const t = Math.max(s.features.latestEventTime, arrivalOf(obs));
  if (Number.isNaN(s.lastScoredAt) || t >= s.lastScoredAt + cfg.throttleMs)
    return { kind: 'applied', scoreAt: t };
  return { kind: 'applied', scoreAt: null };
}

export function riskLevel(p: number, a: AlertsParams): 'low' | 'medium' | 'high' {
  return p >= a.high_threshold ? 'high' : p >= a.watch_threshold ? 'medium' : 'low';
}

export function topFactors(
  names: readonly string[],
  x: Float32Array,
  attr: Float32Array,
  k: number,
): RiskFactor[] {
  // Top k by |attribution| (ties: lower index first), by insertion into a k-long list: one pass over
  // the F attributions, no F-long index array to allocate and sort on every scoring.
  const top: number[] = [];
  for (let i = 0; i < attr.length && k > 0; i++) {
    const a = Math.abs(attr[i]!);
    if (!Number.isFinite(a)) continue;
    if (top.length === k && a <= Math.abs(attr[top[k - 1]!]!)) continue;
    let at = top.length < k ? top.length : k - 1;
    while (at > 0 && Math.abs(attr[top[at - 1]!]!) < a) at--;
    if (top.length === k) top.pop();
    top.splice(at, 0, i);
  }
  return top.map((i) => ({
    feature: names[i]!,
    value: Number.isNaN(x[i]!) ? null : x[i]!,
    attribution: attr[i]!,
  }));
}

/** A model output becomes a scoring; a throttled (not requested) one also drives the alert chart. */
export function scored(
  cfg: BehaviorConfig,
  s: PatientState,
  t: number,
  x: Float32Array,
  r: ScoreResult,
  model: { version: ModelVersion; featureSetHash: string },
  drivesAlerts: boolean,
): { scoring: RiskScored; alert: AlertChanged | null } {
  const factors = topFactors(cfg.plan.fs.names, x, r.attribution, cfg.alerts.top_risk_factors);
  const scoring: RiskScored = {
    type: 'patient.risk.scored',
    patientId: s.id,
    t,
    probability: r.risk,
    riskLevel: riskLevel(r.risk, cfg.alerts),
    modelVersion: model.version,
    featureSetHash: model.featureSetHash,
    topRiskFactors: factors,
    features: x,
    sourceOffsets: Object.fromEntries([...s.applied].map(([k, v]) => [k, v.toString()])),
  };
  if (!drivesAlerts) return { scoring, alert: null };
  s.lastScoredAt = t;
  s.last = { t, probability: r.risk, modelVersion: model.version };
  const step = alertStepState(cfg.machine, s.alert, { type: 'risk.observed', p: r.risk, t });
  s.alert = step.state;
  const c = step.change;
  if (!c) return { scoring, alert: null };
  const type = c.raised ? 'patient.alert.raised' : c.to === 'normal' ? 'patient.alert.cleared' : null;
  if (!type) return { scoring, alert: null };
  return {
    scoring,
    alert: {
      type,
      patientId: s.id,
      t,
      from: c.from,
      to: c.to,
      probability: r.risk,
      modelVersion: model.version,
      topRiskFactors: factors,
    },
  };
}

export function acknowledge(cfg: BehaviorConfig, s: PatientState, t: number): AlertChanged | null {
  const step = alertStepState(cfg.machine, s.alert, { type: 'alert.acknowledge', t });
  s.alert = step.state;
  if (!step.change) return null;
  return {
    type: 'patient.alert.acknowledged',
    patientId: s.id,
    t,
    from: step.change.from,
    to: step.change.to,
    probability: s.last?.probability ?? Number.NaN,
    modelVersion: s.last?.modelVersion ?? ('' as ModelVersion),
    topRiskFactors: [],
  };
}

export const alertLevel = (s: PatientState): AlertLevel => s.alert.value;

// --- snapshots ------------------------------------------------------------------------------------

/**
 * A patient's whole state as plain data (typed arrays, NaN and infinities kept): the snapshot store
 * encodes it in binary (store.ts), so a restored actor is bit-for-bit the one that was saved.
 */
export interface PatientSnapshot {
  v: 2;
  id: string;
  features: PatientFeaturesState;
  alert: { value: AlertLevel; raisedAt: { watch: number; high: number } };
  applied: Record<string, string>;
  lastScoredAt: number;
  last: PatientState['last'];
  partition: number;
}

export function toSnapshot(s: PatientState): PatientSnapshot {
  return {
    v: 2,
    id: s.id,
    features: s.features.toState(),
    alert: {
      value: alertLevel(s),
      raisedAt: { watch: s.alert.watchAt, high: s.alert.highAt },
    },
    applied: Object.fromEntries([...s.applied].map(([k, v]) => [k, v.toString()])),
    lastScoredAt: s.lastScoredAt,
    last: s.last,
    partition: s.partition,
  };
}

export function fromSnapshot(cfg: BehaviorConfig, snap: PatientSnapshot): PatientState {
  const { watch, high } = snap.alert.raisedAt;
  const alert: AlertState =
    snap.alert.value === 'normal' && watch === ALERT_START.watchAt && high === ALERT_START.highAt
      ? ALERT_START
      : { value: snap.alert.value, watchAt: watch, highAt: high };
  return {
    id: snap.id as PatientId,
    features: PatientFeatures.fromState(cfg.plan, snap.features),
    alert,
    applied: new Map(Object.entries(snap.applied).map(([k, v]) => [k, BigInt(v)])),
    lastScoredAt: snap.lastScoredAt,
    last: snap.last,
    partition: snap.partition,
  };
}
