import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadParams } from '../config/params.js';
import { DirSink } from '../producers/dir-sink.js';
import { simulate } from './run.js';
import { SimulatedClock } from './time.js';

async function runToDir(seed: number): Promise<Map<string, Buffer>> {
  const dir = mkdtempSync(join(tmpdir(), 'aepred-sim-'));
  const sink = new DirSink(dir);
  const manifest = await simulate(
    {
      patients: 25,
      days: 3,
      seed,
      startMs: Date.parse('2024-05-01T00:00:00Z'),
      scenario: 'faults',
      rate: { kind: 'max' },
    },
    { params: loadParams().simulator, sink, clock: new SimulatedClock() },
  );
  await sink.close();
  const files = new Map<string, Buffer>();
  for (const f of readdirSync(dir).sort()) files.set(f, readFileSync(join(dir, f)));
  files.set('manifest.json', Buffer.from(JSON.stringify(manifest)));
  return files;
}

describe('determinism', () => {
  it('gives byte-identical files for the same seed and different ones for another', async () => {
    const a = await runToDir(5);
    const b = await runToDir(5);
    const c = await runToDir(6);
    expect([...a.keys()]).toEqual([
      'adverse-events.ndjson',
      'enrollment.ndjson',
      'lab-results.ndjson',
      'medications.ndjson',
      'patient-vitals.ndjson',
      'manifest.json',
    ]);
    for (const [name, bytes] of a) expect(bytes.equals(b.get(name) ?? Buffer.alloc(0)), name).toBe(true);
    expect(a.get('patient-vitals.ndjson')?.equals(c.get('patient-vitals.ndjson') ?? Buffer.alloc(0))).toBe(
      false,
    );
    expect(a.get('enrollment.ndjson')?.equals(c.get('enrollment.ndjson') ?? Buffer.alloc(0))).toBe(false);
  }, 60_000);
});
