/**
 * `aepred simulate --rate max --to dir`: events/s from the engine through the NDJSON sink, 1,000
 * patients x 3 days (the PRD's trial size), median of 5 runs after one warm-up. Also records the
 * steady-state volume (events per patient-day, days after enrollment is complete).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadParams } from '../src/config/params.js';
import { DirSink } from '../src/producers/dir-sink.js';
import { simulate } from '../src/sim/run.js';
import { SimulatedClock } from '../src/sim/time.js';
import { bench } from './lib.js';

const PATIENTS = 1000;
const DAYS = 3;
const params = loadParams().simulator;
let lastVolume = 0;
let lastEvents = 0;
const perCpuSecond: number[] = [];

const result = await bench({
  name: 'simulate',
  metric: 'events_per_second',
  unit: 'events/s',
  runs: 5,
  warmup: 1,
  notes: `aepred simulate --patients ${PATIENTS} --days ${DAYS} --seed S --rate max --to dir (DirSink NDJSON, tmpdir), scenario baseline`,
  measure: async (run) => {
    const dir = mkdtempSync(join(tmpdir(), 'aepred-bench-sim-'));
    const sink = new DirSink(dir);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const m = await simulate(
      {
        patients: PATIENTS,
        days: DAYS,
        seed: 100 + Math.max(run, 0),
        startMs: Date.parse('2024-01-01T00:00:00Z'),
        scenario: 'baseline',
        rate: { kind: 'max' },
      },
      { params, sink, clock: new SimulatedClock() },
    );
    await sink.close();
    const s = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    rmSync(dir, { recursive: true, force: true });
    const c = m.counts;
    lastEvents = c['patient-vitals'] + c['lab-results'] + c.medications + c['adverse-events'];
    lastVolume = lastEvents / c.patient_days;
    if (run >= 0) perCpuSecond.push(lastEvents / cpuSeconds);
    return lastEvents / s;
  },
  extra: {},
});
const extra = {
  patients: PATIENTS,
  days: DAYS,
  events_per_run: lastEvents,
  events_per_patient_day: Math.round(lastVolume),
  events_per_day_1000_patients: Math.round(lastVolume * 1000),
  load_average_1m_at_end: Math.round(loadavg()[0]! * 100) / 100,
  // Wall-clock events/s depends on what else the 2 cores run; events per CPU-second of this
  // (single-threaded) process is what an idle machine would give.
  events_per_cpu_second_median: Math.round(
    [...perCpuSecond].sort((a, b) => a - b)[Math.floor(perCpuSecond.length / 2)] ?? 0,
  ),
  events_per_cpu_second_samples: perCpuSecond.map(Math.round),
};
// bench() has written the file; add the volume figures to it.
const { writeFileSync } = await import('node:fs');
const { resolve } = await import('node:path');
const { REPO_ROOT } = await import('../src/shared/paths.js');
writeFileSync(
  resolve(REPO_ROOT, 'bench/results/simulate.json'),
  `${JSON.stringify({ ...result, extra }, null, 2)}\n`,
);
process.stdout.write(
  `simulate: median ${Math.round(result.median)} events/s (min ${Math.round(result.min)}, max ${Math.round(result.max)}); ${Math.round(lastVolume)} events/patient-day; ${extra.events_per_cpu_second_median} events per CPU-second; load ${extra.load_average_1m_at_end}\n`,
);
