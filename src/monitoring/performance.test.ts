import { describe, expect, it } from 'vitest';
import { Rng } from '../sim/rng.js';
import { EventTimeWindow } from './buckets.js';
import { aurocExact, cbpeAuroc, fineBin, PerformanceWindow, riskLevelCounts } from './performance.js';

const H = 3_600_000;
const D = 24 * H;

/** Standard normal CDF (Abramowitz-Stegun 7.1.26 via erf), accurate to ~1e-7. */
function phi(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const erf =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-z * z);
  return x >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/**
 * Binormal data with calibrated probabilities: y ~ Bernoulli(prev), s | y ~ N(mu * y, 1), and
 * p = P(y = 1 | s) by Bayes. p is monotone in s, so AUROC(p) = Phi(mu / sqrt 2) exactly.
 */
function binormal(rng: Rng, n: number, mu: number, prev: number): { p: number[]; y: boolean[] } {
  const logit0 = Math.log(prev / (1 - prev));
  const p: number[] = [];
  const y: boolean[] = [];
  for (let i = 0; i < n; i++) {
    const yi = rng.chance(prev);
    const s = rng.normal() + (yi ? mu : 0);
    p.push(1 / (1 + Math.exp(-(logit0 + mu * s - (mu * mu) / 2))));
    y.push(yi);
  }
  return { p, y };
}

describe('aurocExact', () => {
  it('matches hand-computed values, ties counting one half', () => {
    expect(aurocExact([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(0.75, 12);
    expect(aurocExact([0.5, 0.5], [0, 1])).toBe(0.5);
    expect(aurocExact([0.1, 0.9], [0, 1])).toBe(1);
    expect(aurocExact([0.1, 0.9], [1, 1])).toBeNull();
  });
});

describe('PerformanceWindow', () => {
  it('binned AUROC, precision/recall/F1 at 0.5 and counts agree with exact computation', () => {
    const rng = new Rng(1);
    const { p, y } = binormal(rng, 20_000, 1.2, 0.2);
    const w = new PerformanceWindow();
    const now = 10 * D;
    for (let i = 0; i < p.length; i++) {
      const at = now - (i % 100) * H;
      w.recordPrediction(at, p[i] ?? 0, now);
      w.recordOutcome(at, p[i] ?? 0, y[i] ?? false, now);
    }
    const s = w.snapshot(now);
    expect(s.labelled).toBe(20_000);
    expect(s.predictions).toBe(20_000);
    expect(s.positives).toBe(y.filter(Boolean).length);
    expect(Math.abs((s.auroc ?? 0) - (aurocExact(p, y) ?? 0))).toBeLessThan(0.002);
    let tp = 0;
    let fp = 0;
    let fn = 0;
    p.forEach((pi, i) => {
      if (pi >= 0.5 && y[i]) tp++;
      else if (pi >= 0.5) fp++;
      else if (y[i]) fn++;
    });
    expect(s.atThreshold.precision).toBeCloseTo(tp / (tp + fp), 12);
    expect(s.atThreshold.recall).toBeCloseTo(tp / (tp + fn), 12);
    const f1 = (2 * tp) / (2 * tp + fp + fn);
    expect(s.atThreshold.f1).toBeCloseTo(f1, 12);
    // Calibrated by construction: the binned calibration error is small.
    expect(s.calibrationError).toBeLessThan(0.02);
    expect(s.histogram.reduce((a, b) => a + b, 0)).toBe(20_000);
    const levels = riskLevelCounts(p, { medium: 0.3, high: 0.6 });
    expect(s.riskLevels).toEqual(levels);
  });

  it('measures miscalibration: probabilities squashed toward 0.5', () => {
    const rng = new Rng(2);
    const { p, y } = binormal(rng, 10_000, 1.5, 0.3);
    const w = new PerformanceWindow();
    p.forEach((pi, i) => {
      w.recordOutcome(0, 0.5 + (pi - 0.5) * 0.4, y[i] ?? false, 0);
    });
    expect(w.snapshot(0).calibrationError).toBeGreaterThan(0.1);
  });

  it('joins late labels by event time and forgets what is older than the window', () => {
    const w = new PerformanceWindow({ windowMs: 7 * D, bucketMs: H });
    // Predictions on day 0 labelled on day 1: they count while day 0 is inside the 7-day window.
    w.recordOutcome(0, 0.9, true, 1 * D);
    w.recordOutcome(0, 0.1, false, 1 * D);
    expect(w.snapshot(1 * D).auroc).toBe(1);
    expect(w.snapshot(7 * D - 1).labelled).toBe(2);
    expect(w.snapshot(7 * D + H).labelled).toBe(0);
    // A label arriving after its prediction left the window is dropped, not misfiled.
    w.recordOutcome(0, 0.2, true, 8 * D);
    expect(w.dropped).toBe(1);
    expect(w.snapshot(8 * D).auroc).toBeNull();
  });

  it('rejects options that do not fall on the fine bins and probabilities outside [0, 1]', () => {
    expect(() => new PerformanceWindow({ threshold: 0.5025 })).toThrow(/multiple/);
    expect(() => new PerformanceWindow({ calibrationBins: 7 })).toThrow(/divide/);
    expect(() => new PerformanceWindow().recordPrediction(0, 1.2, 0)).toThrow(RangeError);
    expect(fineBin(1)).toBe(199);
    expect(fineBin(0.5)).toBe(100);
  });
});

describe('CBPE (label-free AUROC estimate)', () => {
  it.each([
    [0.8, 0.1],
    [1.2, 0.2],
    [2, 0.05],
  ])(
    'recovers the known AUROC Phi(mu/sqrt2) of calibrated binormal data (mu=%s, prevalence=%s)',
    (mu, prev) => {
      const rng = new Rng(Math.round(mu * 100));
      const { p, y } = binormal(rng, 40_000, mu, prev);
      const truth = phi(mu / Math.SQRT2);
      const est = cbpeAuroc(p) ?? 0;
      expect(Math.abs(est - truth)).toBeLessThan(0.01);
      // The binned estimate from the window agrees with the exact-order one.
      const w = new PerformanceWindow();
      for (const pi of p) w.recordPrediction(0, pi, 0);
      expect(Math.abs((w.snapshot(0).aurocEstimated ?? 0) - est)).toBeLessThan(0.002);
      // And it tracks the realised labelled AUROC of the same sample.
      expect(Math.abs(est - (aurocExact(p, y) ?? 0))).toBeLessThan(0.015);
    },
  );

  it('is 0.5 when every probability is the same, null without spread of expected classes', () => {
    expect(cbpeAuroc([0.3, 0.3, 0.3])).toBeCloseTo(0.5, 12);
    expect(cbpeAuroc([0, 0])).toBeNull();
  });
});

describe('EventTimeWindow', () => {
  it('keeps at most span / bucket + 1 buckets', () => {
    const w = new EventTimeWindow({ spanMs: 7 * D, bucketMs: H, size: 1 });
    for (let t = 0; t < 30 * D; t += 10 * 60_000) {
      const b = w.bucket(t, t);
      if (b) b[0] = (b[0] ?? 0) + 1;
    }
    expect(w.bucketCount).toBeLessThanOrEqual(7 * 24 + 1);
    expect(w.sum(30 * D)[0]).toBe(7 * 24 * 6);
  });
});
