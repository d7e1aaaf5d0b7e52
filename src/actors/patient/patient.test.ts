import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { loadParams } from '../../config/params.js';
import { defaultFeatureSet } from '../../features/definition.js';
import { FeaturePlan } from '../../features/engine.js';
import type { Observation } from '../../features/normalize.js';
import type { ModelSession, ScoreResult } from '../../scoring/session.js';
import { SimulatedClock } from '../../supervisors/clock.js';
import { ModelSupervisor } from '../../supervisors/model/actor.js';
import { PatientSupervisor } from '../../supervisors/patient/actor.js';
import { MemorySnapshotStore } from '../../supervisors/patient/store.js';
import { alertMachine, alertStart, alertStep } from './alerts.js';
import type { BehaviorConfig } from './behavior.js';
import { type ModelVersion, modelVersion, type PatientEvent, patientId } from './protocol.js';

const params = loadParams();
const fs = defaultFeatureSet();
const plan = new FeaturePlan(fs, []);
const machine = alertMachine(params.alerts);
const cfg: BehaviorConfig = { plan, machine, alerts: params.alerts, throttleMs: 15 * 60_000 };
const log = pino({ level: 'silent' });
const HR = plan.vitalIndex('heart_rate');

/** Unit-test double: risk = last heart rate / 200, attribution = the input. */
class FakeSession implements ModelSession {
  readonly featureNames = fs.names;
  readonly featureSetHash: string = fs.hash;
  constructor(
    readonly version: ModelVersion,
    readonly failOn = Number.NaN,
  ) {}
  async score(x: Float32Array): Promise<ScoreResult> {
    const hr = x[fs.names.indexOf('hr_last')] ?? Number.NaN;
    if (hr === this.failOn) throw new Error('poison');
    return { risk: Number.isNaN(hr) ? 0 : hr / 200, attribution: x.map((v) => (Number.isNaN(v) ? 0 : v)) };
  }
  async release(): Promise<void> {}
}

function vitals(t: number, hr: number): Observation {
  const values = new Float64Array(plan.vitalSignals.length).fill(Number.NaN);
  values[HR] = hr;
  return { kind: 'vitals', time: t, source: 'mon', values };
}

function setup(journalLimit?: number) {
  const clock = new SimulatedClock(1_000_000);
  const store = new MemorySnapshotStore();
  const events: PatientEvent[] = [];
  const other: string[] = [];
  const models = new ModelSupervisor({ featureSetHash: fs.hash, canaryShare: 0, logger: log });
  models.install('production', new FakeSession(modelVersion('1')));
  const sup = new PatientSupervisor({
    behavior: cfg,
    models,
    store,
    context: () => ({ age: 60, sex: 'F' }),
    clock,
    params: params.actors,
    logger: log,
    ...(journalLimit === undefined ? {} : { journalLimit }),
    emit: (e) =>
      e.type.startsWith('patient.actor') || e.type.startsWith('patients.')
        ? other.push(e.type)
        : events.push(e as PatientEvent),
  });
  return { clock, store, events, other, sup, models };
}

describe('alert statechart', () => {
  it('pages once for a risk wobbling around the watch threshold, and again after the cooldown', () => {
    let s = alertStart(machine);
    const raised: number[] = [];
    const w = params.alerts.watch_threshold;
    const probs = [w - 0.01, w + 0.01, w - 0.01, w + 0.01, w - 0.02, w + 0.01];
    probs.forEach((p, i) => {
      const r = alertStep(machine, s, { type: 'risk.observed', p, t: i * 60_000 });
      s = r.snapshot;
      if (r.change?.raised) raised.push(i);
    });
    expect(raised).toEqual([1]);
    expect(s.value).toBe('watch');
    const low = alertStep(machine, s, { type: 'risk.observed', p: 0.01, t: 10 * 60_000 });
    expect(low.level).toBe('normal');
    const soon = alertStep(machine, low.snapshot, { type: 'risk.observed', p: w + 0.1, t: 20 * 60_000 });
    expect(soon.change?.raised).toBe(false);
    const later = alertStep(machine, low.snapshot, { type: 'risk.observed', p: w + 0.1, t: 2 * 3_600_000 });
    expect(later.change?.raised).toBe(true);
  });

  it('goes high, is acknowledged, stays acknowledged until risk clears', () => {
    let s = alertStart(machine);
    s = alertStep(machine, s, { type: 'risk.observed', p: 0.9, t: 0 }).snapshot;
    expect(s.value).toBe('high');
    s = alertStep(machine, s, { type: 'alert.acknowledge', t: 1 }).snapshot;
    expect(s.value).toBe('acknowledged');
    s = alertStep(machine, s, { type: 'risk.observed', p: 0.95, t: 2 }).snapshot;
    expect(s.value).toBe('acknowledged');
    s = alertStep(machine, s, { type: 'risk.observed', p: 0.01, t: 3 }).snapshot;
    expect(s.value).toBe('normal');
  });
});

