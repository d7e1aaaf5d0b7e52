/**
 * Model performance from predictions and late labels, in bounded memory. Every prediction's
 * probability falls into one of FINE_BINS equal-width bins on [0, 1]; per bin we keep counts and
 * probability sums, per event-time bucket (buckets.ts). Everything below is computed from those
 * histograms:
 * - AUROC from the labelled histograms (pairs in the same fine bin count one half, so the error
 *   against the exact rank AUROC is bounded by the share of positive-negative pairs closer than
 *   1/FINE_BINS);
 * - expected calibration error over `calibrationBins` equal-width bins;
 * - precision, recall and F1 at a threshold that is a fine-bin edge (0.5 is: exact);
 * - the label-free AUROC estimate (CBPE, docs/monitoring.md) from all predictions;
 * - the prediction histogram and risk-level counts.
 */
import { EventTimeWindow } from './buckets.js';

export const FINE_BINS = 200;
const B = FINE_BINS;
// Offsets of the sections of one bucket's array.
const POS = 0; // labelled positives per bin
const NEG = B; // labelled negatives per bin
const SUM_P_LAB = 2 * B; // sum of probabilities of labelled predictions per bin
const ALL = 3 * B; // all predictions per bin (labelled or not)
const SUM_P_ALL = 4 * B; // sum of probabilities of all predictions per bin
const SIZE = 5 * B;

export function fineBin(p: number): number {
  return Math.min(B - 1, Math.max(0, Math.floor(p * B)));
}

function checkProbability(p: number): void {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`probability must be in [0, 1], got ${p}`);
}

/** Exact AUROC by ranks (Mann-Whitney U, ties count one half); null without both classes. */
export function aurocExact(scores: ArrayLike<number>, labels: ArrayLike<0 | 1 | boolean>): number | null {
  const n = scores.length;
  if (labels.length !== n) throw new RangeError('scores and labels differ in length');
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => (scores[a] ?? 0) - (scores[b] ?? 0));
  let pos = 0;
  let rankSumPos = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[idx[j + 1] ?? 0] === scores[idx[i] ?? 0]) j++;
    const midRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[idx[k] ?? 0]) {
        pos += 1;
        rankSumPos += midRank;
      }
    }
    i = j + 1;
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return null;
  return (rankSumPos - (pos * (pos + 1)) / 2) / (pos * neg);
}

/**
 * AUROC of a binned score distribution given per-bin (possibly expected, fractional) positive and
 * negative masses, bins in increasing score order; pairs within a bin count one half.
 */
export function aurocFromBins(pos: ArrayLike<number>, neg: ArrayLike<number>): number | null {
  let negBelow = 0;
  let pairs = 0;
  let totalPos = 0;
  for (let k = 0; k < pos.length; k++) {
    const p = pos[k] ?? 0;
    const q = neg[k] ?? 0;
    pairs += p * (negBelow + q / 2);
    negBelow += q;
    totalPos += p;
  }
  const denom = totalPos * negBelow;
  return denom > 0 ? pairs / denom : null;
}

export interface ClassificationAt {
  readonly threshold: number;
  readonly precision: number | null;
  readonly recall: number | null;
  readonly f1: number | null;
}

export interface CalibrationBin {
  /** Upper edge of the bin (the bin is [upper - 1/bins, upper)). */
  readonly upper: number;
  readonly count: number;
  readonly meanPredicted: number | null;
  readonly observedRate: number | null;
}

export interface PerformanceSnapshot {
  /** Length of the event-time window the snapshot covers. */
  readonly windowMs: number;
  /** Labelled predictions in the window, and how many of them were positive. */
  readonly labelled: number;
  readonly positives: number;
  /** All predictions in the window. */
  readonly predictions: number;
  /** Rolling AUROC over the labelled predictions; null without both classes. */
  readonly auroc: number | null;
  /** Label-free AUROC estimate from the probabilities of all predictions (CBPE). */
  readonly aurocEstimated: number | null;
  /** Expected calibration error over the labelled predictions; null without labels. */
  readonly calibrationError: number | null;
  readonly calibration: readonly CalibrationBin[];
  readonly atThreshold: ClassificationAt;
  /** Counts of all predictions per histogram bin (`histogramBins` equal-width bins). */
  readonly histogram: readonly number[];
  /** All predictions in the window by risk level. */
  readonly riskLevels: Readonly<Record<RiskLevel, number>>;
}

