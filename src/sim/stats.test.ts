import { beforeAll, describe, expect, it } from 'vitest';
import type { MemorySink } from '../producers/memory-sink.js';
import { AE_TYPES } from './params.js';
import { aeStats, SignatureProbe } from './stats.js';
import { simulateToMemory } from './testing.js';

const DAY = 86_400_000;
let sink: MemorySink;
let endMs: number;

describe('simulator statistics (200 patients x 30 days)', () => {
  beforeAll(async () => {
    ({ sink, endMs } = await simulateToMemory({ patients: 200, days: 30, seed: 2 }));
  }, 120_000);

  it('has about 5 % of patient-days with an adverse event, treatment above control, every site in range', () => {
    const s = aeStats(sink, endMs);
    expect(s.rate).toBeGreaterThan(0.035);
    expect(s.rate).toBeLessThan(0.065);
    const t = s.byArm.treatment;
    const c = s.byArm.control;
    expect(t && c).toBeTruthy();
    expect(t!.rate).toBeGreaterThan(1.4 * c!.rate);
    expect(Object.keys(s.bySite).length).toBeGreaterThanOrEqual(5);
    for (const [site, g] of Object.entries(s.bySite)) {
      expect(g.rate, site).toBeGreaterThan(0.01);
      expect(g.rate, site).toBeLessThan(0.12);
    }
    for (const type of AE_TYPES) expect(s.byType[type], type).toBeGreaterThan(10);
  });

  it('precedes events by their physiological signature more often than chance', () => {
    const probe = new SignatureProbe(sink);
    const aes = sink.messages['adverse-events'].map(
      (l) => JSON.parse(l) as { patient_id: string; event_type: string; event_timestamp: string },
    );
    const enrolled = new Map(
      sink.enrollment.map((e) => [e.patient_id, Date.parse(`${e.enrollment_date}T00:00:00Z`)]),
    );
    const aeTimes = new Map<string, number[]>();
    for (const a of aes) {
      const list = aeTimes.get(a.patient_id) ?? [];
      list.push(Date.parse(a.event_timestamp));
      aeTimes.set(a.patient_id, list);
    }
    let evHit = 0;
    let evN = 0;
    let ctlHit = 0;
    let ctlN = 0;
    for (const type of AE_TYPES) {
      let hit = 0;
      let n = 0;
      for (const a of aes) {
        if (a.event_type !== type) continue;
        const te = Date.parse(a.event_timestamp);
        if (te - (enrolled.get(a.patient_id) ?? te) < 3 * DAY) continue;
        const p = probe.present(a.patient_id, type, te);
        if (p === undefined) continue;
        n++;
        if (p) hit++;
      }
      // Controls: one instant a day per patient, at least 3 days from any adverse event.
      let chit = 0;
      let cn = 0;
      for (const e of sink.enrollment) {
        const t0 = enrolled.get(e.patient_id) ?? 0;
        for (let te = t0 + 3 * DAY + 7 * 3_600_000; te < endMs; te += DAY) {
          if ((aeTimes.get(e.patient_id) ?? []).some((x) => Math.abs(x - te) < 3 * DAY)) continue;
          const p = probe.present(e.patient_id, type, te);
          if (p === undefined) continue;
          cn++;
          if (p) chit++;
        }
      }
      expect(n, type).toBeGreaterThan(10);
      expect(hit / n, `${type}: ${hit}/${n} events vs ${chit}/${cn} controls`).toBeGreaterThan(
        2.5 * (chit / cn),
      );
      evHit += hit;
      evN += n;
      ctlHit += chit;
      ctlN += cn;
    }
    // Partial signal: most, not all, events show it (abrupt events have none).
    expect(evHit / evN).toBeGreaterThan(0.35);
    expect(evHit / evN).toBeLessThan(0.95);
    expect(evHit / evN).toBeGreaterThan(5 * (ctlHit / ctlN));
  }, 60_000);
});
