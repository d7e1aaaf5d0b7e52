/**
 * Alertmanager accepting an alert over its v2 API and delivering it to a local webhook: the test
 * listens on the port the stack-test receiver points at (test_endpoints.webhook_port) and waits
 * for the alert it posted, recognised by a nonce label. Assumes `aepred stack up` ran.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStackConfig } from '../../src/stack/config.js';
import { alertmanagerUrl } from '../../src/stack/services/alertmanager.js';

const config = loadStackConfig();
const base = alertmanagerUrl(config);

interface WebhookBody {
  version: string;
  receiver: string;
  status: string;
  alerts: Array<{ status: string; labels: Record<string, string>; annotations: Record<string, string> }>;
}

const received: WebhookBody[] = [];
const waiters: Array<() => void> = [];
let server: Server;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/alerts/webhook') {
        received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as WebhookBody);
        for (const w of waiters.splice(0)) w();
      }
      res.statusCode = 200;
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.test_endpoints.webhook_port, config.host, resolve);
  });
});

afterAll(async () => {
  await new Promise((r) => server?.close(r));
});

async function delivery(nonce: string, timeoutMs: number): Promise<WebhookBody> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const hit = received.find((b) => b.alerts.some((a) => a.labels.nonce === nonce));
    if (hit) return hit;
    const left = deadline - performance.now();
    if (left <= 0) throw new Error(`no webhook delivery for nonce ${nonce} within ${timeoutMs} ms`);
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, left);
      waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}

describe('stack alertmanager', () => {
  it('accepts an alert and delivers it to the webhook with its labels', async () => {
    const nonce = randomUUID();
    const labels = { alertname: 'AepredStackTest', aepred_stack_test: 'true', severity: 'info', nonce };
    const res = await fetch(`${base}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        {
          labels,
          annotations: { summary: 'stack integration test' },
          startsAt: new Date().toISOString(),
          endsAt: new Date(Date.now() + 5 * 60_000).toISOString(),
        },
      ]),
    });
    expect(res.status).toBe(200);

    const listed = (await (
      await fetch(`${base}/api/v2/alerts?filter=${encodeURIComponent(`nonce="${nonce}"`)}`)
    ).json()) as Array<{
      labels: Record<string, string>;
    }>;
    expect(listed.map((a) => a.labels.nonce)).toEqual([nonce]);

    const body = await delivery(nonce, 30_000);
    expect(body.receiver).toBe('stack-test');
    expect(body.status).toBe('firing');
    const alert = body.alerts.find((a) => a.labels.nonce === nonce);
    expect(alert?.labels).toEqual(labels);
    expect(alert?.annotations.summary).toBe('stack integration test');
  });

  it('rejects a malformed alert', async () => {
    const res = await fetch(`${base}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ annotations: {} }]),
    });
    expect([400, 422]).toContain(res.status);
  });
});
