import type { EnrollmentRecord } from '../contracts/types.js';
import type { MemorySink } from '../producers/memory-sink.js';

/**
 * Statistics of a simulated run computed from its messages alone (what a downstream consumer would
 * see), for the statistics tests and docs/simulator.md.
 */
export interface AeStats {
  patientDays: number;
  eventDays: number;
  rate: number;
  byArm: Record<string, { patientDays: number; eventDays: number; rate: number }>;
  bySite: Record<string, { patientDays: number; eventDays: number; rate: number }>;
  byType: Record<string, number>;
}

const DAY = 86_400_000;

export function aeStats(sink: MemorySink, endMs: number): AeStats {
  const enr = new Map<string, EnrollmentRecord>(sink.enrollment.map((e) => [e.patient_id, e]));
  const days = new Map<string, number>();
  for (const e of sink.enrollment) {
    // Enrollment happens during the enrollment date: count days from its start (a patient-day is a calendar day).
    days.set(e.patient_id, Math.max(0, (endMs - Date.parse(`${e.enrollment_date}T00:00:00Z`)) / DAY));
  }
  const eventDays = new Set<string>();
  const byType: Record<string, number> = {};
  for (const line of sink.messages['adverse-events']) {
    const m = JSON.parse(line) as { patient_id: string; event_timestamp: string; event_type: string };
    eventDays.add(`${m.patient_id}|${m.event_timestamp.slice(0, 10)}`);
    byType[m.event_type] = (byType[m.event_type] ?? 0) + 1;
  }
  const group = (key: (e: EnrollmentRecord) => string) => {
    const out: Record<string, { patientDays: number; eventDays: number; rate: number }> = {};
    for (const e of sink.enrollment) {
      const k = key(e);
      const g = out[k] ?? { patientDays: 0, eventDays: 0, rate: 0 };
      out[k] = g;
      g.patientDays += days.get(e.patient_id) ?? 0;
    }
    for (const k of eventDays) {
      const e = enr.get(k.split('|')[0] ?? '');
      if (e !== undefined) (out[key(e)] ?? { eventDays: 0 }).eventDays++;
    }
    for (const g of Object.values(out)) g.rate = g.eventDays / g.patientDays;
    return out;
  };
  let patientDays = 0;
  for (const d of days.values()) patientDays += d;
  return {
    patientDays,
    eventDays: eventDays.size,
    rate: eventDays.size / patientDays,
    byArm: group((e) => e.arm ?? 'none'),
    bySite: group((e) => e.site_id),
    byType,
  };
}

interface Series {
  t: number[];
  v: number[];
}

/**
 * Does a window before time `te` show the physiological signature of an adverse-event type? Measured
 * against the patient's own early values, in units that cancel (ratios, same-device differences).
 */
export class SignatureProbe {
  readonly #series = new Map<string, Series>();
  readonly #baseline = new Map<string, number>();

  constructor(sink: MemorySink) {
    const add = (key: string, t: number, v: number) => {
      let s = this.#series.get(key);
      if (s === undefined) {
        s = { t: [], v: [] };
        this.#series.set(key, s);
      }
      s.t.push(t);
      s.v.push(v);
    };
    for (const line of sink.messages['patient-vitals']) {
      const m = JSON.parse(line) as {
        patient_id: string;
        timestamp: string;
        heart_rate: number | null;
        blood_pressure_systolic: number | null;
      };
      const t = Date.parse(m.timestamp);
      if (m.heart_rate !== null) add(`${m.patient_id}|HR`, t, m.heart_rate);
      if (m.blood_pressure_systolic !== null) add(`${m.patient_id}|SBP`, t, m.blood_pressure_systolic);
    }
    for (const line of sink.messages['lab-results']) {
      const m = JSON.parse(line) as {
        patient_id: string;
        timestamp: string;
        test_name: string;
        value: number;
      };
      add(`${m.patient_id}|${m.test_name}`, Date.parse(m.timestamp), m.value);
    }
    for (const [k, s] of this.#series) {
      // Vitals: mean of the first 24 h; labs: the first draw.
      if (k.endsWith('|HR') || k.endsWith('|SBP')) {
        const t0 = s.t[0] ?? 0;
        let sum = 0;
        let n = 0;
        for (let i = 0; i < s.t.length && s.t[i]! < t0 + DAY; i++) {
          sum += s.v[i]!;
          n++;
        }
        this.#baseline.set(k, sum / n);
      } else this.#baseline.set(k, s.v[0] ?? Number.NaN);
    }
  }

  #window(key: string, from: number, to: number): number[] {
    const s = this.#series.get(key);
    if (s === undefined) return [];
    // Series are in time order (a patient's messages are generated in order): binary search.
    let lo = 0;
    let hi = s.t.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (s.t[mid]! < from) lo = mid + 1;
      else hi = mid;
    }
    const out: number[] = [];
    for (let i = lo; i < s.t.length && s.t[i]! < to; i++) out.push(s.v[i]!);
    return out;
  }

  /** true/false, or undefined when the window has no data. */
  present(patient: string, type: string, te: number): boolean | undefined {
    const H = 3_600_000;
    const lab = (test: string, agg: 'max' | 'min') => {
      const w = this.#window(`${patient}|${test}`, te - 48 * H, te - H);
      const b = this.#baseline.get(`${patient}|${test}`);
      if (w.length === 0 || b === undefined) return undefined;
      return (agg === 'max' ? Math.max(...w) : Math.min(...w)) / b;
    };
    const vital = (name: string) => {
      const w = this.#window(`${patient}|${name}`, te - 12 * H, te - H);
      const b = this.#baseline.get(`${patient}|${name}`);
      if (w.length < 12 || b === undefined) return undefined;
      return w.reduce((a, x) => a + x, 0) / w.length - b;
    };
    const cmp = (x: number | undefined, f: (x: number) => boolean) => (x === undefined ? undefined : f(x));
    switch (type) {
      case 'hepatotoxicity':
        return cmp(lab('ALT', 'max'), (x) => x >= 1.5);
      case 'acute_kidney_injury': {
        const bun = lab('BUN', 'max');
        const cr = lab('CREAT', 'max');
        return bun === undefined || cr === undefined ? undefined : bun >= 1.25 || cr >= 1.15;
      }
      case 'neutropenia':
        return cmp(lab('NEUT', 'min'), (x) => x <= 0.8);
      case 'hypotension':
        return cmp(vital('SBP'), (x) => x <= -10);
      case 'tachyarrhythmia':
        return cmp(vital('HR'), (x) => x >= 10);
      default:
        return undefined;
    }
  }
}
