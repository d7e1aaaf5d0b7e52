import { describe, expect, it } from 'vitest';
import { TOPICS } from '../contracts/types.js';
import { Contracts } from '../contracts/validator.js';
import { SCENARIOS } from './scenario.js';
import { simulateToMemory } from './testing.js';

const contracts = new Contracts();

describe('simulator output', () => {
  for (const scenario of SCENARIOS.filter((s) => s !== 'faults')) {
    it(`validates against the contracts: ${scenario}`, async () => {
      const { sink, manifest, endMs } = await simulateToMemory({ patients: 40, days: 6, seed: 7, scenario });
      for (const topic of TOPICS) {
        const lines = sink.messages[topic];
        expect(lines.length, topic).toBeGreaterThan(0);
        for (const line of lines) {
          const r = contracts.checkRaw(topic, line, endMs, { maxFutureSkewMs: 0 });
          if (!r.ok) expect.fail(`${topic}: ${JSON.stringify(r.issues)} in ${line}`);
        }
      }
      for (const e of sink.enrollment) expect(contracts.validateEnrollment(e).ok).toBe(true);
      expect(manifest.faults).toEqual([]);
      expect(sink.enrollment.length).toBe(40);
    }, 60_000);
  }

  it('site-drift shifts only the drifting site after the drift day', async () => {
    const { sink, manifest } = await simulateToMemory({
      patients: 120,
      days: 6,
      seed: 3,
      scenario: 'site-drift',
    });
    const from = Date.parse(String(manifest.scenario.from));
    const site = String(manifest.scenario.site_id);
    const mean = (pred: (m: { site_id: string; t: number }) => boolean) => {
      let s = 0;
      let n = 0;
      for (const line of sink.messages['patient-vitals']) {
        const m = JSON.parse(line) as { site_id: string; timestamp: string; spo2: number | null };
        if (m.spo2 === null || !pred({ site_id: m.site_id, t: Date.parse(m.timestamp) })) continue;
        s += m.spo2;
        n++;
      }
      return s / n;
    };
    const before = mean((m) => m.site_id === site && m.t < from);
    const after = mean((m) => m.site_id === site && m.t >= from);
    const otherBefore = mean((m) => m.site_id !== site && m.t < from);
    const otherAfter = mean((m) => m.site_id !== site && m.t >= from);
    expect(before - after).toBeGreaterThan(2);
    expect(Math.abs(otherBefore - otherAfter)).toBeLessThan(0.5);
  }, 60_000);
});

describe('pacing', () => {
  it('--rate xN never sends a message before its simulated time has come on the injected clock', async () => {
    const { loadParams } = await import('../config/params.js');
    const { MemorySink: Memory } = await import('../producers/memory-sink.js');
    const { simulate } = await import('./run.js');
    const { SimulatedClock } = await import('./time.js');
    const clock = new SimulatedClock(1_000_000);
    const startMs = Date.parse('2024-01-01T00:00:00Z');
    const factor = 3600;
    let late = 0;
    let n = 0;
    const inner = new Memory();
    const sink = Object.assign(Object.create(inner) as InstanceType<typeof Memory>, {
      write(topic: (typeof TOPICS)[number], key: string, value: string) {
        const m = /"(?:timestamp|report_timestamp)":"([^"]+)"/.exec(value);
        const simNow = startMs + (clock.now() - 1_000_000) * factor;
        if (m?.[1] !== undefined && Date.parse(m[1]) > simNow) late++;
        n++;
        return inner.write(topic, key, value);
      },
    });
    await simulate(
      { patients: 3, days: 1, seed: 1, startMs, scenario: 'baseline', rate: { kind: 'paced', factor } },
      { params: loadParams().simulator, sink, clock },
    );
    expect(n).toBeGreaterThan(100);
    expect(late).toBe(0);
    // One simulated day at 3600x is 24 s of (injected) wall time.
    expect(clock.now() - 1_000_000).toBeCloseTo(24_000, -1);
  });
});
