/**
 * Every PromQL expression of the Grafana dashboards (ops/grafana/dashboards/) against the stack's
 * real Prometheus: the query must be valid (status success, no error or warning of a bad
 * expression). With AEPRED_EXPECT_METRICS=1 (set while the demo scenario runs and the service
 * exports its metrics) each must also return data. Also checks Prometheus loaded aepred's rules.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  dashboardQueries,
  loadDashboards,
  substituteGrafanaVariables,
} from '../../src/monitoring/dashboards.js';
import { loadStackConfig } from '../../src/stack/config.js';
import { prometheusUrl } from '../../src/stack/services/prometheus.js';
import { ensurePrometheusRules } from './monitoring-stack.js';

const config = loadStackConfig();
const base = prometheusUrl(config);
const expectData = process.env.AEPRED_EXPECT_METRICS === '1';
const queries = dashboardQueries(loadDashboards());

interface QueryAnswer {
  status: 'success' | 'error';
  error?: string;
  errorType?: string;
  data?: { resultType: string; result: unknown[] };
}

beforeAll(async () => {
  await ensurePrometheusRules(config);
});

describe('dashboard queries on the real Prometheus', () => {
  it('aepred recording and alerting rules are loaded', async () => {
    const body = (await (await fetch(`${base}/api/v1/rules`)).json()) as {
      data: { groups: Array<{ name: string; rules: Array<{ name: string; health: string }> }> };
    };
    const ours = body.data.groups.filter((g) => g.name.startsWith('aepred-'));
    expect(ours.map((g) => g.name).sort()).toEqual(['aepred-alerts', 'aepred-recording']);
    for (const r of ours.flatMap((g) => g.rules)) expect([r.name, r.health]).not.toEqual([r.name, 'err']);
  });

  it.each(queries.map((q) => [`${q.dashboard} / ${q.panel} / ${q.refId}`, q.expr] as const))(
    '%s',
    async (_name, expr) => {
      const url = `${base}/api/v1/query?query=${encodeURIComponent(substituteGrafanaVariables(expr))}`;
      const res = await fetch(url);
      const body = (await res.json()) as QueryAnswer;
      expect(body.error ?? '', expr).toBe('');
      expect(body.status, expr).toBe('success');
      if (expectData) expect(body.data?.result.length ?? 0, `no data for ${expr}`).toBeGreaterThan(0);
    },
  );

  it('a malformed expression is rejected by the same check (the check can fail)', async () => {
    const res = await fetch(
      `${base}/api/v1/query?query=${encodeURIComponent('sum by (feature (aepred_feature_drift_ks)')}`,
    );
    const body = (await res.json()) as QueryAnswer;
    expect(body.status).toBe('error');
    expect(body.errorType).toBe('bad_data');
  });
});
