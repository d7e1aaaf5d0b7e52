import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadParams } from '../config/params.js';
import { REPO_ROOT } from '../shared/paths.js';
import { decayRuleParams, driftWindowOptions, performanceWindowOptions } from './config.js';
import { DriftWindow } from './drift.js';
import { PerformanceWindow } from './performance.js';
import { globToRegExp } from './rules.js';

const params = loadParams();

describe('monitoring params', () => {
  it('give the decay rules of FR-9.1 and windows that construct', () => {
    expect(decayRuleParams(params)).toMatchObject({
      checkIntervalMs: 6 * 3_600_000,
      aurocThreshold: 0.8,
      consecutiveChecks: 2,
      ksThreshold: 0.2,
      maxDriftedFeatures: 5,
    });
    expect(() => new PerformanceWindow(performanceWindowOptions(params))).not.toThrow();
    const ref = {
      schema_version: 1 as const,
      feature_set_hash: 'h',
      rows: 1,
      features: [{ name: 'x', min: 0, max: 1, missing_rate: 0, edges: [0.5], proportions: [0.5, 0.5] }],
    };
    expect(() => new DriftWindow(ref, driftWindowOptions(params))).not.toThrow();
  });

  it('match the thresholds of the Prometheus alert rules', () => {
    const m = params.monitoring;
    const doc = parse(readFileSync(join(REPO_ROOT, 'ops/prometheus/rules/aepred.yml'), 'utf8')) as {
      groups: Array<{ rules: Array<{ alert?: string; record?: string; expr: string }> }>;
    };
    const rules = doc.groups.flatMap((g) => g.rules);
    const expr = (name: string): string =>
      rules.find((r) => r.alert === name || r.record === name)?.expr ?? '';
    expect(expr('AepredModelAurocCritical')).toMatch(new RegExp(`< ${m.alert_auroc_critical}$`));
    expect(expr('AepredModelAurocLow')).toMatch(new RegExp(`< ${m.alert_auroc_warning.toFixed(2)}$`));
    expect(expr('AepredFeatureDrift')).toMatch(new RegExp(`> ${m.alert_drifted_features}$`));
    expect(expr('aepred:features_drifted:count')).toContain(`> ${m.ks_threshold})`);
    // the recording rule leaves out the features the drift rule does not count: same names
    const re = /feature!~"([^"]+)"/.exec(expr('aepred:features_drifted:count'))?.[1] ?? '';
    const fromGlobs = m.drift_rule_exclude.map((g) => globToRegExp(g).source.slice(1, -1)).join('|');
    expect(re).toBe(fromGlobs);
    expect(expr('AepredPredictionLatencyHigh')).toMatch(new RegExp(`> ${m.alert_p99_latency_ms / 1000}$`));
    expect(expr('AepredErrorRateHigh')).toMatch(new RegExp(`> ${m.alert_error_rate}$`));
  });
});
