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
