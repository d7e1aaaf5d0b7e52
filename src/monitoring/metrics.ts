/**
 * Prometheus gauges for model performance, drift and decay decisions. Labels are feature names,
 * bins, risk levels, reasons and outcomes only: never a patient id (CONVENTIONS 5). The values are
 * pushed by whoever computes the snapshots (the DriftSupervisor at each check); a gauge whose value
 * is unknown (e.g. AUROC before labels exist) is left unset rather than written as 0, so alert
 * rules never see a made-up number.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { DriftSnapshot } from './drift.js';
import type { PerformanceSnapshot } from './performance.js';
import type { DecayDecision, DecayFindings } from './rules.js';

export interface MonitoringMetrics {
  publishPerformance(s: PerformanceSnapshot): void;
  publishDrift(s: DriftSnapshot): void;
  /** One decay check: its findings, decisions and (injected-clock) time in ms. */
  publishCheck(at: number, findings: DecayFindings, decisions: readonly DecayDecision[]): void;
  /** A decision outside a scheduled check (manual /retrain, alert webhook). */
  publishDecision(d: DecayDecision): void;
}

/** Metric names, for tests, rules and dashboards to share. */
export const MONITORING_METRICS = {
  auroc: 'aepred_model_auroc',
  aurocEstimated: 'aepred_model_auroc_estimated',
  calibrationError: 'aepred_model_calibration_error',
  calibrationMeanPredicted: 'aepred_model_calibration_mean_predicted',
  calibrationObservedRate: 'aepred_model_calibration_observed_rate',
  precision: 'aepred_model_precision',
  recall: 'aepred_model_recall',
  f1: 'aepred_model_f1',
  labelled: 'aepred_model_labelled_predictions',
  positives: 'aepred_model_positive_labels',
  windowPredictions: 'aepred_model_window_predictions',
  scoreHistogram: 'aepred_model_score_histogram',
  riskLevels: 'aepred_model_risk_level_predictions',
  ks: 'aepred_feature_drift_ks',
  psi: 'aepred_feature_drift_psi',
  wasserstein: 'aepred_feature_drift_wasserstein',
  missingRate: 'aepred_feature_missing_rate',
  referenceMissingRate: 'aepred_feature_reference_missing_rate',
  outOfRange: 'aepred_feature_out_of_range',
  featureCount: 'aepred_feature_window_values',
  driftedFeatures: 'aepred_features_drifted',
  segmentDriftedFeatures: 'aepred_segment_drifted_features',
  aurocLowStreak: 'aepred_decay_auroc_low_streak',
  lastCheck: 'aepred_decay_last_check_timestamp_seconds',
  decisions: 'aepred_retrain_decisions_total',
} as const;

const M = MONITORING_METRICS;

function setOrReset(g: Gauge, v: number | null, labels?: Record<string, string>): void {
  if (v === null || !Number.isFinite(v)) {
    if (labels) g.remove(labels);
    else g.reset();
    return;
  }
  if (labels) g.set(labels, v);
  else g.set(v);
}

/** `7d`, `36h`: the window as a short label value. */
export function windowLabel(ms: number): string {
  const h = ms / 3_600_000;
  return h % 24 === 0 ? `${h / 24}d` : `${h}h`;
}

