import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { buildFeatureReference, DriftWindow } from './drift.js';
import { MONITORING_METRICS, registerMonitoringMetrics } from './metrics.js';
import { PerformanceWindow } from './performance.js';
import { DEFAULT_DECAY_PARAMS, evaluateDecay, INITIAL_DECAY_STATE } from './rules.js';

describe('registerMonitoringMetrics', () => {
  it('exports every monitoring metric, leaves unknown values unset and never labels a patient', async () => {
    const registry = new Registry();
    const m = registerMonitoringMetrics(registry);
    const perf = new PerformanceWindow();
    perf.recordPrediction(0, 0.7, 0);
    m.publishPerformance(perf.snapshot(0));
    let text = await registry.metrics();
    // No labels yet: AUROC is unknown and must not read as 0.
    expect(text).not.toMatch(/^aepred_model_auroc\{/m);
    expect(text).toMatch(/^aepred_model_auroc_estimated\{window="7d"\} /m);

    perf.recordOutcome(0, 0.7, true, 0);
    perf.recordOutcome(0, 0.2, false, 0);
    m.publishPerformance(perf.snapshot(0));
    const ref = {
      schema_version: 1 as const,
      feature_set_hash: 'h',
      rows: 3,
      features: [buildFeatureReference('hr', [60, 70, 80])],
    };
    const drift = new DriftWindow(ref);
    drift.observe(0, { hr: 200 }, 0);
    drift.observe(0, { hr: null }, 0);
    m.publishDrift(drift.snapshot(0));
    const step = evaluateDecay(
      INITIAL_DECAY_STATE,
      { at: 6 * 3_600_000, auroc: 0.5, labelled: 1000, ks: [] },
      DEFAULT_DECAY_PARAMS,
    );
    m.publishCheck(6 * 3_600_000, step.findings, step.decisions);
    m.publishDecision({
      type: 'retrain.requested',
      reason: 'manual',
      at: 0,
      incident: 'manual-x',
      rules: ['manual'],
    });

    text = await registry.metrics();
    for (const name of Object.values(MONITORING_METRICS)) expect(text, name).toContain(`# TYPE ${name} `);
    expect(text).toMatch(/^aepred_model_auroc\{window="7d"\} 1$/m);
    expect(text).toContain('aepred_feature_out_of_range{feature="hr"} 1');
    expect(text).toContain('aepred_feature_missing_rate{feature="hr"} 0.5');
    expect(text).toContain('aepred_model_risk_level_predictions{risk_level="high"} 1');
    expect(text).toContain('aepred_retrain_decisions_total{reason="manual",outcome="requested"} 1');
    expect(text).toContain('aepred_decay_last_check_timestamp_seconds 21600');
    expect(text).not.toMatch(/patient/i);
  });
});
