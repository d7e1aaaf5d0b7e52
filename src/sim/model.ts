import type { AeType, SimulatorParams, SiteParams } from './params.js';
import { AE_TYPES } from './params.js';
import { ageBand, loadReference, type Reference, stratum } from './reference.js';
import type { Rng } from './rng.js';

/** Lab tests in engine order; index constants keep the hot path off string lookups. */
export const LAB_TESTS = [
  'ALT',
  'AST',
  'BILI',
  'ALP',
  'CREAT',
  'BUN',
  'K',
  'SODIUM',
  'WBC',
  'NEUT',
  'HGB',
  'PLAT',
  'GLUC',
] as const;
export type LabTest = (typeof LAB_TESTS)[number];
export const L = Object.fromEntries(LAB_TESTS.map((t, i) => [t, i])) as Record<LabTest, number>;
export const AE = Object.fromEntries(AE_TYPES.map((t, i) => [t, i])) as Record<AeType, number>;

export interface Baseline {
  hr: number;
  sbp: number;
  dbp: number;
  tempC: number;
  spo2: number;
  rr: number;
  weightKg: number;
  heightCm: number;
  /** Conventional units (U/L, mg/dL, THOU/uL, g/dL, mEq/L). */
  labs: Float64Array;
}

export interface PatientProfile {
  index: number;
  id: string;
  site: SiteParams;
  siteIndex: number;
  arm: 'treatment' | 'control';
  age: number;
  sex: 'M' | 'F';
  comorbidities: string[];
  enrollMs: number;
  baseline: Baseline;
  /** Daily hazard multipliers from everything fixed at enrollment (arm, comorbidities, physiology, age). */
  hazardFixed: Float64Array;
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : Math.min(x, hi);
}

/**
 * Comorbidity effects on baselines are mean-preserving: the pilot population already contains
 * hypertensive, diabetic ... patients, so the effect is divided by its population average and the
 * simulated marginals stay anchored to the reference.
 */
function comorbidityFactors(p: SimulatorParams, has: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, c] of Object.entries(p.comorbidities)) {
    for (const [k, v] of Object.entries(c.baseline)) {
      const additive = k === 'SPO2';
      const mean = additive ? c.prevalence * v : 1 + c.prevalence * (v - 1);
      const own = has.includes(name) ? v : additive ? 0 : 1;
      const cur = out.get(k) ?? (additive ? 0 : 1);
      out.set(k, additive ? cur + own - mean : (cur * own) / mean);
    }
  }
  return out;
}

export function sampleBaseline(
  p: SimulatorParams,
  ref: Reference,
  rng: Rng,
  sex: 'M' | 'F',
  age: number,
  comorbidities: readonly string[],
): Baseline {
  const band = ageBand(ref, age);
  const f = comorbidityFactors(p, comorbidities);
  const vital = (code: string) => {
    const v = ref.vitals[code];
    if (v === undefined) throw new Error(`reference has no vital ${code}`);
    const s = stratum(v.by, sex, band);
    return rng.gauss(s.mean, s.sd) * (f.get(code) ?? 1);
  };
  const sbp = clamp(vital('SYSBP'), 95, 200);
  const dbp = clamp(vital('DIABP'), 45, Math.min(115, sbp - 25));
  const labs = new Float64Array(LAB_TESTS.length);
  for (const t of LAB_TESTS) {
    if (t === 'NEUT') continue;
    const lr = ref.labs[t];
    if (lr === undefined) throw new Error(`reference has no lab ${t}`);
    const s = stratum(lr.by, sex, band);
    labs[L[t]] = Math.exp(rng.gauss(s.log_mean, s.log_sd)) * (f.get(t) ?? 1);
  }
  const nf = p.labs.neutrophil_fraction;
  labs[L.NEUT] = labs[L.WBC]! * clamp(rng.gauss(nf.mean, nf.sd), 0.4, 0.8);
  return {
    hr: clamp(vital('PULSE'), 48, 110),
    sbp,
    dbp,
    tempC: clamp(vital('TEMP'), 35.9, 37.4),
    spo2: clamp(rng.gauss(p.vitals.spo2.mean, p.vitals.spo2.sd) + (f.get('SPO2') ?? 0), 88, 99.5),
    rr: clamp(rng.gauss(p.vitals.respiratory_rate.mean, p.vitals.respiratory_rate.sd), 10, 24),
    weightKg: clamp(vital('WEIGHT'), 35, 160),
    heightCm: clamp(vital('HEIGHT'), 135, 205),
    labs,
  };
}

