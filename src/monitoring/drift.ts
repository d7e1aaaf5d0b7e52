/**
 * Per-feature data drift against the training reference shipped with the model, in bounded memory.
 *
 * The reference holds, per feature, the training min and max, the missing rate and a quantile
 * binning: `edges` (strictly increasing) cut the real line into edges.length + 1 bins
 * (-inf, e0], (e0, e1], ..., (e_last, +inf) and `proportions` is the training share of non-missing
 * values in each. Live values are counted into the same bins per event-time bucket (buckets.ts), so
 * a window costs O(features x bins) whatever the traffic. From the two binned distributions:
 * - KS: the largest CDF difference over the edges. With one edge per distinct value (discrete
 *   features) this is the exact two-sample KS statistic; with quantile edges it is within the
 *   reference mass of one bin (1 / bins) of it.
 * - PSI over `psiBins` groups of adjacent bins of about equal reference mass.
 * - Wasserstein-1 (in the feature's unit) from the CDFs between edges.
 * - Missing rate and the count of values outside the training [min, max].
 */
import { z } from 'zod';
import { EventTimeWindow } from './buckets.js';

export const FeatureReferenceSchema = z
  .strictObject({
    name: z.string().min(1),
    min: z.number(),
    max: z.number(),
    missing_rate: z.number().min(0).max(1),
    edges: z.array(z.number()),
    proportions: z.array(z.number().min(0)),
  })
  .refine((f) => f.min <= f.max, 'min must not exceed max')
  .refine((f) => f.proportions.length === f.edges.length + 1, 'proportions needs edges.length + 1 entries')
  .refine(
    (f) => f.edges.every((e, i) => i === 0 || e > (f.edges[i - 1] ?? e)),
    'edges must increase strictly',
  )
  .refine(
    (f) => f.proportions.length === 0 || Math.abs(f.proportions.reduce((a, b) => a + b, 0) - 1) < 1e-6,
    'proportions must sum to 1',
  );

/**
 * One segment's (site's) reference: every patient of the segment in the training window, the
 * features the drift rule counts (ml/drift_reference.py; docs/monitoring.md "Site-level drift").
 */
export const SegmentReferenceSchema = z.strictObject({
  key: z.string().min(1),
  patients: z.number().int().positive(),
  rows: z.number().int().positive(),
  features: z.array(FeatureReferenceSchema).min(1),
});

/** The training reference as shipped beside the model (drift_reference.json), same feature-set hash. */
export const TrainingReferenceSchema = z.strictObject({
  schema_version: z.literal(1),
  feature_set_hash: z.string().min(1),
  rows: z.number().int().nonnegative(),
  features: z.array(FeatureReferenceSchema).min(1),
  /** Per-segment references (monitoring.segment_by); absent in references built without one. */
  segments: z
    .strictObject({
      by: z.literal('site_id'),
      groups: z
        .array(SegmentReferenceSchema)
        .refine((g) => new Set(g.map((x) => x.key)).size === g.length, 'segment keys must be unique'),
    })
    .optional(),
});

export type SegmentReference = z.infer<typeof SegmentReferenceSchema>;

export type FeatureReference = z.infer<typeof FeatureReferenceSchema>;
export type TrainingReference = z.infer<typeof TrainingReferenceSchema>;

function isMissing(v: number | null | undefined): v is null | undefined {
  return v === null || v === undefined || Number.isNaN(v);
}

/** Index of the bin of `v`: the number of edges strictly below it. */
export function binOf(edges: readonly number[], v: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((edges[mid] ?? 0) < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A reference from raw training values (what the training job does in Python; here for tests and
 * for references built from a sample). Edges are the distinct quantiles at k / bins.
 */
export function buildFeatureReference(
  name: string,
  values: ArrayLike<number | null>,
  bins = 100,
): FeatureReference {
  const present: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!isMissing(v)) present.push(v);
  }
  present.sort((a, b) => a - b);
  const n = present.length;
  if (n === 0) throw new RangeError(`feature ${name}: no non-missing values to build a reference from`);
  const edges: number[] = [];
  for (let k = 1; k < bins; k++) {
    const q = present[Math.min(n - 1, Math.floor((k * n) / bins))] ?? 0;
    if (edges.length === 0 || q > (edges.at(-1) ?? q)) edges.push(q);
  }
  // The largest value closes the last finite bin, so values above the training max fall in a bin
  // of their own (reference mass 0).
  const max = present[n - 1] ?? 0;
  if (edges.length === 0 || max > (edges.at(-1) ?? max)) edges.push(max);
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const v of present) {
    const b = binOf(edges, v);
    counts[b] = (counts[b] ?? 0) + 1;
  }
  return {
    name,
    min: present[0] ?? 0,
    max,
    missing_rate: (values.length - n) / values.length,
    edges,
    proportions: counts.map((c) => c / n),
  };
}

