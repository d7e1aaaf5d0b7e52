import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { AepredError } from '../shared/errors.js';
import { REPO_ROOT } from '../shared/paths.js';
import type { FeaturePlan, MedAction, PatientFeatures } from './engine.js';

/**
 * Topic message -> canonical observation, by the rules silver applies (pipelines/silver.py,
 * docs/silver.md): units by contracts/units.yaml, the inclusive vital ranges of params.yaml (a row
 * with any value out of range or in an unknown unit is rejected whole), lab arrival = reported_at
 * or timestamp, medication names lower-cased and trimmed, action "start" when absent.
 */

const Linear = z.strictObject({
  offset: z.number().default(0),
  multiply: z.number().positive().default(1),
  divide: z.number().positive().default(1),
});
const Quantity = z.strictObject({
  canonical: z.string(),
  aliases: z.array(z.string()).default([]),
  units: z.record(
    z.string(),
    Linear.nullable().transform((l) => l ?? { offset: 0, multiply: 1, divide: 1 }),
  ),
});
const UnitsFile = z.strictObject({
  version: z.number().int(),
  unit_aliases: z.record(z.string(), z.string()),
  vitals: z.record(z.string(), Quantity),
  labs: z.record(z.string(), Quantity),
});
type Lin = z.infer<typeof Linear>;
type UnitsSpec = z.infer<typeof UnitsFile>;

export const UNITS_PATH = resolve(REPO_ROOT, 'contracts', 'units.yaml');

export class UnitsTable {
  readonly spec: UnitsSpec;
  readonly #names = new Map<string, string>();

  constructor(spec: UnitsSpec) {
    this.spec = spec;
    for (const [code, q] of Object.entries(spec.labs)) {
      for (const s of [code, ...q.aliases]) this.#names.set(s, code);
    }
  }

  static load(path = UNITS_PATH): UnitsTable {
    const parsed = UnitsFile.safeParse(parse(readFileSync(path, 'utf8')));
    if (!parsed.success) {
      throw new AepredError('AEP_CONTRACT_INVALID', `invalid units table ${path}`, { kind: 'config' });
    }
    return new UnitsTable(parsed.data);
  }

  normalizeUnit(unit: string | null | undefined): string {
    const u = (unit ?? '').trim();
    return this.spec.unit_aliases[u] ?? u;
  }

  labCode(testName: string): string | undefined {
    return this.#names.get(testName.trim());
  }

  conversion(kind: 'vitals' | 'labs', code: string, unit: string | null | undefined): Lin | undefined {
    return this.spec[kind][code]?.units[this.normalizeUnit(unit)];
  }
}

export const toCanonical = (l: Lin, v: number): number => ((v - l.offset) * l.multiply) / l.divide;

export type Observation =
  | { kind: 'vitals'; time: number; source: string; values: Float64Array }
  | { kind: 'lab'; code: string; time: number; arrival: number; value: number; source: string }
  | { kind: 'medication'; time: number; drug: string; action: MedAction; end: number | null; source: string }
  | { kind: 'adverse_event'; time: number; report: number; eventType: string; source: string };

export type Normalized = { ok: true; obs: Observation } | { ok: false; reason: string };

type Msg = Readonly<Record<string, unknown>>;
const str = (m: Msg, k: string): string | undefined =>
  typeof m[k] === 'string' ? (m[k] as string) : undefined;
const num = (m: Msg, k: string): number | null => (typeof m[k] === 'number' ? (m[k] as number) : null);
const ms = (s: string | undefined): number => (s === undefined ? Number.NaN : Date.parse(s));

/** Vitals silver range-checks (every range of params.silver.ranges that names a vital column). */
const VITAL_COLUMNS = [
  'heart_rate',
  'blood_pressure_systolic',
  'blood_pressure_diastolic',
  'mean_arterial_pressure',
  'temperature',
  'spo2',
  'respiratory_rate',
  'etco2',
  'weight',
  'height',
] as const;
const CONVERTED: ReadonlyArray<readonly [string, string]> = [
  ['temperature', 'temperature_unit'],
  ['weight', 'weight_unit'],
  ['height', 'height_unit'],
];