export function registerMonitoringMetrics(registry: Registry): MonitoringMetrics {
  const registers = [registry];
  const g = (name: string, help: string, labelNames: string[] = []): Gauge =>
    new Gauge({ name, help, labelNames, registers });
  // Labelled by window so that an unknown value can be removed: an unlabelled gauge always reads 0.
  const auroc = g(M.auroc, 'Rolling AUROC over labelled predictions of the event-time window', ['window']);
  const aurocEst = g(M.aurocEstimated, 'Label-free AUROC estimate from calibrated probabilities (CBPE)', [
    'window',
  ]);
  const ece = g(M.calibrationError, 'Expected calibration error over labelled predictions of the window', [
    'window',
  ]);
  const calMean = g(M.calibrationMeanPredicted, 'Mean predicted probability per calibration bin', ['bin']);
  const calObs = g(M.calibrationObservedRate, 'Observed positive rate per calibration bin', ['bin']);
  const precision = g(M.precision, 'Precision at the decision threshold over labelled predictions', [
    'threshold',
  ]);
  const recall = g(M.recall, 'Recall at the decision threshold over labelled predictions', ['threshold']);
  const f1 = g(M.f1, 'F1 at the decision threshold over labelled predictions', ['threshold']);
  const labelled = g(M.labelled, 'Labelled predictions in the window');
  const positives = g(M.positives, 'Positive labels in the window');
  const windowPredictions = g(M.windowPredictions, 'Predictions in the window (labelled or not)');
  const hist = g(M.scoreHistogram, 'Predictions in the window per risk-score bin (le = upper edge)', ['le']);
  const risk = g(M.riskLevels, 'Predictions in the window per risk level', ['risk_level']);
  const ks = g(M.ks, 'KS statistic of the feature vs the training reference', ['feature']);
  const psi = g(M.psi, 'Population stability index of the feature vs the training reference', ['feature']);
  const wd = g(M.wasserstein, 'Wasserstein-1 distance of the feature vs the training reference', ['feature']);
  const miss = g(M.missingRate, 'Missing-value rate of the feature in the window', ['feature']);
  const refMiss = g(M.referenceMissingRate, 'Missing-value rate of the feature in training', ['feature']);
  const oor = g(M.outOfRange, 'Values outside the training [min, max] in the window', ['feature']);
  const values = g(M.featureCount, 'Values of the feature seen in the window (missing included)', [
    'feature',
  ]);
  const drifted = g(
    M.driftedFeatures,
    'Features counted by the drift rule (time-on-study features left out) whose KS exceeds the threshold, at the last check',
  );
  const segDrifted = g(
    M.segmentDriftedFeatures,
    'Per segment (site) over its own reference: features counted by the drift rule whose KS exceeds the segment threshold, at the last check',
    ['segment'],
  );
  const streak = g(M.aurocLowStreak, 'Consecutive decay checks with AUROC below the threshold');
  const lastCheck = g(M.lastCheck, 'Trial time of the last decay check');
  const decisions = new Counter({
    name: M.decisions,
    help: 'Retraining decisions by reason and outcome (requested, suppressed)',
    labelNames: ['reason', 'outcome'],
    registers,
  });

  const countDecision = (d: DecayDecision): void => {
    decisions.inc({ reason: d.reason, outcome: d.type === 'retrain.requested' ? 'requested' : 'suppressed' });
  };

  return {
    publishPerformance(s) {
      const window = { window: windowLabel(s.windowMs) };
      setOrReset(auroc, s.auroc, window);
      setOrReset(aurocEst, s.aurocEstimated, window);
      setOrReset(ece, s.calibrationError, window);
      calMean.reset();
      calObs.reset();
      for (const b of s.calibration) {
        const bin = b.upper.toFixed(2);
        setOrReset(calMean, b.meanPredicted, { bin });
        setOrReset(calObs, b.observedRate, { bin });
      }
      const threshold = String(s.atThreshold.threshold);
      setOrReset(precision, s.atThreshold.precision, { threshold });
      setOrReset(recall, s.atThreshold.recall, { threshold });
      setOrReset(f1, s.atThreshold.f1, { threshold });
      labelled.set(s.labelled);
      positives.set(s.positives);
      windowPredictions.set(s.predictions);
      const n = s.histogram.length;
      s.histogram.forEach((c, i) => {
        hist.set({ le: ((i + 1) / n).toFixed(2) }, c);
      });
      for (const [level, c] of Object.entries(s.riskLevels)) risk.set({ risk_level: level }, c);
    },
    publishDrift(s) {
      for (const gauge of [ks, psi, wd, miss, refMiss, oor, values]) gauge.reset();
      for (const f of s.features) {
        const feature = { feature: f.feature };
        setOrReset(ks, f.ks, feature);
        setOrReset(psi, f.psi, feature);
        setOrReset(wd, f.wasserstein, feature);
        setOrReset(miss, f.missingRate, feature);
        refMiss.set(feature, f.referenceMissingRate);
        oor.set(feature, f.outOfRange);
        values.set(feature, f.count);
      }
    },
    publishCheck(at, findings, ds) {
      lastCheck.set(at / 1000);
      streak.set(findings.lowAurocStreak);
      drifted.set(findings.drifted.length);
      segDrifted.reset();
      for (const s of findings.segments) segDrifted.set({ segment: s.segment }, s.drifted.length);
      for (const d of ds) countDecision(d);
    },
    publishDecision: countDecision,
  };
}
