/**
 * Window statistics on a contiguous run [lo, hi) of (time, value) arrays: the TypeScript twin of
 * pipelines/ops.py. A value that cannot be computed is NaN, never 0 (empty window, std of one point).
 * Sums are plain left-to-right: numpy's pairwise summation differs only in the last bits, far inside
 * the 1e-6 parity bound, and a fixed order keeps the online values bit-for-bit reproducible.
 */
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

export function mean(v: Float64Array, lo: number, hi: number): number {
  const n = hi - lo;
  if (n <= 0) return Number.NaN;
  let s = 0;
  for (let i = lo; i < hi; i++) s += v[i]!;
  return s / n;
}

/** Sample variance (n - 1): a window is a sample of a continuous signal. Two passes, like numpy. */
export function variance(v: Float64Array, lo: number, hi: number): number {
  const n = hi - lo;
  if (n < 2) return Number.NaN;
  const m = mean(v, lo, hi);
  let ss = 0;
  for (let i = lo; i < hi; i++) {
    const d = v[i]! - m;
    ss += d * d;
  }
  return ss / (n - 1);
}

export function std(v: Float64Array, lo: number, hi: number): number {
  return Math.sqrt(variance(v, lo, hi));
}

export function min(v: Float64Array, lo: number, hi: number): number {
  if (hi <= lo) return Number.NaN;
  let m = v[lo]!;
  for (let i = lo + 1; i < hi; i++) if (v[i]! < m) m = v[i]!;
  return m;
}

export function max(v: Float64Array, lo: number, hi: number): number {
  if (hi <= lo) return Number.NaN;
  let m = v[lo]!;
  for (let i = lo + 1; i < hi; i++) if (v[i]! > m) m = v[i]!;
  return m;
}

/**
 * OLS slope of value on time in units per hour, hours taken relative to t; NaN without 2 distinct times.
 * "All times equal" is decided on the times themselves (integers in ms), not on sxx: float hours of three
 * equal times need not centre to exactly 0, and would leave a tiny sxx and a meaningless slope.
 */
export function slope(times: Float64Array, v: Float64Array, lo: number, hi: number, t: number): number {
  const n = hi - lo;
  if (n < 2) return Number.NaN;
  let distinct = false;
  for (let i = lo + 1; i < hi && !distinct; i++) distinct = times[i] !== times[lo];
  if (!distinct) return Number.NaN;
  let hs = 0;
  for (let i = lo; i < hi; i++) hs += (times[i]! - t) / HOUR_MS;
  const hm = hs / n;
  const xm = mean(v, lo, hi);
  let sxx = 0;
  let sxy = 0;
  for (let i = lo; i < hi; i++) {
    const hc = (times[i]! - t) / HOUR_MS - hm;
    sxx += hc * hc;
    sxy += hc * (v[i]! - xm);
  }
  return sxx === 0 ? Number.NaN : sxy / sxx;
}

/** First index in [lo, hi) whose time is > x (numpy searchsorted side="right"). */
export function upperBound(times: Float64Array, lo: number, hi: number, x: number): number {
  let a = lo;
  let b = hi;
  while (a < b) {
    const m = (a + b) >>> 1;
    if (times[m]! <= x) a = m + 1;
    else b = m;
  }
  return a;
}

/** First index in [lo, hi) whose time is >= x (side="left"). */
export function lowerBound(times: Float64Array, lo: number, hi: number, x: number): number {
  let a = lo;
  let b = hi;
  while (a < b) {
    const m = (a + b) >>> 1;
    if (times[m]! < x) a = m + 1;
    else b = m;
  }
  return a;
}
