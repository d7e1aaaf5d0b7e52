import pino from 'pino';
import type { ModelRouter } from '../../actors/patient/actor.js';
import { alertMachine } from '../../actors/patient/alerts.js';
import type { BehaviorConfig } from '../../actors/patient/behavior.js';
import {
  type AlertChanged,
  type DeliveredEvent,
  type PatientEvent,
  type PatientId,
  patientId,
  type RiskScored,
} from '../../actors/patient/protocol.js';
import type { Params } from '../../config/params.js';
import { loadInteractions } from '../../contracts/interactions.js';
import type { FeatureSet } from '../../features/definition.js';
import { FeaturePlan, type PatientContext } from '../../features/engine.js';
import { arrivalOf, Normalizer, UnitsTable } from '../../features/normalize.js';
import { AepredError } from '../../shared/errors.js';
import { SimulatedClock } from '../clock.js';
import { PatientSupervisor } from './actor.js';
import { MemorySnapshotStore } from './store.js';

/**
 * Recorded per-patient event sequences (issue 7, tests/fixtures/replay/): one patient's topic
 * messages in delivery order, and what the actors produced from them: the Float64 feature vector and
 * the score at set trial times, every throttled scoring and every alert change. scripts/record-replay.ts
 * writes them; src/supervisors/patient/replay.test.ts replays them through fresh actors on a simulated
 * clock and compares. The replay goes the way of the service's feed: topic message -> silver
 * normalisation -> PatientSupervisor.deliverBatch (one mailbox turn per delivered chunk) -> actor.
 */

/** A feature value in JSON: null for NaN, the strings for the infinities. */
export type JsonNumber = number | null | 'Infinity' | '-Infinity';

export interface ReplayCheck {
  /** Trial time of the requested score (ISO 8601). */
  t: string;
  features: JsonNumber[];
  probability: number;
  risk_level: RiskScored['riskLevel'];
  /** [feature, attribution] of the top risk factors, in order. */
  top_risk_factors: Array<[string, number]>;
}

export interface ReplayOutcome {
  checks: ReplayCheck[];
  /** Scorings the actor made by itself after new events (event-time throttle): [t ISO, probability]. */
  throttled: Array<[string, number]>;
  /** Alert changes: [type, t ISO, from, to]. */
  alerts: Array<[string, string, string, string]>;
  /** Messages the normaliser rejected (silver would reject them too). */
  rejected: number;
}

export interface ReplayFixture extends ReplayOutcome {
  about: string;
  simulator: { seed: number; patients: number; days: number; scenario: string; start: string };
  model: { file: string; version: string; feature_set_hash: string };
  patient_id: string;
  context: PatientContext;
  /** Topic names; an event's first element indexes this list. */
  topics: string[];
  /** Per topic, the message fields an event row carries (after topic index and offset). */
  columns: Record<string, string[]>;
  /** [topic index, offset, ...values of that topic's columns], in delivery order. */
  events: Array<Array<string | number | null>>;
  /** Trial times (ISO) at which a score is requested after delivering what had arrived by then. */
  check_times: string[];
}

export const toJsonNumber = (v: number): JsonNumber =>
  Number.isNaN(v) ? null : v === Number.POSITIVE_INFINITY ? 'Infinity' : v === -Infinity ? '-Infinity' : v;

export const fromJsonNumber = (v: JsonNumber): number =>
  v === null ? Number.NaN : v === 'Infinity' ? Number.POSITIVE_INFINITY : v === '-Infinity' ? -Infinity : v;

const iso = (ms: number): string => new Date(ms).toISOString();

/** The behaviour the service runs (service.ts), for a feature set and params. */
export function serviceBehavior(fs: FeatureSet, params: Params): BehaviorConfig {
  return {
    plan: new FeaturePlan(
      fs,
      loadInteractions().interactions,
      params.actors.retention_slack_minutes * 60_000,
    ),
    machine: alertMachine(params.alerts),
    alerts: params.alerts,
    throttleMs: params.actors.score_throttle_minutes * 60_000,
  };
}

