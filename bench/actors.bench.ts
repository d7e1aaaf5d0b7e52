/**
 * Patient actors (issue 7): memory per resident patient with full 24 h windows, events/s through the
 * actors including feature updates (one core), scoring p99 inside the actor (features + ONNX + alerts),
 * snapshot and recovery of 10,000 patients. `npx tsx bench/actors.bench.ts` -> bench/results/actors.json.
 * Every figure is the median of 3 runs in one process; the load average is recorded with them.
 * AEPRED_BENCH_PATIENTS sets the resident count for the memory figures (default 10,000).
 *
 * Scoring is measured where the time goes: one scoring inside one actor with nothing else queued
 * (wall and CPU time per call: a call that took long in wall time but not in CPU time waited for the
 * core), its stages alone (features, float32 input, ONNX run incl. tensor, factors + alert step), and
 * the same scoring with the resident patients in the heap (GC over a large heap).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import pino from 'pino';
import { alertMachine } from '../src/actors/patient/alerts.js';
import type { BehaviorConfig, PatientSnapshot } from '../src/actors/patient/behavior.js';
import { fromSnapshot, initialState, scored, toSnapshot } from '../src/actors/patient/behavior.js';
import { type DeliveredEvent, type PatientId, patientId } from '../src/actors/patient/protocol.js';
import { loadParams } from '../src/config/params.js';
import { loadInteractions } from '../src/contracts/interactions.js';
import { defaultFeatureSet } from '../src/features/definition.js';
import { FeaturePlan, PatientFeatures } from '../src/features/engine.js';
import { REPO_ROOT } from '../src/shared/paths.js';
import { SimulatedClock } from '../src/supervisors/clock.js';
import { ModelSupervisor } from '../src/supervisors/model/actor.js';
import { PatientSupervisor } from '../src/supervisors/patient/actor.js';
import { MemorySnapshotStore, type SnapshotStore } from '../src/supervisors/patient/store.js';
import { bench, median } from './lib.js';

// Memory figures need a full GC before reading the heap: expose it when not started with --expose-gc.
setFlagsFromString('--expose-gc');
const gc = (globalThis.gc ?? runInNewContext('gc')) as () => void;
const RUNS = 3;

const params = loadParams();
const fs = defaultFeatureSet();
const plan = new FeaturePlan(
  fs,
  loadInteractions().interactions,
  params.actors.retention_slack_minutes * 60_000,
);
const cfg: BehaviorConfig = {
  plan,
  machine: alertMachine(params.alerts),
  alerts: params.alerts,
  throttleMs: params.actors.score_throttle_minutes * 60_000,
};
const log = pino({ level: 'silent' });
const FIVE_MIN = 300_000;
const T0 = Date.parse('2024-01-01T00:00:00Z');
const LABS = ['ALT', 'AST', 'BILI', 'CREAT', 'HGB', 'NEUT', 'PLAT', 'WBC'];

function fillDay(pf: PatientFeatures, seed: number): void {
  const row = new Float64Array(plan.vitalSignals.length);
  for (let k = 0; k < 288; k++) {
    for (let s = 0; s < row.length; s++) row[s] = 60 + ((seed * 7 + k * 13 + s * 31) % 400) / 10;
    pf.addVitals(T0 + k * FIVE_MIN, 'monitor', row);
  }
  for (const [i, code] of LABS.entries())
    pf.addLab(code, T0 + i * 60_000, T0 + 3_600_000, 1 + (seed % 10) / 10, 'lab');
}

function heapNow(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Feature state alone (PatientFeatures: ring buffers, labs, baselines), as the first rounds measured it. */
function featuresPerPatient(n: number): { bytes_per_patient: number; typed_array_bytes: number } {
  const before = heapNow();
  const keep: PatientFeatures[] = [];
  for (let i = 0; i < n; i++) {
    const st = initialState(cfg, patientId(`M${i}`), { age: 60, sex: 'F' });
    fillDay(st.features, i);
    keep.push(st.features);
  }
  const used = heapNow() - before;
  return { bytes_per_patient: Math.round(used / n), typed_array_bytes: keep[0]!.bytes };
}

