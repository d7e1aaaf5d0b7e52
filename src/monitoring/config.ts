/** params.yaml `monitoring` (and `alerts`, `training`) turned into the options of src/monitoring. */
import type { Params } from '../config/params.js';
import type { DriftWindowOptions } from './drift.js';
import type { PerformanceWindowOptions } from './performance.js';
import { type DecayRuleParams, validateDecayParams } from './rules.js';

const HOUR = 3_600_000;

export function decayRuleParams(p: Params): DecayRuleParams {
  const m = p.monitoring;
  return validateDecayParams({
    checkIntervalMs: m.check_interval_hours * HOUR,
    aurocThreshold: m.auroc_threshold,
    consecutiveChecks: m.consecutive_checks,
    minLabelled: m.min_labelled,
    minPositives: m.min_positives,
    ksThreshold: m.ks_threshold,
    maxDriftedFeatures: m.max_drifted_features,
    driftExclude: m.drift_rule_exclude,
    segmentKsThreshold: m.segment_ks_threshold,
    segmentMaxDriftedFeatures: m.segment_max_drifted_features,
    cooldownMs: m.cooldown_hours * HOUR,
  });
}

export function performanceWindowOptions(p: Params): PerformanceWindowOptions {
  return {
    windowMs: p.monitoring.performance_window_days * 24 * HOUR,
    bucketMs: p.monitoring.bucket_minutes * 60_000,
    calibrationBins: p.training.calibration_bins,
    histogramBins: 20,
    threshold: 0.5,
    riskThresholds: { medium: p.alerts.watch_threshold, high: p.alerts.high_threshold },
  };
}

export function driftWindowOptions(p: Params): DriftWindowOptions {
  return {
    windowMs: p.monitoring.drift_window_hours * HOUR,
    bucketMs: p.monitoring.bucket_minutes * 60_000,
    psiBins: p.monitoring.psi_bins,
    ksThreshold: p.monitoring.ks_threshold,
  };
}