export interface PerformanceWindowOptions {
  readonly windowMs: number;
  readonly bucketMs: number;
  /** Equal-width bins for the calibration error; must divide FINE_BINS. */
  readonly calibrationBins: number;
  /** Equal-width bins of the prediction histogram; must divide FINE_BINS. */
  readonly histogramBins: number;
  /** Decision threshold for precision/recall/F1; must be a multiple of 1/FINE_BINS. */
  readonly threshold: number;
  /** Risk-level thresholds (params.yaml `alerts`: watch = medium, high); multiples of 1/FINE_BINS. */
  readonly riskThresholds: { readonly medium: number; readonly high: number };
}

export const DEFAULT_PERFORMANCE_OPTIONS: PerformanceWindowOptions = {
  windowMs: 7 * 24 * 3_600_000,
  bucketMs: 3_600_000,
  calibrationBins: 10,
  histogramBins: 20,
  threshold: 0.5,
  riskThresholds: { medium: 0.3, high: 0.6 },
};

function edgeBin(x: number, what: string): number {
  const k = Math.round(x * B);
  if (Math.abs(k - x * B) > 1e-9 || k < 0 || k > B)
    throw new RangeError(`${what} ${x} is not a multiple of 1/${B}`);
  return k;
}

function checkDivides(bins: number, what: string): void {
  if (!Number.isInteger(bins) || bins < 1 || B % bins !== 0) {
    throw new RangeError(`${what} (${bins}) must divide ${B}`);
  }
}

/** Rolling model performance over an event-time window (labels joined late by prediction time). */
export class PerformanceWindow {
  readonly #opts: PerformanceWindowOptions;
  readonly #window: EventTimeWindow;
  readonly #thresholdBin: number;

