import { describe, expect, it } from 'vitest';
import { Rng } from '../sim/rng.js';
import {
  buildFeatureReference,
  DriftWindow,
  featureVector,
  ksFromBins,
  ksTwoSample,
  psiFromBins,
  type TrainingReference,
  TrainingReferenceSchema,
} from './drift.js';

const H = 3_600_000;

function sample(rng: Rng, n: number, mean: number, sd: number): number[] {
  return Array.from({ length: n }, () => rng.gauss(mean, sd));
}

function reference(features: Record<string, Array<number | null>>): TrainingReference {
  return {
    schema_version: 1,
    feature_set_hash: 'test',
    rows: Object.values(features)[0]?.length ?? 0,
    features: Object.entries(features).map(([name, v]) => buildFeatureReference(name, v)),
  };
}

describe('ksTwoSample', () => {
  it('is 0 for identical samples, 1 for disjoint ones, and handles ties', () => {
    expect(ksTwoSample([1, 2, 3], [1, 2, 3])).toBe(0);
    expect(ksTwoSample([1, 2], [3, 4])).toBe(1);
    expect(ksTwoSample([0, 0, 1, 1], [0, 1, 1, 1])).toBeCloseTo(0.25, 12);
  });
});

describe('DriftWindow', () => {
  const rng = new Rng(11);
  const train = {
    hr: sample(rng, 5000, 80, 10),
    flag: Array.from({ length: 5000 }, (_, i) => (i % 4 === 0 ? 1 : 0)),
    temp: sample(rng, 5000, 37, 0.4).map((v, i) => (i % 10 === 0 ? null : v)),
  };
  const ref = reference(train);

  it('ships a reference that validates: increasing edges, proportions summing to 1', () => {
    expect(() => TrainingReferenceSchema.parse(ref)).not.toThrow();
    const temp = ref.features.find((f) => f.name === 'temp');
    expect(temp?.missing_rate).toBeCloseTo(0.1, 12);
    expect(ref.features.find((f) => f.name === 'flag')?.edges).toEqual([0, 1]);
  });

  it('binned KS is within one reference bin of the exact KS, exact for discrete features', () => {
    const live = {
      hr: sample(rng, 3000, 86, 12),
      flag: Array.from({ length: 3000 }, (_, i) => (i % 2 === 0 ? 1 : 0)),
    };
    const w = new DriftWindow(ref);
    live.hr.forEach((hr, i) => {
      w.observe(0, { hr, flag: live.flag[i] ?? null, temp: 37 }, 0);
    });
    const s = w.snapshot(0);
    const hr = s.features.find((f) => f.feature === 'hr');
    const flag = s.features.find((f) => f.feature === 'flag');
    expect(Math.abs((hr?.ks ?? 0) - ksTwoSample(train.hr, live.hr))).toBeLessThanOrEqual(0.011);
    expect(flag?.ks).toBeCloseTo(ksTwoSample(train.flag, live.flag), 12);
    expect(flag?.ks).toBeCloseTo(0.25, 12);
    // A constant 37 in a N(37, 0.4) reference: half of the reference mass lies on either side.
    expect(s.features.find((f) => f.feature === 'temp')?.ks ?? 0).toBeGreaterThan(0.45);
  });

  it('no drift on a fresh sample of the training distribution; drift, PSI and range on a shifted one', () => {
    const same = new DriftWindow(ref);
    const fresh = sample(rng, 4000, 80, 10);
    for (const hr of fresh)
      same.observe(0, { hr, flag: rng.chance(0.25) ? 1 : 0, temp: rng.gauss(37, 0.4) }, 0);
    const s0 = same.snapshot(0);
    expect(s0.drifted).toEqual([]);
    for (const f of s0.features) {
      expect(f.ks ?? 1).toBeLessThan(0.05);
      expect(f.psi ?? 1).toBeLessThan(0.02);
      // A fresh sample of 4,000 can pass the training extremes by chance, rarely.
      expect(f.outOfRange).toBeLessThan(10);
    }

    const shifted = new DriftWindow(ref, { ksThreshold: 0.2 });
    sample(rng, 4000, 95, 10).forEach((hr) => {
      shifted.observe(0, { hr, flag: 0, temp: null }, 0);
    });
    const s1 = shifted.snapshot(0);
    const hr = s1.features.find((f) => f.feature === 'hr');
    expect(hr?.ks ?? 0).toBeGreaterThan(0.5);
    expect(hr?.psi ?? 0).toBeGreaterThan(1);
    expect(hr?.wasserstein ?? 0).toBeGreaterThan(10);
    expect(hr?.wasserstein ?? 0).toBeLessThan(16);
    expect(hr?.outOfRange ?? 0).toBeGreaterThan(0);
    const temp = s1.features.find((f) => f.feature === 'temp');
    expect(temp?.missingRate).toBe(1);
    expect(temp?.ks).toBeNull();
    expect(temp?.referenceMissingRate).toBeCloseTo(0.1, 12);
    expect(s1.drifted).toContain('hr');
  });

  it('counts a feature absent from the vector as missing and forgets values older than the window', () => {
    const w = new DriftWindow(ref, { windowMs: 24 * H, bucketMs: H });
    w.observe(0, { hr: 80 }, 0);
    expect(w.snapshot(0).features.find((f) => f.feature === 'flag')?.missingRate).toBe(1);
    expect(w.snapshot(25 * H).features.every((f) => f.count === 0)).toBe(true);
    w.observe(0, { hr: 80 }, 25 * H);
    expect(w.dropped).toBe(1);
  });
});

describe('psiFromBins / ksFromBins', () => {
  it('PSI is 0 for equal distributions and the textbook sum over equal-mass groups', () => {
    const r = [0.25, 0.25, 0.25, 0.25];
    expect(psiFromBins(r, r, 4)).toBe(0);
    const l = [0.1, 0.2, 0.3, 0.4];
    const textbook = l.reduce((a, li) => a + (li - 0.25) * Math.log(li / 0.25), 0);
    expect(psiFromBins(r, l, 4)).toBeCloseTo(textbook, 12);
    // Eight fine bins merged into four groups of equal reference mass give the same value.
    const r8 = r.flatMap((x) => [x / 2, x / 2]);
    const l8 = l.flatMap((x) => [x / 2, x / 2]);
    expect(psiFromBins(r8, l8, 4)).toBeCloseTo(textbook, 12);
    expect(ksFromBins(r, l)).toBeCloseTo(0.2, 12);
  });
});

describe('featureVector', () => {
  it('names a model input in feature-set order; NaN and absent values are missing', () => {
    expect(featureVector(['a', 'b', 'c'], Float32Array.from([1.5, Number.NaN]))).toEqual({
      a: 1.5,
      b: null,
      c: null,
    });
  });
});
