import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { Kafka, logLevel as kafkaLogLevel } from 'kafkajs';
import type pg from 'pg';
import { pino } from 'pino';
import { writeDigest } from '../audit/digest.js';
import { PgAuditLog } from '../audit/log.js';
import { loadParams, paramsPath } from '../config/params.js';
import { migrate } from '../db/migrate.js';
import { defaultFeatureSet } from '../features/definition.js';
import type { PatientContext } from '../features/engine.js';
import { PgPatientDirectory } from '../ingest/enrollment-cache.js';
import type { LakeStorage } from '../lake/storage.js';
import { type TrainingReference, TrainingReferenceSchema } from '../monitoring/drift.js';
import { LiveMonitor } from '../monitoring/live.js';
import { MlflowRegistryReader } from '../registry/mlflow.js';
import { ClosedLoop } from '../retrain/loop.js';
import { Authenticator, PgApiKeyStore } from '../security/apikeys.js';
import { loadOrCreateTls } from '../security/tls.js';
import { Service } from '../service/service.js';
import { LOCAL_DIR, REPO_ROOT } from '../shared/paths.js';
import type { StackConfig } from '../stack/config.js';
import { SystemClock } from '../supervisors/clock.js';
import { ActorsBackend, type RetrainHandler } from './actors-adapter.js';
import { AlertHub } from './alert-hub.js';
import { buildApp } from './app.js';
import { PgEnrollmentLookup } from './enrollment.js';
import { ApiMetrics } from './metrics.js';
import { kafkaProbe, postgresProbe, redisProbe } from './probes.js';
import { retrainStatusThrough, retrainThrough } from './training-adapter.js';

export interface ServeConfig {
  host: string;
  port: number;
  /** undefined: HTTPS with the self-signed certificate under .local/tls. */
  tls: { certPath?: string; keyPath?: string } | 'off';
  modelFile?: string;
  stagingFile?: string;
  /** Load `production`/`staging` of this registered model from the stack's MLflow. */
  registryModel?: string;
  /**
   * The serving model's drift reference (drift_reference.json) for live monitoring; default: the
   * file beside `modelFile`, if there is one. Without one the live monitor measures performance only.
   */
  driftReference?: string;
  /** Consume the four topics into the actors (the actors' own consumer group); false: embedded. */
  feed: boolean;
  /** The actors' consumer group (default aepred-actors): a second service on one broker needs its own. */
  group?: string;
  /** Where /retrain and the Alertmanager webhook go (issue 9's TrainingSupervisor), if wired. */
  retrain?: RetrainHandler;
  /**
   * Wire /retrain (and GET /retrain/:id) to a TrainingSupervisor in this process: the closed loop's
   * runner (local pipeline over `lake`, MLflow of the stack, lineage, audit) and canary over the
   * service's own ModelSupervisor, on wall-clock time (window: the last pipeline.training_days).
   */
  training?: { lake: string };
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
 * The production composition: Postgres (migrated), the actors' Service (issue 7: Kafka feed into
 * the patient actors, Redis snapshots, ModelSupervisor with local or registry models, risk-alerts),
 * the API over HTTPS on top of it through ActorsBackend, and the periodic audit digest.
 */