describe('PatientSupervisor and PatientActor', () => {
  const pid = patientId('P1');
  const pos = (offset: number) => ({ topic: 'patient-vitals', partition: 0, offset: BigInt(offset) });

  it('spawns on the first event, scores on event time, skips applied offsets', async () => {
    const { sup, events, other } = setup();
    for (let i = 0; i < 10; i++) await sup.deliver(pid, vitals(i * 5 * 60_000, 100 + i), pos(i));
    await sup.deliver(pid, vitals(3 * 5 * 60_000, 150), pos(3)); // replayed offset
    expect(other).toEqual(['patient.actor.spawned']);
    const scores = events.filter((e) => e.type === 'patient.risk.scored');
    expect(scores.map((e) => e.t)).toEqual([0, 15 * 60_000, 30 * 60_000, 45 * 60_000]);
    expect(events.some((e) => e.type === 'patient.event.skipped' && e.reason === 'applied')).toBe(true);
  });

  it('a scoring names the offsets applied when it scored (lineage)', async () => {
    const { sup } = setup();
    for (let i = 0; i < 4; i++) await sup.deliver(pid, vitals(i * 5 * 60_000, 100 + i), pos(10 + i));
    await sup.deliver(pid, vitals(4 * 5 * 60_000, 90), { topic: 'lab-results', partition: 2, offset: 7n });
    const r = await sup.score(pid, 4 * 5 * 60_000);
    expect(r?.sourceOffsets).toEqual({ 'patient-vitals:0': '13', 'lab-results:2': '7' });
  });

  it('snapshot -> passivate -> reactivate gives the same features bit for bit', async () => {
    const { sup, clock, other } = setup();
    for (let i = 0; i < 400; i++) await sup.deliver(pid, vitals(i * 5 * 60_000, 60 + (i % 37) * 0.7), pos(i));
    const t = 400 * 5 * 60_000;
    const before = sup.actor(pid)!.state.features.compute(t);
    clock.advance(params.actors.passivate_idle_minutes * 60_000 + 1);
    await sup.sweep();
    expect(sup.size).toBe(0);
    expect(other).toContain('patient.actor.passivated');
    const r = await sup.score(pid, t);
    expect(other.filter((x) => x === 'patient.actor.spawned')).toHaveLength(2);
    const after = sup.actor(pid)!.state.features.compute(t);
    expect(Buffer.from(after.buffer).equals(Buffer.from(before.buffer))).toBe(true);
    expect(r?.probability).toBeCloseTo((60 + (399 % 37) * 0.7) / 200, 6);
  });

  it('restarts a failed actor with backoff, replaying what followed the snapshot, without the poison', async () => {
    const { sup, clock, other, models } = setup();
    models.install('production', new FakeSession(modelVersion('2'), 66));
    for (let i = 0; i < 5; i++) await sup.deliver(pid, vitals(i * 20 * 60_000, 60 + i), pos(i));
    await sup.snapshotAll();
    await sup.deliver(pid, vitals(5 * 20 * 60_000, 66), pos(5)); // scoring throws
    await sup.deliver(pid, vitals(6 * 20 * 60_000, 67), pos(6)); // arrives while the actor is down
    expect(sup.size).toBe(0);
    clock.advance(params.actors.restart.initial_backoff_ms);
    await Promise.resolve();
    await sup.idle();
    expect(other).toContain('patient.actor.restarted');
    expect(sup.actor(pid)!.state.applied.get('patient-vitals:0')).toBe(6n);
  });

  it('snapshots on its own when the journals outgrow the limit, and restarts from that snapshot', async () => {
    const { sup, store, clock, other, models } = setup(10);
    models.install('production', new FakeSession(modelVersion('2'), 66));
    for (let i = 0; i < 25; i++) await sup.deliver(pid, vitals(i * 20 * 60_000, 70 + (i % 5)), pos(i));
    await sup.idle();
    await new Promise((r) => setImmediate(r));
    // No checkpoint ran, yet the store holds a snapshot taken after at least 10 events.
    const snap = await store.get(pid);
    expect(snap?.features.vitals.n).toBeGreaterThanOrEqual(10);
    await sup.deliver(pid, vitals(25 * 20 * 60_000, 66), pos(25)); // scoring throws
    clock.advance(params.actors.restart.initial_backoff_ms);
    await new Promise((r) => setImmediate(r));
    await sup.idle();
    expect(other).toContain('patient.actor.restarted');
    // Restored from the early snapshot + the journal since it: every event but the poison.
    const st = sup.actor(pid)!.state;
    expect(st.applied.get('patient-vitals:0')).toBe(24n);
    expect(st.features.toState().vitals.n).toBe(25);
  });

  it('stops and escalates after too many restarts', async () => {
    const { sup, clock, other, models } = setup();
    models.install('production', new FakeSession(modelVersion('2'), 66));
    for (let k = 0; k <= params.actors.restart.max_restarts; k++) {
      await sup.deliver(pid, vitals(k * 20 * 60_000, 66), pos(k));
      clock.advance(2000);
      await sup.idle();
    }
    expect(other).toContain('patients.escalated');
  });
});
