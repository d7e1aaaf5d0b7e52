import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { REPO_ROOT } from '../shared/paths.js';

/**
 * The CDISC pilot's baseline marginals (src/sim/reference/cdisc-marginals.json, derived by
 * pipelines/reference/cdisc_marginals.py). Patients' baselines are drawn from them by sex and age band.
 */
export interface Stat {
  n: number;
  mean: number;
  sd: number;
  log_mean: number;
  log_sd: number;
}
export type ByGroup = Record<string, Stat>;
export interface LabRef {
  name: string;
  unit_conventional: string;
  unit_si: string;
  si_factor: number;
  reference_range: Record<
    string,
    { conventional: [number | null, number | null]; si: [number | null, number | null] }
  >;
  by: ByGroup;
}
export interface Reference {
  source: string;
  age_bands: string[];
  demographics: { n: number; female_fraction: number; age: Record<string, number[]> };
  vitals: Record<string, { unit: string; by: ByGroup }>;
  labs: Record<string, LabRef>;
}

export const REFERENCE_PATH = resolve(REPO_ROOT, 'src/sim/reference/cdisc-marginals.json');

let cached: Reference | undefined;
export function loadReference(path = REFERENCE_PATH): Reference {
  if (path === REFERENCE_PATH && cached !== undefined) return cached;
  const ref = JSON.parse(readFileSync(path, 'utf8')) as Reference;
  if (path === REFERENCE_PATH) cached = ref;
  return ref;
}

/** The age band key of the reference table ("75-84"). */
export function ageBand(ref: Reference, age: number): string {
  for (const b of ref.age_bands) {
    const [lo, hi] = b.split('-').map(Number);
    if (lo !== undefined && hi !== undefined && age >= lo && age <= hi + 0.999) return b;
  }
  return ref.age_bands[ref.age_bands.length - 1] ?? '';
}

/** The most specific group with enough subjects: sex|band, then sex, then all. */
export function stratum(by: ByGroup, sex: string, band: string, minN = 10): Stat {
  const s = by[`${sex}|${band}`];
  if (s !== undefined && s.n >= minN) return s;
  const t = by[sex] ?? by.all;
  if (t === undefined) throw new Error('reference table has no "all" group');
  return t;
}