  constructor(opts: Partial<PerformanceWindowOptions> = {}) {
    this.#opts = { ...DEFAULT_PERFORMANCE_OPTIONS, ...opts };
    checkDivides(this.#opts.calibrationBins, 'calibrationBins');
    checkDivides(this.#opts.histogramBins, 'histogramBins');
    this.#thresholdBin = edgeBin(this.#opts.threshold, 'threshold');
    edgeBin(this.#opts.riskThresholds.medium, 'riskThresholds.medium');
    edgeBin(this.#opts.riskThresholds.high, 'riskThresholds.high');
    this.#window = new EventTimeWindow({
      spanMs: this.#opts.windowMs,
      bucketMs: this.#opts.bucketMs,
      size: SIZE,
    });
  }

  /** Predictions or labels that arrived after their event time had left the window. */
  get dropped(): number {
    return this.#window.dropped;
  }

  /** A prediction was made (label unknown yet), at event time `at`. */
  recordPrediction(at: number, probability: number, now: number): void {
    checkProbability(probability);
    const b = this.#window.bucket(at, now);
    if (!b) return;
    const k = fineBin(probability);
    b[ALL + k] = (b[ALL + k] ?? 0) + 1;
    b[SUM_P_ALL + k] = (b[SUM_P_ALL + k] ?? 0) + probability;
  }

  /** The label of a prediction made at event time `at` became known (typically a horizon later). */
  recordOutcome(at: number, probability: number, label: boolean, now: number): void {
    checkProbability(probability);
    const b = this.#window.bucket(at, now);
    if (!b) return;
    const k = fineBin(probability);
    const off = label ? POS : NEG;
    b[off + k] = (b[off + k] ?? 0) + 1;
    b[SUM_P_LAB + k] = (b[SUM_P_LAB + k] ?? 0) + probability;
  }

  snapshot(now: number): PerformanceSnapshot {
    return summarize(this.#window.sum(now), this.#opts, this.#thresholdBin);
  }
}

function section(a: Float64Array, off: number): Float64Array {
  return a.subarray(off, off + B);
}

function summarize(a: Float64Array, o: PerformanceWindowOptions, thresholdBin: number): PerformanceSnapshot {
  const pos = section(a, POS);
  const neg = section(a, NEG);
  const sumLab = section(a, SUM_P_LAB);
  const all = section(a, ALL);
  const sumAll = section(a, SUM_P_ALL);
  let positives = 0;
  let labelled = 0;
  let predictions = 0;
  for (let k = 0; k < B; k++) {
    positives += pos[k] ?? 0;
    labelled += (pos[k] ?? 0) + (neg[k] ?? 0);
    predictions += all[k] ?? 0;
  }
  return {
    windowMs: o.windowMs,
    labelled,
    positives,
    predictions,
    auroc: aurocFromBins(pos, neg),
    aurocEstimated: cbpeAurocFromBins(all, sumAll),
    ...calibration(pos, neg, sumLab, o.calibrationBins, labelled),
    atThreshold: classificationAt(pos, neg, thresholdBin, thresholdBin / B),
    histogram: coarsen(all, o.histogramBins),
    riskLevels: binnedRiskLevels(all, o.riskThresholds),
  };
}

/**
 * CBPE AUROC from a histogram of calibrated probabilities: bin k holds `count[k]` predictions whose
 * probabilities sum to `sumP[k]`, so under calibration it holds sumP[k] expected positives and
 * count[k] - sumP[k] expected negatives. See docs/monitoring.md for the derivation.
 */
export function cbpeAurocFromBins(count: ArrayLike<number>, sumP: ArrayLike<number>): number | null {
  const ePos = Array.from({ length: count.length }, (_, k) => sumP[k] ?? 0);
  const eNeg = Array.from({ length: count.length }, (_, k) => (count[k] ?? 0) - (sumP[k] ?? 0));
  return aurocFromBins(ePos, eNeg);
}

/** CBPE AUROC from raw probabilities (exact ordering, ties one half): the estimator in its plain form. */
export function cbpeAuroc(probabilities: ArrayLike<number>): number | null {
  const sorted = Float64Array.from(probabilities).sort();
  const ePos: number[] = [];
  const eNeg: number[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    let s = 0;
    while (j < sorted.length && sorted[j] === sorted[i]) s += sorted[j++] ?? 0;
    ePos.push(s);
    eNeg.push(j - i - s);
    i = j;
  }
  return aurocFromBins(ePos, eNeg);
}

function calibration(
  pos: Float64Array,
  neg: Float64Array,
  sumP: Float64Array,
  bins: number,
  labelled: number,
): { calibrationError: number | null; calibration: CalibrationBin[] } {
  const per = B / bins;
  const out: CalibrationBin[] = [];
  let ece = 0;
  for (let c = 0; c < bins; c++) {
    let n = 0;
    let p = 0;
    let s = 0;
    for (let k = c * per; k < (c + 1) * per; k++) {
      n += (pos[k] ?? 0) + (neg[k] ?? 0);
      p += pos[k] ?? 0;
      s += sumP[k] ?? 0;
    }
    const meanPredicted = n > 0 ? s / n : null;
    const observedRate = n > 0 ? p / n : null;
    if (n > 0) ece += (n / labelled) * Math.abs(s / n - p / n);
    out.push({ upper: (c + 1) / bins, count: n, meanPredicted, observedRate });
  }
  return { calibrationError: labelled > 0 ? ece : null, calibration: out };
}

function classificationAt(
  pos: Float64Array,
  neg: Float64Array,
  from: number,
  threshold: number,
): ClassificationAt {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let k = 0; k < B; k++) {
    if (k >= from) {
      tp += pos[k] ?? 0;
      fp += neg[k] ?? 0;
    } else {
      fn += pos[k] ?? 0;
    }
  }
  const precision = tp + fp > 0 ? tp / (tp + fp) : null;
  const recall = tp + fn > 0 ? tp / (tp + fn) : null;
  const f1 =
    precision !== null && recall !== null && precision + recall > 0
      ? (2 * precision * recall) / (precision + recall)
      : null;
  return { threshold, precision, recall, f1 };
}

function coarsen(fine: Float64Array, bins: number): number[] {
  const per = B / bins;
  return Array.from({ length: bins }, (_, c) => {
    let n = 0;
    for (let k = c * per; k < (c + 1) * per; k++) n += fine[k] ?? 0;
    return n;
  });
}

export type RiskLevel = 'low' | 'medium' | 'high';

function binnedRiskLevels(
  all: Float64Array,
  t: { readonly medium: number; readonly high: number },
): Record<RiskLevel, number> {
  const medium = Math.round(t.medium * B);
  const high = Math.round(t.high * B);
  const out: Record<RiskLevel, number> = { low: 0, medium: 0, high: 0 };
  for (let k = 0; k < B; k++) {
    const level: RiskLevel = k >= high ? 'high' : k >= medium ? 'medium' : 'low';
    out[level] += all[k] ?? 0;
  }
  return out;
}

/** Risk levels from probabilities with the service's thresholds (params.yaml `alerts`). */
export function riskLevelCounts(
  probabilities: Iterable<number>,
  thresholds: { readonly medium: number; readonly high: number },
): Record<RiskLevel, number> {
  const out: Record<RiskLevel, number> = { low: 0, medium: 0, high: 0 };
  for (const p of probabilities) {
    if (p >= thresholds.high) out.high += 1;
    else if (p >= thresholds.medium) out.medium += 1;
    else out.low += 1;
  }
  return out;
}