/** Snapshots go to Redis in the service: not part of the resident memory, so dropped here. */
const discard: SnapshotStore = {
  get: async () => undefined,
  getMany: async (ids) => ids.map(() => undefined),
  putMany: async (snaps) => snaps.length,
  nextFence: async () => 1,
};

function dayOf(i: number): DeliveredEvent[] {
  const items: DeliveredEvent[] = [];
  for (let k = 0; k < 288; k++) {
    const values = new Float64Array(plan.vitalSignals.length);
    for (let s = 0; s < values.length; s++) values[s] = 60 + ((i * 7 + k * 13 + s * 31) % 400) / 10;
    items.push({
      obs: { kind: 'vitals', time: T0 + k * FIVE_MIN, source: 'monitor', values },
      position: { topic: 'patient-vitals', partition: 0, offset: BigInt(k) },
    });
  }
  for (const [j, code] of LABS.entries())
    items.push({
      obs: {
        kind: 'lab',
        code,
        time: T0 + j * 60_000,
        arrival: T0 + 3_600_000,
        value: 1 + (i % 10) / 10,
        source: 'lab',
      },
      position: { topic: 'lab-results', partition: 0, offset: BigInt(j) },
    });
  return items;
}

/**
 * Resident patients as the service holds them: a PatientSupervisor with one live PatientActor per
 * patient, each fed a full day through its mailbox, after a checkpoint (journals cleared).
 */
async function residents(
  n: number,
  models: ModelSupervisor,
  tag: string,
): Promise<{ sup: PatientSupervisor; bytes_per_patient: number }> {
  const before = heapNow();
  const sup = new PatientSupervisor({
    behavior: cfg,
    models,
    store: discard,
    context: () => ({ age: 60, sex: 'F' }),
    clock: new SimulatedClock(0),
    params: params.actors,
    logger: log,
    emit: () => {},
  });
  for (let i = 0; i < n; i++) await sup.deliverBatch(patientId(`${tag}${i}`), dayOf(i));
  await sup.snapshotAll();
  const used = heapNow() - before;
  if (sup.size !== n) throw new Error(`expected ${n} live actors, got ${sup.size}`);
  return { sup, bytes_per_patient: Math.round(used / n) };
}

interface Latency {
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  samples: number;
}

function summarize(lat: readonly number[]): Latency {
  const s = [...lat].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { p50_ms: q(0.5), p99_ms: q(0.99), max_ms: s.at(-1)!, samples: s.length };
}

/** GC pauses seen by a PerformanceObserver, to tell how many slow calls overlapped one. */
const gcs: Array<[number, number]> = [];
new PerformanceObserver((l) => {
  for (const e of l.getEntries()) gcs.push([e.startTime, e.duration]);
}).observe({ entryTypes: ['gc'] });

/** n calls of fn, one at a time: wall and CPU time per call, and what the slowest 1 % overlapped. */
async function timed(
  n: number,
  fn: () => unknown,
): Promise<{
  wall: Latency;
  cpu: Latency;
  slowest_1pct_overlapping_gc: number;
  slowest_1pct_cpu_ms: number;
}> {
  for (let i = 0; i < 200; i++) await fn();
  const wall: number[] = [];
  const cpu: number[] = [];
  const starts: number[] = [];
  for (let i = 0; i < n; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await fn();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    starts.push(t0);
  }
  const slow = wall
    .map((_, i) => i)
    .sort((a, b) => wall[b]! - wall[a]!)
    .slice(0, Math.max(1, Math.floor(n / 100)));
  const overlapping = slow.filter((i) =>
    gcs.some(([g, d]) => g < starts[i]! + wall[i]! && g + d > starts[i]!),
  ).length;
  return {
    wall: summarize(wall),
    cpu: summarize(cpu),
    slowest_1pct_overlapping_gc: overlapping,
    slowest_1pct_cpu_ms: median(slow.map((i) => cpu[i]!)),
  };
}

