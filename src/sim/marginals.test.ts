import { describe, expect, it } from 'vitest';
import { loadReference } from './reference.js';
import { simulateToMemory } from './testing.js';

/**
 * The simulator's baselines against the CDISC pilot's (src/sim/reference/cdisc-marginals.json):
 * per-patient first-day means, averaged by sex, must land near the reference means.
 */
describe('simulator vs CDISC marginals', () => {
  it('matches baseline systolic BP, heart rate, ALT and creatinine by sex', async () => {
    const { sink } = await simulateToMemory({ patients: 400, days: 2, seed: 9 });
    const ref = loadReference();
    const sex = new Map(sink.enrollment.map((e) => [e.patient_id, e.sex]));
    const first = new Map<string, number>();
    const acc = new Map<string, { s: number; n: number }>();
    const add = (k: string, v: number) => {
      const a = acc.get(k) ?? { s: 0, n: 0 };
      a.s += v;
      a.n++;
      acc.set(k, a);
    };
    for (const line of sink.messages['patient-vitals']) {
      const m = JSON.parse(line) as {
        patient_id: string;
        timestamp: string;
        heart_rate: number | null;
        blood_pressure_systolic: number | null;
      };
      const t = Date.parse(m.timestamp);
      const t0 = first.get(m.patient_id) ?? t;
      first.set(m.patient_id, t0);
      if (t - t0 >= 86_400_000) continue;
      if (m.blood_pressure_systolic !== null) add(`${m.patient_id}|SBP`, m.blood_pressure_systolic);
      if (m.heart_rate !== null) add(`${m.patient_id}|HR`, m.heart_rate);
    }
    const seenLab = new Set<string>();
    for (const line of sink.messages['lab-results']) {
      const m = JSON.parse(line) as { patient_id: string; test_name: string; value: number; unit: string };
      if (m.test_name !== 'ALT' && m.test_name !== 'CREAT') continue;
      const key = `${m.patient_id}|${m.test_name}`;
      if (seenLab.has(key)) continue;
      seenLab.add(key);
      const factor =
        m.unit === ref.labs[m.test_name]?.unit_conventional ? 1 : (ref.labs[m.test_name]?.si_factor ?? 1);
      add(key, m.value / factor);
    }
    const bySex = (what: string, s: 'M' | 'F') => {
      let sum = 0;
      let n = 0;
      for (const [k, a] of acc) {
        const [pid, w] = k.split('|');
        if (w !== what || sex.get(pid ?? '') !== s) continue;
        sum += a.s / a.n;
        n++;
      }
      return sum / n;
    };
    for (const s of ['F', 'M'] as const) {
      const sbp = ref.vitals.SYSBP?.by[s]?.mean ?? 0;
      const hr = ref.vitals.PULSE?.by[s]?.mean ?? 0;
      const alt = ref.labs.ALT?.by[s]?.mean ?? 0;
      const creat = ref.labs.CREAT?.by[s]?.mean ?? 0;
      expect(Math.abs(bySex('SBP', s) - sbp), `SBP ${s}`).toBeLessThan(4);
      expect(Math.abs(bySex('HR', s) - hr), `HR ${s}`).toBeLessThan(3);
      expect(Math.abs(bySex('ALT', s) / alt - 1), `ALT ${s}`).toBeLessThan(0.15);
      expect(Math.abs(bySex('CREAT', s) / creat - 1), `CREAT ${s}`).toBeLessThan(0.1);
    }
  }, 60_000);
});
