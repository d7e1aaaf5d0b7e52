import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '../shared/paths.js';
import {
  DATASOURCE_UID,
  dashboardQueries,
  loadDashboards,
  substituteGrafanaVariables,
  validateDashboard,
} from './dashboards.js';
import { MONITORING_METRICS } from './metrics.js';

const dashboards = loadDashboards();

describe('grafana dashboards', () => {
  it('are the four FR-8.5 dashboards with distinct uids', () => {
    const titles = dashboards.map((d) => (d.json as { title: string }).title).sort();
    expect(titles).toEqual([
      'aepred / Data Quality',
      'aepred / Model Performance',
      'aepred / Predictions',
      'aepred / System Health',
    ]);
    expect(new Set(dashboards.map((d) => (d.json as { uid: string }).uid)).size).toBe(4);
  });

  it.each(dashboards.map((d) => [d.file, d.json] as const))('%s is valid dashboard JSON', (_f, json) => {
    expect(validateDashboard(json)).toEqual([]);
  });

  it('covers what FR-8.5 names', () => {
    const exprs = (title: string): string =>
      dashboardQueries(dashboards)
        .filter((q) => q.dashboard.endsWith(title))
        .map((q) => q.expr)
        .join('\n');
    const perf = exprs('Model Performance');
    for (const m of [
      'aepred:model_auroc:min',
      'aepred_model_precision',
      'aepred_model_recall',
      MONITORING_METRICS.calibrationObservedRate,
    ]) {
      expect(perf).toContain(m);
    }
    const dq = exprs('Data Quality');
    for (const m of ['aepred:feature_drift_ks:max', MONITORING_METRICS.missingRate, MONITORING_METRICS.psi])
      expect(dq).toContain(m);
    expect(exprs('System Health')).toMatch(/latency[\s\S]*http_requests[\s\S]*memory[\s\S]*cpu/);
    expect(exprs('Predictions')).toContain('risk_level');
    const dq2 = dashboards.find((d) => d.file === 'data-quality.json')?.json as
      | { panels: Array<{ type: string }> }
      | undefined;
    const heatmap = dq2?.panels ?? [];
    expect(heatmap.some((p) => p.type === 'heatmap')).toBe(true);
  });

  it('flags the usual mistakes', () => {
    const good = dashboards[0]?.json as { panels: Array<Record<string, unknown>> };
    const bad = structuredClone(good);
    const [p0, p1] = bad.panels;
    if (!p0 || !p1) throw new Error('need two panels');
    p1.id = p0.id;
    p1.gridPos = p0.gridPos;
    p0.datasource = { type: 'prometheus', uid: 'other' };
    const problems = validateDashboard(bad).join('\n');
    expect(problems).toMatch(/duplicate id/);
    expect(problems).toMatch(/overlaps/);
    expect(problems).toMatch(/datasource/);
    expect(validateDashboard({})).toContain('missing uid');
  });

  it('provisioning names the datasource the dashboards use', () => {
    const ds = parse(
      readFileSync(join(REPO_ROOT, 'ops/grafana/provisioning/datasources/prometheus.yml'), 'utf8'),
    ) as {
      datasources: Array<{ uid: string; type: string }>;
    };
    expect(ds.datasources).toEqual([expect.objectContaining({ uid: DATASOURCE_UID, type: 'prometheus' })]);
    const prov = parse(
      readFileSync(join(REPO_ROOT, 'ops/grafana/provisioning/dashboards/aepred.yml'), 'utf8'),
    ) as {
      providers: Array<{ type: string }>;
    };
    expect(prov.providers[0]?.type).toBe('file');
    expect(substituteGrafanaVariables('rate(x[$__rate_interval])')).toBe('rate(x[5m])');
  });
});
