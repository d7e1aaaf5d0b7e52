import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { AepredError } from '../shared/errors.js';
import { REPO_ROOT } from '../shared/paths.js';

/**
 * contracts/features.yaml loaded strictly (the same rules as pipelines/featureset.py) and the
 * feature-set hash, computed from the canonical serialization of docs/features.md#hash so that a
 * model exported by Python and the running TypeScript definition can be compared byte for byte.
 */
export const OPS = [
  'mean',
  'std',
  'var',
  'min',
  'max',
  'slope',
  'count',
  'last',
  'delta_from_baseline',
  'rate_of_change',
  'missing_flag',
  'instability_score',
  'interaction_count',
  'interaction_flag',
  'active_count',
  'static',
  'days_since',
] as const;
export type Op = (typeof OPS)[number];
export const SOURCES = ['vitals', 'labs', 'medications', 'adverse_events', 'enrollment', 'derived'] as const;
export type Source = (typeof SOURCES)[number];

const DURATION = /^([1-9][0-9]*)([mhd])$/;
const UNIT_MS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000 };
const SYMBOLIC_WINDOWS = new Set(['ffill', 'all', 'active', 'none']);

export function durationMs(text: string): number {
  const m = DURATION.exec(text);
  if (!m) throw new AepredError('AEP_FEATURES_INVALID', `not a duration: ${JSON.stringify(text)}`);
  return Number(m[1]) * (UNIT_MS[m[2]!] ?? 0);
}

const duration = z.string().refine((s) => DURATION.test(s), 'expected a duration such as 90m, 6h, 3d');

const FeatureSchema = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/),
  dtype: z.enum(['float64', 'int32']),
  source: z.enum(SOURCES),
  signal: z.string().min(1),
  op: z.enum(OPS),
  window: z.string().refine((w) => SYMBOLIC_WINDOWS.has(w) || DURATION.test(w), 'not a window'),
  unit: z.string().min(1),
  description: z.string().min(1),
});
export type Feature = z.infer<typeof FeatureSchema>;

const SettingsSchema = z.strictObject({
  ffill_limit: duration,
  baseline_window: duration,
  clock_unit: z.literal('h'),
  dose_active_window: duration,
  instability_signals: z.array(z.string()),
});
export type FeatureSettings = z.infer<typeof SettingsSchema>;

const FeatureSetSchema = z
  .strictObject({
    version: z.number().int().min(1),
    settings: SettingsSchema,
    features: z.array(FeatureSchema),
  })
  .superRefine((fs, ctx) => {
    const seen = new Set<string>();
    for (const f of fs.features) {
      if (seen.has(f.name)) ctx.addIssue({ code: 'custom', message: `feature declared twice: ${f.name}` });
      seen.add(f.name);
    }
  });

/** A hex SHA-256 of the canonical definition; the brand keeps it apart from other strings. */
export type FeatureSetHash = string & { readonly __brand: 'FeatureSetHash' };

export interface FeatureSet {
  readonly version: number;
  readonly settings: FeatureSettings;
  readonly features: readonly Feature[];
  readonly names: readonly string[];
  readonly hash: FeatureSetHash;
}

export const FEATURES_PATH = resolve(REPO_ROOT, 'contracts', 'features.yaml');

export function parseFeatureSet(raw: unknown, origin = 'features.yaml'): FeatureSet {
  const parsed = FeatureSetSchema.safeParse(raw);
  if (!parsed.success) {
    throw new AepredError('AEP_FEATURES_INVALID', `invalid feature definition ${origin}`, {
      kind: 'config',
      detail: parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n'),
    });
  }
  const { version, settings, features } = parsed.data;
  return {
    version,
    settings,
    features,
    names: features.map((f) => f.name),
    hash: featureSetHash(version, settings, features),
  };
}

export function loadFeatureSet(path = FEATURES_PATH): FeatureSet {
  return parseFeatureSet(parse(readFileSync(path, 'utf8')), path);
}

let cached: FeatureSet | undefined;
export function defaultFeatureSet(): FeatureSet {
  cached ??= loadFeatureSet();
  return cached;
}

/** Look-back of a duration window in ms; undefined for symbolic windows other than ffill. */
export function windowMs(fs: Pick<FeatureSet, 'settings'>, f: Feature): number | undefined {
  if (f.window === 'ffill') return durationMs(fs.settings.ffill_limit);
  if (SYMBOLIC_WINDOWS.has(f.window)) return undefined;
  return durationMs(f.window);
}

type Json = null | boolean | number | string | readonly Json[] | { readonly [k: string]: Json };

/**
 * Sorted keys, no whitespace, no floats: Python's json.dumps(sort_keys=True, separators=(",", ":"),
 * ensure_ascii=False). Floats are refused because the two languages print them differently.
 */
export function canonicalJson(value: Json): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isInteger(value))
      throw new TypeError(`floats are not allowed in the canonical payload: ${value}`);
    return String(value);
  }
  if (Array.isArray(value)) return `[${value.map((v: Json) => canonicalJson(v)).join(',')}]`;
  const obj = value as { readonly [k: string]: Json };
  // Python sorts by code point; JS's default sort compares UTF-16 units, equal for the ASCII keys here.
  const keys = Object.keys(obj).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k]!)}`).join(',')}}`;
}

function featureSetHash(
  version: number,
  settings: FeatureSettings,
  features: readonly Feature[],
): FeatureSetHash {
  const payload: Json = {
    version,
    settings: { ...settings, instability_signals: [...settings.instability_signals] },
    features: features.map(({ description: _d, ...rest }) => rest),
  };
  return createHash('sha256').update(canonicalJson(payload), 'utf8').digest('hex') as FeatureSetHash;
}