/** Exact two-sample KS statistic (for tests and offline checks). */
export function ksTwoSample(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const x = Float64Array.from(a).sort();
  const y = Float64Array.from(b).sort();
  if (x.length === 0 || y.length === 0) return 0;
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i] ?? 0, y[j] ?? 0);
    while (i < x.length && x[i] === v) i++;
    while (j < y.length && y[j] === v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  return d;
}

/** Largest CDF difference over the bin edges of two binned distributions (proportions). */
export function ksFromBins(ref: readonly number[], live: readonly number[]): number {
  let fr = 0;
  let fl = 0;
  let d = 0;
  for (let k = 0; k < ref.length - 1; k++) {
    fr += ref[k] ?? 0;
    fl += live[k] ?? 0;
    d = Math.max(d, Math.abs(fr - fl));
  }
  return d;
}

const PSI_FLOOR = 1e-4;

/**
 * Population stability index over groups of adjacent bins of about equal reference mass (at most
 * `groups`); proportions are floored at 1e-4 so an empty group gives a large, finite value.
 */
export function psiFromBins(ref: readonly number[], live: readonly number[], groups: number): number {
  let psi = 0;
  let r = 0;
  let l = 0;
  let cum = 0;
  let next = 1 / groups;
  const flush = (): void => {
    const rr = Math.max(r, PSI_FLOOR);
    const ll = Math.max(l, PSI_FLOOR);
    psi += (ll - rr) * Math.log(ll / rr);
    r = 0;
    l = 0;
  };
  for (let k = 0; k < ref.length; k++) {
    r += ref[k] ?? 0;
    l += live[k] ?? 0;
    cum += ref[k] ?? 0;
    if (cum >= next - 1e-12 && k < ref.length - 1) {
      flush();
      while (next <= cum + 1e-12) next += 1 / groups;
    }
  }
  flush();
  return psi;
}

/**
 * Wasserstein-1 distance between binned distributions: the area between the CDFs, known at the edges
 * and interpolated between them (the open tail bins add nothing: their width is unknown).
 */
export function wassersteinFromBins(
  edges: readonly number[],
  ref: readonly number[],
  live: readonly number[],
): number {
  let fr = ref[0] ?? 0;
  let fl = live[0] ?? 0;
  let w = 0;
  for (let k = 0; k < edges.length - 1; k++) {
    const d0 = Math.abs(fr - fl);
    fr += ref[k + 1] ?? 0;
    fl += live[k + 1] ?? 0;
    // Trapezoid between the CDF differences at the two edges: within a bin the CDFs are unknown.
    w += ((d0 + Math.abs(fr - fl)) / 2) * ((edges[k + 1] ?? 0) - (edges[k] ?? 0));
  }
  return w;
}

export interface FeatureDrift {
  readonly feature: string;
  /** Values seen in the window, missing included. */
  readonly count: number;
  readonly ks: number | null;
  readonly psi: number | null;
  readonly wasserstein: number | null;
  readonly missingRate: number | null;
  readonly referenceMissingRate: number;
  /** Values below the training min or above the training max. */
  readonly outOfRange: number;
}

export interface DriftSnapshot {
  readonly features: readonly FeatureDrift[];
  /** Features whose KS statistic exceeds `ksThreshold`. */
  readonly drifted: readonly string[];
  readonly ksThreshold: number;
}

export interface DriftWindowOptions {
  readonly windowMs: number;
  readonly bucketMs: number;
  readonly psiBins: number;
  readonly ksThreshold: number;
}