/** Median over runs of every number in a list of like-shaped records; the runs are kept too. */
function medianOf<T>(runs: readonly T[]): { median: T; runs: readonly T[] } {
  const merge = (xs: readonly unknown[]): unknown => {
    const x0 = xs[0];
    if (typeof x0 === 'number') return median(xs as number[]);
    if (x0 && typeof x0 === 'object')
      return Object.fromEntries(
        Object.keys(x0).map((k) => [k, merge(xs.map((x) => (x as Record<string, unknown>)[k]))]),
      );
    return x0;
  };
  return { median: merge(runs) as T, runs };
}

async function seq<T>(n: number, f: () => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(await f());
  return out;
}

async function main(): Promise<void> {
  const resident = Number(process.env.AEPRED_BENCH_PATIENTS ?? 10_000);
  const load: number[][] = [loadavg()];
  const featureRuns = Array.from({ length: RUNS }, () => featuresPerPatient(resident));

  // Scoring model: a tiny real ONNX graph from issue 6's exporter.
  const model = join(tmpdir(), `aepred-bench-${process.pid}.onnx`);
  execFileSync(
    resolve(REPO_ROOT, '.venv/bin/python'),
    ['tests/fixtures/models/tiny_model.py', model, '1', '1'],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, PYTHONPATH: REPO_ROOT },
    },
  );
  const models = new ModelSupervisor({ featureSetHash: fs.hash, canaryShare: 0, logger: log });
  await models.load('production', readFileSync(model));

  // One scoring inside one actor, nothing else queued: features at t, ONNX (risk + attribution),
  // top factors, result event. A requested scoring (the alert chart is driven by throttled ones).
  const clock = new SimulatedClock(0);
  const store = new MemorySnapshotStore();
  const sup = new PatientSupervisor({
    behavior: cfg,
    models,
    store,
    context: () => ({ age: 60, sex: 'F' }),
    clock,
    params: params.actors,
    logger: log,
    emit: () => {},
  });
  await sup.deliverBatch(patientId('S'), dayOf(1));
  const t = T0 + 287 * FIVE_MIN;
  const pid = patientId('S');
  const scoreOnce = (): Promise<unknown> => sup.score(pid, t);
  const scoring = medianOf(await seq(RUNS, () => timed(3000, scoreOnce)));

  // The stages of that scoring alone.
  const st = sup.actor(pid)!.state;
  const lease = models.acquire(pid)!;
  const x64 = st.features.compute(t);
  const x32 = Float32Array.from(x64);
  const r = await lease.session.score(x32);
  const scratch = { ...st, applied: new Map(st.applied) };
  const stages = medianOf(
    await seq(RUNS, async () => ({
      features_compute: (await timed(3000, () => st.features.compute(t))).wall,
      float32_input: (await timed(3000, () => Float32Array.from(x64))).wall,
      onnx_run_with_tensor: (await timed(3000, () => lease.session.score(x32))).wall,
      factors_and_alert_step: (await timed(3000, () => scored(cfg, scratch, t, x32, r, lease.session, true)))
        .wall,
    })),
  );
  lease.done();

  // Resident patients with full 24 h windows (supervisor + actors + state), then the same scoring
  // with them in the heap.
  const residentRuns: number[] = [];
  let held: PatientSupervisor | undefined;
  for (let k = 0; k < RUNS; k++) {
    held = undefined;
    const r = await residents(
      resident,
      new ModelSupervisor({ featureSetHash: fs.hash, canaryShare: 0, logger: log }),
      `P${k}-`,
    );
    residentRuns.push(r.bytes_per_patient);
    held = r.sup;
  }
  const scoringLoaded = medianOf(await seq(RUNS, () => timed(3000, scoreOnce)));
  const heldPatients = held?.size ?? 0;
  held = undefined;
  load.push(loadavg());

  // Snapshot and recovery of 10,000 patients (binary through the snapshot store).
  const ids: PatientId[] = Array.from({ length: 10_000 }, (_, i) => patientId(`R${i}`));
  const states = ids.map((id, i) => {
    const st = initialState(cfg, id, { age: 60, sex: 'M' });
    fillDay(st.features, i);
    return st;
  });
  const snapRuns = await seq(RUNS, async () => {
    const mem = new MemorySnapshotStore();
    let t0 = performance.now();
    const snaps: PatientSnapshot[] = states.map(toSnapshot);
    await mem.putMany(snaps);
    const snapshotMs = performance.now() - t0;
    t0 = performance.now();
    const restored = (await mem.getMany(ids)).map((s) => fromSnapshot(cfg, s!));
    const recoveryMs = performance.now() - t0;
    const bytes = [...mem.data.values()].reduce((a, s) => a + s.bytes.length, 0);
    return {
      snapshot_ms: snapshotMs,
      recovery_ms: recoveryMs,
      bytes_total: bytes,
      restored: restored.length,
    };
  });

  // Events/s through the actors, feature updates included (no model: scoring is measured above).
  const noModel = new ModelSupervisor({ featureSetHash: fs.hash, canaryShare: 0, logger: log });
  const events = 200_000;
  await bench({
    name: 'actors',
    metric: 'events per second through patient actors (supervisor -> mailbox -> ring buffers), one core',
    unit: 'events/s',
    runs: 3,
    warmup: 1,
    notes:
      "Events/s: vital-sign sets every 5 min for 1,000 patients, delivered as Kafka batches (one mailbox turn per patient per batch). Memory: full 24 h windows (288 rows x 7 signals + 8 labs) per resident patient. Scoring = features + tiny ONNX + attribution + top factors; wall and CPU time per call (a call slow in wall time but not in CPU time waited for a core). Snapshot/recovery = binary (v8 structured clone of typed arrays) via MemorySnapshotStore (Redis adds the network). Every figure: median of 3 runs; the 2-core box is shared with other sessions' tests: see load_average_1_5_15 (at start, after the scoring runs).",
    extra: {
      runs_per_figure: RUNS,
      load_average_1_5_15: load,
      memory: {
        bytes_per_patient: median(residentRuns),
        what: 'resident patient: PatientSupervisor entry + PatientActor + state, full 24 h windows, after a checkpoint',
        patients: resident,
        runs: residentRuns,
        features_only_bytes_per_patient: median(featureRuns.map((f) => f.bytes_per_patient)),
        typed_array_bytes: featureRuns[0]!.typed_array_bytes,
      },
      scoring_in_actor: scoring,
      scoring_stages: stages,
      scoring_in_actor_with_residents: { patients_in_heap: heldPatients, ...scoringLoaded },
      snapshot_10k: medianOf(snapRuns),
      engine_only_events_per_s: engineOnly(),
    },
    measure: async (run) => {
      const s2 = new PatientSupervisor({
        behavior: cfg,
        models: noModel,
        store: new MemorySnapshotStore(),
        context: () => ({}),
        clock,
        params: params.actors,
        logger: log,
        emit: () => {},
      });
      const r = new Float64Array(plan.vitalSignals.length).fill(80);
      // Kafka batches as the feed hands them over: 1,000 events of 100 patients (10 each, in order),
      // one mailbox turn per patient per batch (ActorFeed -> PatientSupervisor.deliverBatch).
      const start = performance.now();
      for (let b = 0; b < events / 1000; b++) {
        const jobs: Array<Promise<void>> = [];
        for (let k = 0; k < 100; k++) {
          const pid = patientId(`E${run}-${(b % 10) * 100 + k}`);
          const items = Array.from({ length: 10 }, (_, j) => ({
            obs: {
              kind: 'vitals' as const,
              time: T0 + (Math.floor(b / 10) * 10 + j) * FIVE_MIN,
              source: 'm',
              values: r,
            },
            position: { topic: 'patient-vitals', partition: 0, offset: BigInt(b * 1000 + k * 10 + j) },
          }));
          jobs.push(s2.deliverBatch(pid, items));
        }
        await Promise.all(jobs);
      }
      return events / ((performance.now() - start) / 1000);
    },
  });
}

function engineOnly(): number {
  const pfs = Array.from({ length: 1000 }, () => new PatientFeatures(plan, {}));
  const r = new Float64Array(plan.vitalSignals.length).fill(80);
  const n = 500_000;
  const start = performance.now();
  for (let i = 0; i < n; i++) pfs[i % 1000]!.addVitals(T0 + Math.floor(i / 1000) * FIVE_MIN, 'm', r);
  return n / ((performance.now() - start) / 1000);
}

await main();
