import { describe, expect, it } from 'vitest';
import { HOUR_MS, slope } from './ops.js';

describe('slope', () => {
  const t = Date.UTC(2024, 0, 2, 12);

  it('is value per hour for distinct times', () => {
    const times = new Float64Array([t - 2 * HOUR_MS, t - HOUR_MS, t]);
    const v = new Float64Array([80, 83, 86]);
    expect(slope(times, v, 0, 3, t)).toBeCloseTo(3, 12);
  });

  it('is NaN when every time in the window is the same instant, however many points', () => {
    // Three readings at one odd instant: float hours relative to t need not centre to exactly 0.
    const at = t - 7 * 60_000 - 13;
    for (const n of [2, 3, 7]) {
      const times = new Float64Array(n).fill(at);
      const v = Float64Array.from({ length: n }, (_, i) => 80 + 3.7 * i);
      expect(slope(times, v, 0, n, t)).toBeNaN();
    }
  });

  it('is NaN with fewer than two points', () => {
    expect(slope(new Float64Array([t]), new Float64Array([1]), 0, 1, t)).toBeNaN();
  });
});
