/**
 * Prometheus scraping a real target: the test serves /metrics on the port the stack-test job
 * scrapes (test_endpoints.scrape_port) with a value only this run knows, and asks Prometheus'
 * HTTP API for it. Also checks Prometheus found the stack's Alertmanager. Assumes `aepred stack up`.
 */
import { randomInt } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStackConfig } from '../../src/stack/config.js';
import { prometheusUrl } from '../../src/stack/services/prometheus.js';

const config = loadStackConfig();
const base = prometheusUrl(config);
const nonce = randomInt(1, 1_000_000_000);
let server: Server;
let scrapes = 0;

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(promql: string): Promise<Sample[]> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as { status: string; data: { result: Sample[] } };
  expect(body.status).toBe('success');
  return body.data.result;
}

async function eventually<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.statusCode = 404;
      res.end();
      return;
    }
    scrapes += 1;
    res.setHeader('content-type', 'text/plain; version=0.0.4');
    res.end(
      `# HELP aepred_stack_test_nonce A value only this test run knows.\n# TYPE aepred_stack_test_nonce gauge\naepred_stack_test_nonce ${nonce}\n`,
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.test_endpoints.scrape_port, config.host, resolve);
  });
});

afterAll(async () => {
  await new Promise((r) => server?.close(r));
});

describe('stack prometheus', () => {
  it('is ready and runs the templated config', async () => {
    expect((await fetch(`${base}/-/ready`)).status).toBe(200);
    const cfg = (await (await fetch(`${base}/api/v1/status/config`)).json()) as { data: { yaml: string } };
    expect(cfg.data.yaml).toContain(`${config.host}:${config.test_endpoints.scrape_port}`);
  });

  it('scrapes a target and stores what it served', async () => {
    const sample = await eventually('the scraped nonce', async () => {
      const r = await query('aepred_stack_test_nonce{job="stack-test"}');
      return r.find((s) => Number(s.value[1]) === nonce);
    });
    expect(sample.metric.instance).toBe(`${config.host}:${config.test_endpoints.scrape_port}`);
    expect(scrapes).toBeGreaterThan(0);
    const up = await query('up{job="stack-test"}');
    expect(up.map((s) => s.value[1])).toEqual(['1']);
  });

  it('sends alerts to the stack Alertmanager', async () => {
    const am = await eventually('an active alertmanager', async () => {
      const res = await fetch(`${base}/api/v1/alertmanagers`);
      const body = (await res.json()) as { data: { activeAlertmanagers: Array<{ url: string }> } };
      return body.data.activeAlertmanagers.find((a) =>
        a.url.includes(`:${config.services.alertmanager.port}/`),
      );
    });
    expect(am.url).toContain(config.host);
  });
});