export class Normalizer {
  readonly #plan: FeaturePlan;
  readonly #units: UnitsTable;
  readonly #ranges: ReadonlyArray<readonly [string, number, number]>;

  constructor(
    plan: FeaturePlan,
    units: UnitsTable,
    ranges: Readonly<Record<string, { min: number; max: number }>>,
  ) {
    this.#plan = plan;
    this.#units = units;
    this.#ranges = Object.entries(ranges)
      .filter(([k]) => (VITAL_COLUMNS as readonly string[]).includes(k))
      .map(([k, r]) => [k, r.min, r.max] as const);
  }

  normalize(topic: string, m: Msg): Normalized {
    const source = str(m, 'source') ?? '';
    switch (topic) {
      case 'patient-vitals':
        return this.#vitals(m, source);
      case 'lab-results': {
        const code = this.#units.labCode(str(m, 'test_name') ?? '');
        const lin = code === undefined ? undefined : this.#units.conversion('labs', code, str(m, 'unit'));
        const value = num(m, 'value');
        if (code === undefined || lin === undefined || value === null)
          return { ok: false, reason: 'unit_unknown' };
        const time = ms(str(m, 'timestamp'));
        const arrival = ms(str(m, 'reported_at') ?? str(m, 'timestamp'));
        return {
          ok: true,
          obs: { kind: 'lab', code, time, arrival, value: toCanonical(lin, value), source },
        };
      }
      case 'medications': {
        const end = str(m, 'end_timestamp');
        const action = (str(m, 'action') ?? 'start') as MedAction;
        const drug = (str(m, 'drug_name') ?? '').trim().toLowerCase();
        const time = ms(str(m, 'timestamp'));
        return {
          ok: true,
          obs: { kind: 'medication', time, drug, action, end: end ? ms(end) : null, source },
        };
      }
      case 'adverse-events': {
        const time = ms(str(m, 'event_timestamp'));
        const report = ms(str(m, 'report_timestamp'));
        return {
          ok: true,
          obs: { kind: 'adverse_event', time, report, eventType: str(m, 'event_type') ?? '', source },
        };
      }
      default:
        return { ok: false, reason: 'unknown_topic' };
    }
  }

  #vitals(m: Msg, source: string): Normalized {
    const canon: Record<string, number | null> = {};
    for (const c of VITAL_COLUMNS) canon[c] = num(m, c);
    for (const [col, unitCol] of CONVERTED) {
      const v = canon[col];
      if (v === null || v === undefined) continue;
      // An absent temperature unit is the contract's default, Celsius (contracts/bronze.md).
      const unit = str(m, unitCol) ?? (col === 'temperature' ? 'C' : undefined);
      const lin = unit === undefined ? undefined : this.#units.conversion('vitals', col, unit);
      if (lin === undefined) return { ok: false, reason: 'unit_unknown' };
      canon[col] = toCanonical(lin, v);
    }
    for (const [col, lo, hi] of this.#ranges) {
      const v = canon[col];
      if (v !== null && v !== undefined && (v < lo || v > hi)) return { ok: false, reason: `range_${col}` };
    }
    const signals = this.#plan.vitalSignals;
    const values = new Float64Array(signals.length);
    for (let s = 0; s < signals.length; s++) values[s] = canon[signals[s]!] ?? Number.NaN;
    return { ok: true, obs: { kind: 'vitals', time: ms(str(m, 'timestamp')), source, values } };
  }
}

/** Applies one observation; false when it changed nothing (a duplicate, or nothing the features read). */
export function applyObservation(pf: PatientFeatures, o: Observation): boolean {
  switch (o.kind) {
    case 'vitals':
      return pf.addVitals(o.time, o.source, o.values);
    case 'lab':
      return pf.addLab(o.code, o.time, o.arrival, o.value, o.source);
    case 'medication':
      return pf.addMedication(o.time, o.drug, o.action, o.end, o.source);
    case 'adverse_event':
      return pf.addAdverseEvent(o.time, o.report, o.eventType, o.source);
  }
}

/** When the observation became visible: report time for labs and adverse events, event time otherwise. */
export function arrivalOf(o: Observation): number {
  return o.kind === 'lab' ? o.arrival : o.kind === 'adverse_event' ? o.report : o.time;
}
