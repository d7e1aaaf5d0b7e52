import { loadParams } from '../config/params.js';
import { MemorySink } from '../producers/memory-sink.js';
import { type Manifest, simulate } from './run.js';
import type { ScenarioName } from './scenario.js';
import { SimulatedClock } from './time.js';

/** Runs the simulator into memory (tests and benchmarks). */
export async function simulateToMemory(o: {
  patients: number;
  days: number;
  seed: number;
  scenario?: ScenarioName;
  start?: string;
}): Promise<{ sink: MemorySink; manifest: Manifest; startMs: number; endMs: number }> {
  const params = loadParams().simulator;
  const sink = new MemorySink();
  const startMs = Date.parse(`${o.start ?? params.default_start}T00:00:00Z`);
  const manifest = await simulate(
    {
      patients: o.patients,
      days: o.days,
      seed: o.seed,
      startMs,
      scenario: o.scenario ?? 'baseline',
      rate: { kind: 'max' },
    },
    { params, sink, clock: new SimulatedClock() },
  );
  return { sink, manifest, startMs, endMs: startMs + o.days * 86_400_000 };
}
