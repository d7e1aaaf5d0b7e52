import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { Kafka, logLevel as kafkaLogLevel } from 'kafkajs';
import type pg from 'pg';
import { pino } from 'pino';
import { alertMachine } from '../actors/patient/alerts.js';
import { writeDigest } from '../audit/digest.js';
import { PgAuditLog } from '../audit/log.js';
import { loadParams } from '../config/params.js';
import { migrate } from '../db/migrate.js';
import { defaultFeatureSet } from '../features/definition.js';
import { FeaturePlan } from '../features/engine.js';
import type { LakeStorage } from '../lake/storage.js';
import { Authenticator, PgApiKeyStore } from '../security/apikeys.js';
import { loadOrCreateTls } from '../security/tls.js';
import { LOCAL_DIR } from '../shared/paths.js';
import type { StackConfig } from '../stack/config.js';
import { SystemClock } from '../supervisors/clock.js';
import { ModelSupervisor } from '../supervisors/model/actor.js';
import { PatientSupervisor } from '../supervisors/patient/actor.js';
import { RedisSnapshotStore } from '../supervisors/patient/store.js';
import { ActorsBackend } from './actors-adapter.js';
import { AlertHub } from './alert-hub.js';
import { buildApp } from './app.js';
import { PgEnrollmentLookup } from './enrollment.js';
import { ApiMetrics } from './metrics.js';
import { kafkaProbe, postgresProbe, redisProbe } from './probes.js';

export interface ServeConfig {
  host: string;
  port: number;
  /** undefined: HTTPS with the self-signed certificate under .local/tls. */
  tls: { certPath?: string; keyPath?: string } | 'off';
  modelFile?: string;
  stagingFile?: string;
  lake: LakeStorage;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug';
  stack: StackConfig;
  pool: pg.Pool;
}

export interface Running {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

/**
 * The production composition: Postgres (migrated), Redis snapshots, the real actors and model
 * supervisor, the API over HTTPS, and the periodic audit digest. Feeding the actors from Kafka is the
 * actors' service (issue 7); until it is wired here, actors start from their Redis snapshots.
 */
export async function startService(c: ServeConfig): Promise<Running> {
  const params = loadParams();
  const logger = pino({ level: c.logLevel, base: { service: 'aepred-serve', pid: process.pid } });
  await migrate(c.pool);
  const tls = c.tls === 'off' ? undefined : loadOrCreateTls({ ...c.tls, dir: join(LOCAL_DIR, 'tls') });
  if (tls?.generated === true) logger.info({ cert: tls.certPath }, 'generated a self-signed certificate');

  const redis = new Redis({ host: c.stack.host, port: c.stack.services.redis.port, maxRetriesPerRequest: 2 });
  const kafka = new Kafka({
    clientId: 'aepred-serve-health',
    brokers: [`${c.stack.host}:${c.stack.services.kafka.port}`],
    logLevel: kafkaLogLevel.NOTHING,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  admin
    .connect()
    .catch((e: unknown) => logger.warn({ err: (e as Error).message }, 'kafka admin not connected'));

  const fs = defaultFeatureSet();
  const clock = new SystemClock();
  const models = new ModelSupervisor({ featureSetHash: fs.hash, canaryShare: params.canary.share, logger });
  if (c.modelFile !== undefined) await models.load('production', readFileSync(c.modelFile));
  if (c.stagingFile !== undefined) await models.load('staging', readFileSync(c.stagingFile));
  const enrollment = new PgEnrollmentLookup(c.pool);
  const siteCache = new Map<string, string>();
  let backend: ActorsBackend | undefined;
  const patients = new PatientSupervisor({
    behavior: {
      plan: new FeaturePlan(fs, []),
      machine: alertMachine(params.alerts),
      alerts: params.alerts,
      throttleMs: params.actors.score_throttle_minutes * 60_000,
    },
    models,
    store: new RedisSnapshotStore(redis),
    context: async (p) => {
      const { rows } = await c.pool.query(
        'SELECT enrollment_date::text AS enrollment_date, age, sex, height_cm, weight_kg, comorbidities, arm_role, site_id FROM enrollment WHERE patient_id = $1',
        [p],
      );
      const r = rows[0];
      if (r !== undefined) siteCache.set(p, r.site_id);
      return r ?? {};
    },
    clock,
    params: params.actors,
    logger,
    emit: (e) => backend?.onEvent(e),
  });
  patients.start();
  backend = new ActorsBackend({
    patients,
    models,
    siteOf: (p) => siteCache.get(p) ?? 'unknown',
    now: Date.now,
  });

  const metrics = new ApiMetrics();
  const audit = new PgAuditLog(c.pool, {
    maxRows: params.api.audit.group_commit_max_rows,
    onBatch: (rows) => metrics.auditBatch.observe(rows),
  });
  const app = await buildApp(
    {
      backend,
      enrollment,
      audit,
      auth: new Authenticator(new PgApiKeyStore(c.pool), {
        cacheMs: params.api.api_key_cache_seconds * 1000,
      }),
      probes: [postgresProbe(c.pool), redisProbe(redis), kafkaProbe(admin)],
      readinessProbes: ['postgres'],
      metrics,
      hub: new AlertHub({ capacity: params.api.sse_buffer, epoch: Date.now().toString(36) }),
      now: Date.now,
    },
    {
      api: params.api,
      ...(tls === undefined ? {} : { tls: { cert: tls.cert, key: tls.key } }),
      logLevel: c.logLevel,
      trustProxy: false,
      probeTimeoutMs: 1000,
    },
  );
  const digestTimer = setInterval(() => {
    writeDigest(c.pool, c.lake).catch((e: unknown) =>
      logger.error({ err: (e as Error).message }, 'audit digest failed'),
    );
  }, params.api.audit.digest_interval_seconds * 1000);
  await app.listen({ host: c.host, port: c.port });
  const url = `${tls === undefined ? 'http' : 'https'}://${c.host}:${c.port}`;
  logger.info({ url, model: models.production ?? null }, 'serving');
  return {
    app,
    url,
    async close() {
      clearInterval(digestTimer);
      await app.close();
      await audit.close();
      await writeDigest(c.pool, c.lake).catch(() => undefined);
      await patients.stop();
      await models.close();
      await admin.disconnect().catch(() => undefined);
      redis.disconnect();
    },
  };
}
