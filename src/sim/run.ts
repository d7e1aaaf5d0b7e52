import { type Interaction, loadInteractions } from '../contracts/interactions.js';
import type { EnrollmentRecord, TopicName } from '../contracts/types.js';
import type { EventSink } from '../producers/sink.js';
import { Engine, type Episode } from './engine.js';
import { FaultInjector, type FaultRecord } from './faults.js';
import { buildPopulation, type PatientProfile } from './model.js';
import { Outbox } from './outbox.js';
import type { SimulatorParams } from './params.js';
import { loadReference, type Reference } from './reference.js';
import { Rng } from './rng.js';
import { buildScenario, type ScenarioName } from './scenario.js';
import { type Clock, DAY, iso, isoDate, MINUTE } from './time.js';

/** `max`: as fast as possible; otherwise simulated time runs `factor` times faster than wall time. */
export type Rate = { kind: 'max' } | { kind: 'paced'; factor: number };

export interface SimulateOptions {
  patients: number;
  days: number;
  seed: number;
  startMs: number;
  scenario: ScenarioName;
  rate: Rate;
}

export interface SimulateDeps {
  params: SimulatorParams;
  sink: EventSink;
  /** Only used for pacing (--rate realtime | xN). */
  clock: Clock;
  reference?: Reference;
  interactions?: readonly Interaction[];
  onDay?: (day: number, days: number) => void;
}

/** Ground truth of a run: byte-identical for the same arguments (no wall-clock content). */
export interface Manifest {
  generator: 'aepred simulate';
  manifest_version: 1;
  args: { patients: number; days: number; seed: number; start: string; scenario: ScenarioName };
  trial_id: string;
  window: { start: string; end: string };
  correlation_id: string;
  scenario: { name: ScenarioName } & Record<string, unknown>;
  counts: Record<TopicName, number> & { enrollment: number; patient_days: number };
  faults: FaultRecord[];
  episodes: Episode[];
}

export function enrollmentRecord(p: SimulatorParams, prof: PatientProfile): EnrollmentRecord {
  return {
    patient_id: prof.id,
    trial_id: p.trial_id,
    site_id: prof.site.id,
    arm: prof.arm,
    arm_role: prof.arm,
    enrollment_date: isoDate(prof.enrollMs),
    age: prof.age,
    sex: prof.sex,
    height_cm: Math.round(prof.baseline.heightCm * 10) / 10,
    weight_kg: Math.round(prof.baseline.weightKg * 10) / 10,
    comorbidities: prof.comorbidities,
    source: 'sim',
  };
}

const TICK = 5 * MINUTE;

export async function simulate(o: SimulateOptions, deps: SimulateDeps): Promise<Manifest> {
  const p = deps.params;
  const reference = deps.reference ?? loadReference();
  const interactions = deps.interactions ?? loadInteractions().interactions;
  const endMs = o.startMs + o.days * DAY;
  const correlationId = `sim:${o.scenario}:s${o.seed}`;
  const patients = buildPopulation(p, new Rng(o.seed, 1), o.patients, o.days, o.startMs, reference);
  await deps.sink.writeEnrollment(patients.map((prof) => enrollmentRecord(p, prof)));
  const scenario = buildScenario(o.scenario, p, o.startMs, o.days);
  const engine = new Engine({
    params: p,
    reference,
    interactions,
    patients,
    seed: o.seed,
    startMs: o.startMs,
    endMs,
    scenario: scenario.runtime,
    correlationId,
  });
  const faults =
    o.scenario === 'faults'
      ? new FaultInjector(p.scenarios.faults, new Rng(o.seed, 2), deps.sink, p.trial_id, endMs)
      : undefined;
  const out = new Outbox();
  const wallStart = deps.clock.now();
  const sink = deps.sink;
  for (let t = o.startMs, tick = 0; t < endMs; t += TICK, tick++) {
    engine.tick(t, out);
    if (o.rate.kind === 'paced') {
      // Nothing of this tick may be sent before its end has come (no future timestamps in real time).
      const due = wallStart + (t + TICK - o.startMs) / o.rate.factor;
      const wait = due - deps.clock.now();
      if (wait > 0) await deps.clock.sleep(wait);
    }
    const n = out.length;
    const { topics, keys, values, at } = out;
    for (let i = 0; i < n; i++) {
      const w =
        faults === undefined
          ? sink.write(topics[i]!, keys[i]!, values[i]!)
          : faults.send(topics[i]!, keys[i]!, values[i]!, at[i]!);
      if (w !== undefined) await w;
    }
    out.clear();
    if (faults !== undefined) await faults.advance(t, endMs);
    if ((tick + 1) % 288 === 0) deps.onDay?.((tick + 1) / 288, o.days);
  }
  if (faults !== undefined) await faults.advance(Number.POSITIVE_INFINITY, endMs - 1000);
  await sink.flush();
  const counts = sink.counts();
  let patientDays = 0;
  for (const prof of patients) patientDays += Math.max(0, (endMs - prof.enrollMs) / DAY);
  return {
    generator: 'aepred simulate',
    manifest_version: 1,
    args: { patients: o.patients, days: o.days, seed: o.seed, start: iso(o.startMs), scenario: o.scenario },
    trial_id: p.trial_id,
    window: { start: iso(o.startMs), end: iso(endMs) },
    correlation_id: correlationId,
    scenario: { name: o.scenario, ...scenario.truth },
    counts: { ...counts, enrollment: patients.length, patient_days: Math.round(patientDays * 100) / 100 },
    faults: faults?.records ?? [],
    episodes: engine.episodes,
  };
}
