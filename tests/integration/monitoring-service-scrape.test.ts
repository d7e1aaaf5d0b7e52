/**
 * Issue 8: the stack's Prometheus scrapes the real service over HTTPS. The service (real actors,
 * ONNX model, API keys and audit in Postgres) listens on aepred.port with the certificate the stack's
 * Prometheus trusts (stack.yaml aepred.tls_ca_file); the test asks Prometheus' /api/v1/targets for
 * the aepred job's health after the service started, and checks the stored samples came from this
 * process (its start time). /metrics is public, so Prometheus sends no key. Assumes `aepred stack up`;
 * fails if something else (a demo's `aepred serve`) holds aepred.port.
 */
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStackConfig } from '../../src/stack/config.js';
import { prometheusUrl } from '../../src/stack/services/prometheus.js';
import { ensureServiceCa } from '../../src/stack/template.js';
import { call, type RealService, startRealService } from './api-harness.js';
import { ensurePrometheusServiceScrape } from './monitoring-stack.js';

const config = loadStackConfig();
const base = prometheusUrl(config);
let svc: RealService;
let startedAt: number;

interface Target {
  labels: Record<string, string>;
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
  lastScrape: string;
}

async function aepredTarget(): Promise<Target | undefined> {
  const body = (await (await fetch(`${base}/api/v1/targets?state=active`)).json()) as {
    data: { activeTargets: Target[] };
  };
  return body.data.activeTargets.find((t) => t.labels.job === 'aepred');
}

beforeAll(async () => {
  await ensurePrometheusServiceScrape(config);
  const ca = ensureServiceCa(config);
  startedAt = Date.now();
  svc = await startRealService({ patients: 2, port: config.aepred.port, tlsDir: dirname(ca) });
});

afterAll(async () => {
  await svc?.close();
});

describe('prometheus -> aepred /metrics over HTTPS', () => {
  it('the aepred target is up, scraped over https, and the samples are this process', async () => {
    // The service answers /metrics without a key, over TLS with the certificate Prometheus trusts.
    const own = await call(svc, 'GET', '/metrics');
    expect(own.status).toBe(200);
    expect(own.body).toContain('aepred_process_start_time_seconds');

    const deadline = performance.now() + 45_000;
    let target: Target | undefined;
    for (;;) {
      target = await aepredTarget();
      if (target?.health === 'up' && Date.parse(target.lastScrape) > startedAt) break;
      if (performance.now() > deadline)
        throw new Error(`aepred target not up after the service started: ${JSON.stringify(target)}`);
      await sleep(500);
    }
    expect(target.scrapeUrl).toBe(`https://${config.host}:${config.aepred.port}/metrics`);
    expect(target.lastError).toBe('');

    const q = await fetch(
      `${base}/api/v1/query?query=${encodeURIComponent('aepred_process_start_time_seconds{job="aepred"}')}`,
    );
    const res = (await q.json()) as { data: { result: Array<{ value: [number, string] }> } };
    expect(res.data.result).toHaveLength(1);
    const ourStart = Date.now() / 1000 - process.uptime();
    expect(Math.abs(Number(res.data.result[0]?.value[1]) - ourStart)).toBeLessThan(3);
  });
});
