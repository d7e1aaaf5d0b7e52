import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { AlertChanged } from '../../actors/patient/protocol.js';
import { patientId } from '../../actors/patient/protocol.js';
import { MemoryAuditLog } from '../../audit/log.js';
import { Authenticator, MemoryApiKeyStore } from '../../security/apikeys.js';
import type { ModelSupervisor } from '../../supervisors/model/actor.js';
import type { PatientSupervisor } from '../../supervisors/patient/actor.js';
import { ActorsBackend } from '../actors-adapter.js';
import { AlertHub } from '../alert-hub.js';
import { buildApp } from '../app.js';
import type { RiskAlert } from '../backend.js';
import { StaticEnrollmentLookup } from '../enrollment.js';
import { ApiMetrics } from '../metrics.js';
import { TEST_API_PARAMS } from '../testing.js';

// The stream over the real ActorsBackend (its bookkeeping of actor events) inside the real app: an
// actor's patient.alert.cleared must reach an SSE client as alert.cleared, as `aepred serve` wires it.
const SITES: Record<string, string> = { A: 'S01', B: 'S02' };

interface Sse {
  id?: string;
  event: string;
  data: string;
}

interface Served {
  app: FastifyInstance;
  backend: ActorsBackend;
  hub: AlertHub;
  url: string;
  key: string;
  subscribed: () => number;
}

let running: FastifyInstance | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

async function serve(): Promise<Served> {
  const backend = new ActorsBackend({
    patients: {} as PatientSupervisor,
    models: { production: '1', staging: undefined, canaryShare: 0 } as unknown as ModelSupervisor,
    siteOf: (p) => SITES[p] ?? 'unknown',
    now: () => 0,
  });
  // Counts live clearance subscriptions, to see the app unsubscribe on close.
  let subscribed = 0;
  const subscribe = backend.subscribeClearances.bind(backend);
  backend.subscribeClearances = (l: (a: RiskAlert) => void) => {
    subscribed += 1;
    const off = subscribe(l);
    return () => {
      subscribed -= 1;
      off();
    };
  };
  const keys = new MemoryApiKeyStore();
  const key = keys.add('coord', 'coordinator');
  const hub = new AlertHub({ capacity: 50, epoch: 'r1' });
  const app = await buildApp(
    {
      backend,
      enrollment: new StaticEnrollmentLookup(
        Object.entries(SITES).map(([p, siteId]) => [p, { siteId, enrolledAtMs: 0 }]),
      ),
      audit: new MemoryAuditLog(),
      auth: new Authenticator(keys, { cacheMs: 0 }),
      probes: [],
      readinessProbes: [],
      metrics: new ApiMetrics(),
      hub,
      now: Date.now,
    },
    { api: TEST_API_PARAMS, logLevel: 'silent', trustProxy: false, probeTimeoutMs: 200 },
  );
  running = app;
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return { app, backend, hub, url, key, subscribed: () => subscribed };
}

/** An SSE client: the events parsed as they arrive; `waitFor(n)` resolves once n have. */
function openStream(s: Served, path: string, lastEventId?: string) {
  const events: Sse[] = [];
  return new Promise<{ events: Sse[]; waitFor(n: number, ms?: number): Promise<Sse[]>; close(): void }>(
    (resolve, reject) => {
      const req = http.get(
        `${s.url}${path}`,
        {
          agent: false,
          headers: {
            'x-api-key': s.key,
            ...(lastEventId === undefined ? {} : { 'last-event-id': lastEventId }),
          },
        },
        (res) => {
          if (
            res.statusCode !== 200 ||
            !String(res.headers['content-type']).startsWith('text/event-stream')
          ) {
            reject(new Error(`stream answered ${res.statusCode} ${res.headers['content-type']}`));
            return;
          }
          let buf = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buf += chunk;
            for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
              const block = buf.slice(0, end);
              buf = buf.slice(end + 2);
              const e: Sse = { event: 'message', data: '' };
              let isEvent = false;
              for (const line of block.split('\n')) {
                if (line.startsWith('id: ')) e.id = line.slice(4);
                else if (line.startsWith('event: ')) [e.event, isEvent] = [line.slice(7), true];
                else if (line.startsWith('data: ')) [e.data, isEvent] = [line.slice(6), true];
              }
              if (isEvent) events.push(e);
            }
          });
          resolve({
            events,
            async waitFor(n: number, ms = 3000): Promise<Sse[]> {
              const until = Date.now() + ms;
              while (events.length < n) {
                if (Date.now() > until)
                  throw new Error(`waited ${ms} ms for ${n} events, got ${events.length}`);
                await new Promise((r) => setTimeout(r, 10));
              }
              return events.slice(0, n);
            },
            close: () => req.destroy(),
          });
        },
      );
      req.on('error', (e) => {
        if (!req.destroyed) reject(e);
      });
    },
  );
}