export async function startService(c: ServeConfig): Promise<Running> {
  const params = loadParams();
  const logger = pino({ level: c.logLevel, base: { service: 'aepred-serve', pid: process.pid } });
  await migrate(c.pool);
  const tls = c.tls === 'off' ? undefined : loadOrCreateTls({ ...c.tls, dir: join(LOCAL_DIR, 'tls') });
  if (tls?.generated === true) logger.info({ cert: tls.certPath }, 'generated a self-signed certificate');

  const redis = new Redis({ host: c.stack.host, port: c.stack.services.redis.port, maxRetriesPerRequest: 2 });
  const brokers = [`${c.stack.host}:${c.stack.services.kafka.port}`];
  const admin = new Kafka({
    clientId: 'aepred-serve-health',
    brokers,
    logLevel: kafkaLogLevel.NOTHING,
    retry: { retries: 0 },
  }).admin();
  admin
    .connect()
    .catch((e: unknown) => logger.warn({ err: (e as Error).message }, 'kafka admin not connected'));

  const sites = new Map<string, string>();
  const contexts = async (p: string): Promise<PatientContext | undefined> => {
    const { rows } = await c.pool.query(
      `SELECT enrollment_date::text AS enrollment_date, age, sex, height_cm, weight_kg, comorbidities, arm_role, site_id
       FROM enrollment WHERE patient_id = $1`,
      [p],
    );
    const r = rows[0];
    if (r === undefined) return undefined;
    sites.set(p, r.site_id);
    return r;
  };
  const local = {
    ...(c.modelFile === undefined ? {} : { production: c.modelFile }),
    ...(c.stagingFile === undefined ? {} : { staging: c.stagingFile }),
  };
  const clock = new SystemClock();
  const fs = defaultFeatureSet();
  const reference = await loadDriftReference(c, fs.hash, logger);
  let monitor: LiveMonitor | undefined;
  let firstProduction: string | undefined;
  const service = new Service({
    onDelivered: (p, items) =>
      monitor?.delivered(
        p,
        items.map((i) => i.obs),
      ),
    params,
    clock,
    logger,
    contexts: (p) => contexts(p),
    patients: new PgPatientDirectory(c.pool, {
      negativeTtlMs: params.ingest.enrollment_negative_ttl_seconds * 1000,
    }),
    redis: { client: redis },
    models: {
      local,
      ...(c.registryModel === undefined
        ? {}
        : {
            mlflow: {
              trackingUri: `http://${c.stack.host}:${c.stack.services.mlflow.port}`,
              name: c.registryModel,
            },
          }),
    },
    ...(c.feed
      ? {
          kafka: {
            brokers,
            partitions: c.stack.kafka.default_partitions,
            ...(c.group === undefined ? {} : { groupId: c.group }),
          },
        }
      : {}),
  });
  const metrics = new ApiMetrics();
  // live monitoring of the production model (docs/monitoring.md "In the service")
  monitor = new LiveMonitor({
    params,
    names: fs.names,
    ...(reference === undefined ? {} : { reference }),
    production: () => service.models.production,
    labelsHeld: () => !service.feedCaughtUp,
    siteOf: (p) => sites.get(p),
    registry: metrics.registry,
    logger,
    // with --retrain-lake a decay decision starts a retraining (deduplicated and cooled down by the
    // rules; the TrainingSupervisor drops a request while one runs)
    onDecision: (d) => {
      loop?.training.handle(d);
    },
  });
  const audit = new PgAuditLog(c.pool, {
    maxRows: params.api.audit.group_commit_max_rows,
    onBatch: (rows) => metrics.auditBatch.observe(rows),
  });
  const loop =
    c.training === undefined
      ? undefined
      : new ClosedLoop({
          params,
          paramsPath: paramsPath(),
          repoRoot: REPO_ROOT,
          python: join(REPO_ROOT, '.venv', 'bin', 'python'),
          lake: c.training.lake,
          trackingUri: `http://${c.stack.host}:${c.stack.services.mlflow.port}`,
          workDir: join(LOCAL_DIR, 'retrain'),
          logger,
          registry: metrics.registry,
          start: clock.now(),
          clock,
          models: service.models,
          wall: () => performance.now(),
          audit,
        });
  const retrain = loop === undefined ? c.retrain : retrainThrough(loop.training, clock);
  const backend = new ActorsBackend({
    patients: service.patients,
    models: service.models,
    siteOf: (p) => sites.get(p) ?? 'unknown',
    now: Date.now,
    ...(retrain === undefined ? {} : { retrain }),
    ...(loop === undefined ? {} : { retrainStatus: retrainStatusThrough(loop.training) }),
  });
  const unsubscribe = service.subscribe((e) => {
    backend.onEvent(e);
    if (e.type === 'patient.risk.scored') monitor?.scored(e);
    // a new production model restarts the windows; the reference shipped is the first model's, so
    // it applies again only when production returns to that model (a promoted model's reference
    // is not looked up here: drift is off for it, performance goes on)
    else if (e.type === 'model.version.promoted' || e.type === 'model.version.rolled_back')
      monitor?.modelChanged(e.version === firstProduction ? (reference ?? null) : null);
    else if (e.type === 'model.version.loaded' && e.alias === 'production' && firstProduction === undefined)
      firstProduction = e.version;
  });
  await service.start();
  const enrollment = new PgEnrollmentLookup(c.pool);
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
  logger.info({ url, model: service.models.production ?? null, feed: c.feed }, 'serving');
  return {
    app,
    url,
    async close() {
      clearInterval(digestTimer);
      monitor?.stop();
      await app.close();
      loop?.canary.close();
      await loop?.training.idle;
      await audit.close();
      await writeDigest(c.pool, c.lake).catch(() => undefined);
      unsubscribe();
      await service.stop();
      await admin.disconnect().catch(() => undefined);
      redis.disconnect();
    },
  };
}

/**
 * The drift reference for live monitoring: `c.driftReference`, else `drift_reference.json` beside the
 * model file, else (with `registryModel`) the one logged beside the production version's ONNX file
 * in its MLflow run. A file that does not parse, or belongs to another feature set, is an error:
 * monitoring a model against the wrong reference would report drift that is not there.
 */
export async function loadDriftReference(
  c: ServeConfig,
  featureSetHash: string,
  logger: { info: (o: object, m: string) => void },
): Promise<TrainingReference | undefined> {
  const beside = c.modelFile === undefined ? undefined : join(dirname(c.modelFile), 'drift_reference.json');
  const path = c.driftReference ?? (beside !== undefined && existsSync(beside) ? beside : undefined);
  let text: string | undefined;
  let where = path;
  if (path !== undefined) text = readFileSync(path, 'utf8');
  else if (c.registryModel !== undefined) {
    const reg = new MlflowRegistryReader(`http://${c.stack.host}:${c.stack.services.mlflow.port}`);
    const v = await reg.versionByAlias(c.registryModel, 'production').catch(() => undefined);
    if (v?.run_id) {
      where = `MLflow run ${v.run_id} (${c.registryModel} version ${v.version})`;
      text = await reg
        .runArtifact(v.run_id, 'model/drift_reference.json')
        .then((b) => Buffer.from(b).toString('utf8'))
        .catch(() => undefined);
    }
  }
  if (text === undefined || where === undefined) {
    logger.info({}, 'no drift reference: live monitoring measures performance only');
    return undefined;
  }
  let ref: TrainingReference;
  try {
    ref = TrainingReferenceSchema.parse(JSON.parse(text));
  } catch (e) {
    throw new Error(`drift reference ${where} is not a valid drift_reference.json: ${(e as Error).message}`);
  }
  if (ref.feature_set_hash !== featureSetHash)
    throw new Error(
      `drift reference ${where} was built for feature set ${ref.feature_set_hash}, the service computes ${featureSetHash}`,
    );
  logger.info(
    { from: where, features: ref.features.length, sites: ref.segments?.groups.length ?? 0 },
    'drift reference loaded',
  );
  return ref;
}