export interface ReplayOptions {
  behavior: BehaviorConfig;
  params: Params;
  models: ModelRouter;
  /**
   * Before each check, advance the simulated clock and run the supervisor's sweep, which snapshots
   * the actor and passivates it (idle for the whole interval): the next chunk and the score request
   * then run on an actor restored from its snapshot. Off: one live actor throughout.
   */
  passivate: boolean;
}

/** Replays a fixture's events through a fresh PatientSupervisor; returns what the actor produced. */
export async function replay(
  fx: ReplayFixture,
  o: ReplayOptions,
): Promise<ReplayOutcome & { restored: number }> {
  const pid: PatientId = patientId(fx.patient_id);
  const normalizer = new Normalizer(o.behavior.plan, UnitsTable.load(), o.params.silver.ranges);
  const items: DeliveredEvent[] = [];
  let rejected = 0;
  for (const row of fx.events) {
    const [ti, offset, ...values] = row;
    const topic = fx.topics[ti as number];
    const cols = topic === undefined ? undefined : fx.columns[topic];
    if (topic === undefined || cols === undefined || typeof offset !== 'number')
      throw new AepredError(
        'AEP_REPLAY_FIXTURE',
        `fixture ${fx.patient_id}: bad event row ${JSON.stringify(row)}`,
        {
          kind: 'usage',
        },
      );
    const msg: Record<string, unknown> = { patient_id: fx.patient_id };
    cols.forEach((c, i) => {
      msg[c] = values[i];
    });
    const n = normalizer.normalize(topic, msg);
    if (!n.ok) {
      rejected++;
      continue;
    }
    items.push({ obs: n.obs, position: { topic, partition: 0, offset: BigInt(offset) } });
  }

  const checks = fx.check_times.map((s) => Date.parse(s));
  const clock = new SimulatedClock((checks[0] ?? 0) - 1);
  const out: ReplayOutcome & { restored: number } = {
    checks: [],
    throttled: [],
    alerts: [],
    rejected,
    restored: 0,
  };
  let delivering = false;
  const emit = (e: PatientEvent | { type: string; restored?: boolean }): void => {
    if (e.type === 'patient.actor.spawned' && 'restored' in e && e.restored) out.restored++;
    if (e.type === 'patient.risk.scored' && delivering) {
      const s = e as RiskScored;
      out.throttled.push([iso(s.t), s.probability]);
    }
    if (e.type === 'patient.alert.raised' || e.type === 'patient.alert.cleared') {
      const a = e as AlertChanged;
      out.alerts.push([a.type, iso(a.t), a.from, a.to]);
    }
  };
  const sup = new PatientSupervisor({
    behavior: o.behavior,
    models: o.models,
    store: new MemorySnapshotStore(),
    context: () => fx.context,
    clock,
    params: o.params.actors,
    logger: pino({ level: 'silent' }),
    emit,
  });
  let next = 0;
  for (const t of checks) {
    // What had arrived by t, in delivery (per-topic offset) order, as one batch.
    const chunk: DeliveredEvent[] = [];
    while (next < items.length && arrivalOf(items[next]!.obs) <= t) chunk.push(items[next++]!);
    delivering = true;
    await sup.deliverBatch(pid, chunk);
    delivering = false;
    clock.advance(t - clock.now());
    if (o.passivate) await sup.sweep();
    const r = await sup.score(pid, t);
    const actor = sup.actor(pid);
    if (!r || !actor)
      throw new AepredError('AEP_REPLAY_NO_SCORE', `no score for ${fx.patient_id} at ${iso(t)} (no model?)`, {
        kind: 'operational',
      });
    out.checks.push({
      t: iso(t),
      features: Array.from(actor.state.features.compute(t), toJsonNumber),
      probability: r.probability,
      risk_level: r.riskLevel,
      top_risk_factors: r.topRiskFactors.map((f) => [f.feature, f.attribution]),
    });
  }
  await sup.stop();
  return out;
}