function change(type: AlertChanged['type'], p: string, to: string, t: number, probability: number) {
  return {
    type,
    patientId: patientId(p),
    t,
    from: type === 'patient.alert.cleared' ? 'high' : 'normal',
    to,
    probability,
    modelVersion: type === 'patient.alert.cleared' ? '2' : '1',
    topRiskFactors: [{ feature: 'heart_rate_mean_6h', attribution: 0.2, value: 121 }],
  } as unknown as AlertChanged;
}

describe('GET /alerts/stream: alert.cleared', () => {
  it("streams an actor's clearance with the alert it closes and the clearing score; GET /alerts agrees", async () => {
    const s = await serve();
    const all = await openStream(s, '/alerts/stream');
    const s02 = await openStream(s, '/alerts/stream?site=S02');
    s.backend.onEvent(change('patient.alert.raised', 'A', 'high', Date.parse('2025-01-15T06:00:00Z'), 0.8));
    s.backend.onEvent(change('patient.alert.raised', 'B', 'watch', Date.parse('2025-01-15T06:05:00Z'), 0.5));
    s.backend.onEvent(
      change('patient.alert.cleared', 'A', 'normal', Date.parse('2025-01-15T07:00:00Z'), 0.1),
    );
    // Another clearance for A (nothing open) and one for a patient never alerted: nothing streamed.
    s.backend.onEvent(
      change('patient.alert.cleared', 'A', 'normal', Date.parse('2025-01-15T07:05:00Z'), 0.1),
    );
    s.backend.onEvent(
      change('patient.alert.cleared', 'X', 'normal', Date.parse('2025-01-15T07:05:00Z'), 0.1),
    );
    s.backend.onEvent(
      change('patient.alert.cleared', 'B', 'normal', Date.parse('2025-01-15T07:10:00Z'), 0.2),
    );

    const got = await all.waitFor(4);
    expect(got.map((e) => [e.id, e.event])).toEqual([
      ['r1.1', 'alert.raised'],
      ['r1.2', 'alert.raised'],
      ['r1.3', 'alert.cleared'],
      ['r1.4', 'alert.cleared'],
    ]);
    expect(JSON.parse(got[2]?.data ?? '')).toEqual({
      alert_id: `A@${Date.parse('2025-01-15T06:00:00Z')}`,
      patient_id: 'A',
      site_id: 'S01',
      level: 'high',
      probability: 0.8,
      model_version: '1',
      at: '2025-01-15T06:00:00.000Z',
      top_risk_factors: [{ feature: 'heart_rate_mean_6h', attribution: 0.2, value: 121 }],
      acknowledged_by: null,
      acknowledged_at: null,
      cleared_at: '2025-01-15T07:00:00.000Z',
      cleared_probability: 0.1,
      cleared_model_version: '2',
    });
    // The site filter applies to clearances as to raised alerts.
    const onlyB = await s02.waitFor(2);
    expect(onlyB.map((e) => [e.event, JSON.parse(e.data).patient_id])).toEqual([
      ['alert.raised', 'B'],
      ['alert.cleared', 'B'],
    ]);
    await new Promise((r) => setTimeout(r, 50)); // nothing else arrives
    expect(all.events).toHaveLength(4);
    expect(s02.events).toHaveLength(2);

    const open = await s.app.inject({ url: '/alerts', headers: { 'x-api-key': s.key } });
    expect(open.json()).toEqual({ alerts: [] });
    all.close();
    s02.close();
  });

  it('a client reconnecting with Last-Event-ID receives the clearance it missed', async () => {
    const s = await serve();
    const first = await openStream(s, '/alerts/stream');
    s.backend.onEvent(change('patient.alert.raised', 'A', 'high', 1_000_000, 0.8));
    const [raised] = await first.waitFor(1);
    first.close();
    s.backend.onEvent(change('patient.alert.cleared', 'A', 'normal', 2_000_000, 0.1));
    const resumed = await openStream(s, '/alerts/stream', raised?.id);
    const [missed] = await resumed.waitFor(1);
    expect(missed).toMatchObject({ id: 'r1.2', event: 'alert.cleared' });
    expect(JSON.parse(missed?.data ?? '')).toMatchObject({
      alert_id: 'A@1000000',
      patient_id: 'A',
      cleared_at: new Date(2_000_000).toISOString(),
    });
    resumed.close();
  });

  it('subscribes to the backend clearances once and unsubscribes when the app closes', async () => {
    const s = await serve();
    expect(s.subscribed()).toBe(1);
    await s.app.close();
    running = undefined;
    expect(s.subscribed()).toBe(0);
    s.backend.onEvent(change('patient.alert.raised', 'A', 'high', 1000, 0.8));
    s.backend.onEvent(change('patient.alert.cleared', 'A', 'normal', 2000, 0.1));
    expect(s.hub.resume('r1.0').events.map((e) => e.kind)).toEqual([]);
  });
});
