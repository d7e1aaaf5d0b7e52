import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import pino from 'pino';
import { patientId } from '../../src/actors/patient/protocol.js';
import { ActorsBackend } from '../../src/api/actors-adapter.js';
import { AlertHub } from '../../src/api/alert-hub.js';
import { buildApp } from '../../src/api/app.js';
import { PgEnrollmentLookup } from '../../src/api/enrollment.js';
import { ApiMetrics } from '../../src/api/metrics.js';
import { type Probe, postgresProbe, redisProbe } from '../../src/api/probes.js';
import { PgAuditLog } from '../../src/audit/log.js';
import { loadParams } from '../../src/config/params.js';
import { StaticPatientDirectory } from '../../src/ingest/enrollment-cache.js';
import { Authenticator, PgApiKeyStore } from '../../src/security/apikeys.js';
import type { Role } from '../../src/security/roles.js';
import { loadOrCreateTls } from '../../src/security/tls.js';
import { Service } from '../../src/service/service.js';
import { REPO_ROOT } from '../../src/shared/paths.js';
import { loadStackConfig } from '../../src/stack/config.js';
import { SimulatedClock } from '../../src/supervisors/clock.js';
import type { ModelSupervisor } from '../../src/supervisors/model/actor.js';
import type { PatientSupervisor } from '../../src/supervisors/patient/actor.js';
import { freshDatabase, type TestDb } from './api-db.js';
import { fixtureModelsDir } from './fixture-models.js';

/**
 * The real service for integration and end-to-end tests: the fastify app over HTTPS on the actors'
 * Service (issue 7; embedded, events delivered by the test), patient actors and ModelSupervisor scoring real ONNX models (issue 6's exporter, tests/fixtures/models),
 * API keys and the audit chain in a throw-away Postgres database, enrollment in its table.
 */
const MODELS_DIR = fixtureModelsDir('aepred-api-models');

/** Two tiny real models (versions 1 and 2), exported once per machine and reused. */
export function tinyModels(): { v1: Uint8Array; v2: Uint8Array } {
  const v1 = join(MODELS_DIR, 'v1.onnx');
  const v2 = join(MODELS_DIR, 'v2.onnx');
  if (!existsSync(v1) || !existsSync(v2)) {
    mkdirSync(MODELS_DIR, { recursive: true });
    const script = `
import sys; sys.argv = ['x']
from pathlib import Path
from tests.fixtures.models.tiny_model import main
main(Path('${v1}'), '1', 1, None)
main(Path('${v2}'), '2', 2, None)
`;
    execFileSync(resolve(REPO_ROOT, '.venv/bin/python'), ['-c', script], {
      cwd: REPO_ROOT,
      env: { ...process.env, PYTHONPATH: REPO_ROOT },
    });
  }
  return { v1: readFileSync(v1), v2: readFileSync(v2) };
}

export interface RealService {
  url: string;
  /** The service's self-signed certificate: clients trust exactly it. */
  ca: Buffer;
  keys: Record<Role, string>;
  db: TestDb;
  backend: ActorsBackend;
  patients: PatientSupervisor;
  models: ModelSupervisor;
  hub: AlertHub;
  /** The fastify app (benchmarks time `inject`: the HTTP layer without socket and TLS). */
  app: Awaited<ReturnType<typeof buildApp>>;
  /** The key check the auth hook runs (benchmarks time it alone). */
  auth: Authenticator;
  /** Feeds vitals to a patient's actor as the ingester would. */
  feed(id: string, heartRates: number[], endMs: number): Promise<void>;
  close(): Promise<void>;
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json<T = Record<string, unknown>>(): T;
}