export const DEFAULT_DRIFT_OPTIONS: DriftWindowOptions = {
  windowMs: 24 * 3_600_000,
  bucketMs: 3_600_000,
  psiBins: 10,
  ksThreshold: 0.2,
};

export type FeatureVector = Readonly<Record<string, number | null | undefined>>;

/** A model input (feature-set order) as the named vector the drift windows read; NaN is missing. */
export function featureVector(names: readonly string[], x: ArrayLike<number>): FeatureVector {
  const v: Record<string, number | null> = {};
  names.forEach((n, i) => {
    const xi = x[i];
    v[n] = xi === undefined || Number.isNaN(xi) ? null : xi;
  });
  return v;
}

interface Layout {
  readonly ref: FeatureReference;
  /** Offset of the feature's section in a bucket: bins, then missing, then out-of-range. */
  readonly offset: number;
}

/** Live feature distributions over an event-time window, compared with the training reference. */
export class DriftWindow {
  readonly #opts: DriftWindowOptions;
  readonly #layout: Layout[];
  readonly #window: EventTimeWindow;

  constructor(reference: TrainingReference, opts: Partial<DriftWindowOptions> = {}) {
    const ref = TrainingReferenceSchema.parse(reference);
    this.#opts = { ...DEFAULT_DRIFT_OPTIONS, ...opts };
    if (!Number.isInteger(this.#opts.psiBins) || this.#opts.psiBins < 2)
      throw new RangeError('psiBins must be >= 2');
    let offset = 0;
    this.#layout = ref.features.map((f) => {
      const l = { ref: f, offset };
      offset += f.proportions.length + 2;
      return l;
    });
    this.#window = new EventTimeWindow({
      spanMs: this.#opts.windowMs,
      bucketMs: this.#opts.bucketMs,
      size: offset,
    });
  }

  get features(): readonly string[] {
    return this.#layout.map((l) => l.ref.name);
  }

  /** Vectors refused because their event time had already left the window. */
  get dropped(): number {
    return this.#window.dropped;
  }

  /** One scored feature vector at event time `at`; features absent from the vector count as missing. */
  observe(at: number, vector: FeatureVector, now: number): void {
    const b = this.#window.bucket(at, now);
    if (!b) return;
    for (const { ref, offset } of this.#layout) {
      const v = vector[ref.name];
      const bins = ref.proportions.length;
      if (isMissing(v)) {
        b[offset + bins] = (b[offset + bins] ?? 0) + 1;
        continue;
      }
      const k = offset + binOf(ref.edges, v);
      b[k] = (b[k] ?? 0) + 1;
      if (v < ref.min || v > ref.max) b[offset + bins + 1] = (b[offset + bins + 1] ?? 0) + 1;
    }
  }

  snapshot(now: number): DriftSnapshot {
    const sum = this.#window.sum(now);
    const features = this.#layout.map(({ ref, offset }) =>
      featureDrift(ref, sum, offset, this.#opts.psiBins),
    );
    const t = this.#opts.ksThreshold;
    return {
      features,
      drifted: features.filter((f) => f.ks !== null && f.ks > t).map((f) => f.feature),
      ksThreshold: t,
    };
  }
}

function featureDrift(
  ref: FeatureReference,
  sum: Float64Array,
  offset: number,
  psiBins: number,
): FeatureDrift {
  const bins = ref.proportions.length;
  const counts = Array.from(sum.subarray(offset, offset + bins));
  const missing = sum[offset + bins] ?? 0;
  const outOfRange = sum[offset + bins + 1] ?? 0;
  const present = counts.reduce((a, b) => a + b, 0);
  const count = present + missing;
  const live = present > 0 ? counts.map((c) => c / present) : null;
  return {
    feature: ref.name,
    count,
    ks: live ? ksFromBins(ref.proportions, live) : null,
    psi: live ? psiFromBins(ref.proportions, live, psiBins) : null,
    wasserstein: live ? wassersteinFromBins(ref.edges, ref.proportions, live) : null,
    missingRate: count > 0 ? missing / count : null,
    referenceMissingRate: ref.missing_rate,
    outOfRange,
  };
}