/** Value of a named baseline variable (hazard physiology terms use vital codes and lab tests). */
export function baselineValue(b: Baseline, variable: string): number {
  switch (variable) {
    case 'SYSBP':
      return b.sbp;
    case 'DIABP':
      return b.dbp;
    case 'PULSE':
      return b.hr;
    case 'TEMP':
      return b.tempC;
    case 'SPO2':
      return b.spo2;
    default: {
      const i = L[variable as LabTest];
      if (i === undefined) throw new Error(`unknown physiology variable ${variable}`);
      return b.labs[i]!;
    }
  }
}

export function fixedHazards(p: SimulatorParams, prof: Omit<PatientProfile, 'hazardFixed'>): Float64Array {
  const h = new Float64Array(AE_TYPES.length);
  const ageMult = (prof.age / p.events.age_reference) ** p.events.age_exponent;
  for (const t of AE_TYPES) {
    const tp = p.events.types[t];
    let m = tp.base_hazard * ageMult;
    if (prof.arm === 'treatment') m *= tp.treatment_rr;
    for (const c of prof.comorbidities) m *= p.comorbidities[c]?.hazard[t] ?? 1;
    const phys =
      (baselineValue(prof.baseline, tp.physiology.variable) / tp.physiology.reference) **
      tp.physiology.exponent;
    m *= clamp(phys, 0.2, 5);
    h[AE[t]] = m;
  }
  return h;
}

function padded(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/**
 * The trial population: site by weight, staggered enrollment (each site activates at its own
 * fraction of the enrollment window), 1:1-ish randomization, age and sex from the pilot's DM,
 * comorbidities by prevalence.
 */
export function buildPopulation(
  p: SimulatorParams,
  rng: Rng,
  nPatients: number,
  days: number,
  startMs: number,
  ref: Reference = loadReference(),
): PatientProfile[] {
  const windowDays = Math.min(p.enrollment_window_max_days, Math.floor(days * p.enrollment_window_fraction));
  const siteWeights = p.sites.map((s) => s.weight);
  const perSite = new Map<string, number>();
  const out: PatientProfile[] = [];
  for (let i = 0; i < nPatients; i++) {
    const siteIndex = rng.weighted(siteWeights);
    const site = p.sites[siteIndex]!;
    const seq = (perSite.get(site.id) ?? 0) + 1;
    perSite.set(site.id, seq);
    const sex: 'M' | 'F' = rng.chance(ref.demographics.female_fraction) ? 'F' : 'M';
    const ages = ref.demographics.age[sex] ?? [];
    const age = ages.length > 0 ? rng.pick(ages) : 75;
    const comorbidities = Object.entries(p.comorbidities)
      .filter(([, c]) => rng.chance(c.prevalence))
      .map(([name]) => name);
    const firstDay = Math.floor(site.activation * windowDays);
    const day = windowDays <= 0 ? 0 : rng.int(firstDay, windowDays);
    const [h0, h1] = p.enrollment_hours;
    const localHour = rng.uniform(h0, h1);
    const utcHour = (((localHour - site.tz_offset_hours) % 24) + 24) % 24;
    const enrollMs = startMs + day * 86_400_000 + Math.floor(utcHour * 3600) * 1000;
    const arm = rng.chance(p.treatment_fraction) ? 'treatment' : 'control';
    const baseline = sampleBaseline(p, ref, rng, sex, age, comorbidities);
    const prof = {
      index: i,
      id: `${p.trial_id}-${site.id}-${padded(seq, 4)}`,
      site,
      siteIndex,
      arm,
      age,
      sex,
      comorbidities,
      enrollMs,
      baseline,
    } as const;
    out.push({ ...prof, hazardFixed: fixedHazards(p, prof) });
  }
  return out;
}