/** One HTTPS request trusting only the service's certificate. */
export function call(
  svc: { url: string; ca: Buffer },
  method: string,
  path: string,
  opts: { key?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const payload = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  return new Promise((resolveP, reject) => {
    const req = https.request(
      `${svc.url}${path}`,
      {
        method,
        ca: svc.ca,
        headers: {
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
          ...(opts.key === undefined ? {} : { 'x-api-key': opts.key }),
          ...opts.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolveP({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            json: <T>() => JSON.parse(body) as T,
          });
        });
      },
    );
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

/** A Server-Sent Events client over HTTPS; `events` fills as they arrive. */
export function openStream(
  svc: { url: string; ca: Buffer },
  path: string,
  key: string,
  lastEventId?: string,
): Promise<{
  events: SseEvent[];
  status: number;
  close(): void;
  waitFor(n: number, ms?: number): Promise<SseEvent[]>;
}> {
  return new Promise((resolveP, reject) => {
    const events: SseEvent[] = [];
    const req = https.get(
      `${svc.url}${path}`,
      {
        ca: svc.ca,
        headers: {
          'x-api-key': key,
          accept: 'text/event-stream',
          ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
        },
      },
      (res) => {
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          for (;;) {
            const end = buf.indexOf('\n\n');
            if (end < 0) break;
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            const e: SseEvent = { event: 'message', data: '' };
            let isEvent = false;
            for (const line of block.split('\n')) {
              if (line.startsWith('id: ')) e.id = line.slice(4);
              else if (line.startsWith('event: ')) {
                e.event = line.slice(7);
                isEvent = true;
              } else if (line.startsWith('data: ')) {
                e.data = line.slice(6);
                isEvent = true;
              }
            }
            if (isEvent) events.push(e);
          }
        });
        resolveP({
          events,
          status: res.statusCode ?? 0,
          close: () => req.destroy(),
          async waitFor(n, ms = 10_000) {
            const until = Date.now() + ms;
            while (events.length < n && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
            return events;
          },
        });
      },
    );
    req.on('error', (e) => {
      if ((e as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(e);
    });
  });
}

export async function startRealService(opts: {
  patients: number;
  redis?: boolean;
  /** Listen here (default: a free port): the stack's Prometheus and Alertmanager call aepred.port. */
  port?: number;
  /** The certificate's folder (default: a fresh self-signed one in a temp dir). */
  tlsDir?: string;
}): Promise<RealService> {
  const params = loadParams();
  const db = await freshDatabase();
  const ids = Array.from({ length: opts.patients }, (_, i) => `API-${String(i).padStart(4, '0')}`);
  const siteOf = (id: string) => (Number(id.slice(-4)) % 2 === 0 ? 'S01' : 'S02');
  await db.pool.query(
    `INSERT INTO enrollment (patient_id, trial_id, site_id, enrollment_date, age, sex, source)
     SELECT id, 'T1', CASE WHEN right(id, 4)::int % 2 = 0 THEN 'S01' ELSE 'S02' END, DATE '2024-01-01', 60, 'F', 'test'
     FROM unnest($1::text[]) AS id`,
    [ids],
  );
  const store = new PgApiKeyStore(db.pool);
  const keys = {} as Record<Role, string>;
  for (const role of ['reader', 'coordinator', 'operator', 'admin'] as const)
    keys[role] = (await store.create(`${role}-key`, role)).key;

  const log = pino({ level: 'silent' });
  tinyModels();
  // The actors' Service in embedded mode (no Kafka feed: the test delivers events itself).
  const service = new Service({
    params: { ...params, actors: { ...params.actors, score_throttle_minutes: 0 } },
    clock: new SimulatedClock(Date.now()),
    logger: log,
    contexts: (p) => (ids.includes(p) ? { age: 60, sex: 'F', enrollment_date: '2024-01-01' } : undefined),
    patients: new StaticPatientDirectory(ids),
    models: { local: { production: join(MODELS_DIR, 'v1.onnx'), staging: join(MODELS_DIR, 'v2.onnx') } },
  });
  const backend = new ActorsBackend({
    patients: service.patients,
    models: service.models,
    siteOf,
    now: Date.now,
  });
  const unsubscribe = service.subscribe((e) => backend.onEvent(e));
  await service.start();
  const patients = service.patients;
  const models = service.models;
  const plan = service.behavior.plan;
  const probes: Probe[] = [postgresProbe(db.pool)];
  let redis: Redis | undefined;
  if (opts.redis === true) {
    redis = new Redis({
      host: '127.0.0.1',
      port: loadStackConfig().services.redis.port,
      lazyConnect: true,
      maxRetriesPerRequest: 1,
    });
    probes.push(redisProbe(redis));
  }
  const metrics = new ApiMetrics();
  const audit = new PgAuditLog(db.pool, {
    maxRows: params.api.audit.group_commit_max_rows,
    onBatch: (rows) => metrics.auditBatch.observe(rows),
  });
  const hub = new AlertHub({ capacity: params.api.sse_buffer, epoch: `t${Date.now().toString(36)}` });
  const auth = new Authenticator(store, { cacheMs: params.api.api_key_cache_seconds * 1000 });
  const tls = loadOrCreateTls({ dir: opts.tlsDir ?? mkdtempSync(join(tmpdir(), 'aepred-tls-')) });
  const app = await buildApp(
    {
      backend,
      enrollment: new PgEnrollmentLookup(db.pool),
      audit,
      auth,
      probes,
      readinessProbes: ['postgres'],
      metrics,
      hub,
      now: Date.now,
    },
    {
      api: params.api,
      tls: { cert: tls.cert, key: tls.key },
      logLevel: 'silent',
      trustProxy: false,
      probeTimeoutMs: 1000,
    },
  );
  const teardown = async (): Promise<void> => {
    await app.close();
    await audit.close();
    unsubscribe();
    await service.stop();
    redis?.disconnect();
    await db.drop();
  };
  try {
    await app.listen({ host: '127.0.0.1', port: opts.port ?? 0 });
  } catch (e) {
    await teardown();
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE')
      throw new Error(
        `port ${opts.port} is taken (is \`aepred serve\` or the demo running?): ${(e as Error).message}`,
      );
    throw e;
  }
  const port = (app.server.address() as AddressInfo).port;
  let offset = 0n;
  const hr = plan.vitalIndex('heart_rate');
  return {
    url: `https://127.0.0.1:${port}`,
    ca: tls.cert,
    keys,
    db,
    backend,
    patients,
    models,
    hub,
    app,
    auth,
    async feed(id, heartRates, endMs) {
      for (let i = 0; i < heartRates.length; i++) {
        const values = new Float64Array(plan.vitalSignals.length).fill(Number.NaN);
        values[hr] = heartRates[i] ?? Number.NaN;
        const time = endMs - (heartRates.length - 1 - i) * 300_000;
        offset += 1n;
        await patients.deliver(
          patientId(id),
          { kind: 'vitals', time, source: 'monitor', values },
          { topic: 'patient-vitals', partition: 0, offset },
        );
      }
    },
    close: teardown,
  };
}
