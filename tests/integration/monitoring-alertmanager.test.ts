/**
 * The ML team's Slack notifications through the stack's real Alertmanager: the test listens where
 * the Slack receiver posts when AEPRED_SLACK_WEBHOOK_URL is unset (test_endpoints.slack_port),
 * posts an ML-team alert to Alertmanager's v2 API and waits for the Slack-shaped JSON (channel,
 * username, attachments with title and text) that carries it. Routing of every rule's alert to the
 * webhook and/or Slack is covered offline by tests/unit/monitoring-ops.test.ts.
 *
 * Issue 8: a critical retrain alert reaches the real service's POST /alerts/webhook over HTTPS with
 * the operator key Alertmanager reads from stack.yaml aepred.webhook_key_file; the service audits it
 * as retrain.requested under that key. The service listens on aepred.port (fails if a demo's
 * `aepred serve` holds it); the key file's previous content is put back afterwards.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseKey } from '../../src/security/apikeys.js';
import { loadStackConfig } from '../../src/stack/config.js';
import { alertmanagerUrl } from '../../src/stack/services/alertmanager.js';
import { ensureServiceCa, servicePaths, testSlackPort } from '../../src/stack/template.js';
import { startRealService } from './api-harness.js';
import { ensureAlertmanagerRoutes } from './monitoring-stack.js';

const config = loadStackConfig();
const base = alertmanagerUrl(config);

interface SlackBody {
  channel?: string;
  username?: string;
  attachments?: Array<{ title?: string; text?: string; color?: string }>;
}

const received: Array<{ path: string; contentType: string; body: SlackBody }> = [];
let server: Server;

beforeAll(async () => {
  await ensureAlertmanagerRoutes(config);
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'POST') {
        received.push({
          path: req.url ?? '',
          contentType: req.headers['content-type'] ?? '',
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as SlackBody,
        });
      }
      res.statusCode = 200;
      res.end('ok');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(testSlackPort(config), config.host, resolve);
  });
});

afterAll(async () => {
  await new Promise((r) => server?.close(r));
});

async function slackMessage(nonce: string, timeoutMs: number): Promise<(typeof received)[number]> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const hit = received.find((m) => m.body.attachments?.some((a) => a.text?.includes(nonce)));
    if (hit) return hit;
    if (performance.now() > deadline)
      throw new Error(`no Slack message with ${nonce} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('alertmanager -> Slack (local stand-in)', () => {
  it.skipIf(process.env.AEPRED_SLACK_WEBHOOK_URL !== undefined)(
    'an ML-team alert arrives as a Slack message naming the alert and its summary',
    async () => {
      const nonce = randomUUID();
      const labels = { alertname: 'AepredMonitoringSlackTest', team: 'ml', severity: 'warning', nonce };
      const res = await fetch(`${base}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([
          {
            labels,
            annotations: {
              summary: `slack integration test ${nonce}`,
              description: 'posted by monitoring-alertmanager.test.ts',
            },
            startsAt: new Date().toISOString(),
            endsAt: new Date(Date.now() + 2 * 60_000).toISOString(),
          },
        ]),
      });
      expect(res.status).toBe(200);
      const msg = await slackMessage(nonce, 45_000);
      expect(msg.path).toBe('/slack');
      expect(msg.contentType).toMatch(/application\/json/);
      expect(msg.body.channel).toBe('#aepred-ml');
      expect(msg.body.username).toBe('aepred-alertmanager');
      const att = msg.body.attachments?.find((a) => a.text?.includes(nonce));
      expect(att?.title).toBe('[FIRING] AepredMonitoringSlackTest (warning)');
      expect(att?.text).toContain(
        `slack integration test ${nonce}: posted by monitoring-alertmanager.test.ts`,
      );
    },
  );
});

async function postAlert(labels: Record<string, string>, summary: string): Promise<number> {
  const res = await fetch(`${base}/api/v2/alerts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify([
      {
        labels,
        annotations: { summary, description: 'posted by monitoring-alertmanager.test.ts' },
        startsAt: new Date().toISOString(),
        endsAt: new Date(Date.now() + 2 * 60_000).toISOString(),
      },
    ]),
  });
  return res.status;
}

describe('alertmanager -> the service webhook (HTTPS, operator key)', () => {
  it('a critical retrain alert arrives at POST /alerts/webhook, authenticated as the operator key', async () => {
    const { keyFile } = servicePaths(config);
    const svc = await startRealService({
      patients: 1,
      port: config.aepred.port,
      tlsDir: dirname(ensureServiceCa(config)),
    });
    const previous = existsSync(keyFile) ? readFileSync(keyFile) : undefined;
    try {
      // What `aepred apikey create --role operator --out <webhook_key_file>` writes.
      writeFileSync(keyFile, `${svc.keys.operator}\n`, { mode: 0o600 });
      const keyId = parseKey(svc.keys.operator)?.keyId;
      const nonce = randomUUID();
      const status = await postAlert(
        {
          // A new alert name each run: a new group, notified at once (group_wait 0s).
          alertname: `AepredWebhookTest_${nonce.slice(0, 8)}`,
          action: 'retrain',
          severity: 'critical',
          reason: 'drift',
          nonce,
        },
        `webhook integration test ${nonce}`,
      );
      expect(status).toBe(200);
      const deadline = performance.now() + 45_000;
      let row: { actor: string; payload: string } | undefined;
      while (row === undefined) {
        const { rows } = await svc.db.pool.query<{ actor: string; payload: string }>(
          `SELECT actor, payload FROM audit_log WHERE action = 'retrain.requested' AND payload LIKE $1`,
          [`%${nonce}%`],
        );
        row = rows[0];
        if (row === undefined && performance.now() > deadline)
          throw new Error(`no retrain.requested audit row for ${nonce} within 45 s`);
        if (row === undefined) await new Promise((r) => setTimeout(r, 250));
      }
      expect(row.actor).toBe(`key:${keyId}`);
      const payload = JSON.parse(row.payload) as Record<string, unknown>;
      expect(payload.source).toBe('alertmanager');
      expect(payload.reason).toBe('drift');
      expect(payload.detail).toBe(
        `AepredWebhookTest_${nonce.slice(0, 8)}: webhook integration test ${nonce}`,
      );
    } finally {
      if (previous === undefined) rmSync(keyFile, { force: true });
      else writeFileSync(keyFile, previous, { mode: 0o600 });
      await svc.close();
    }
  });
});
