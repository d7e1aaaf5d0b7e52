import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import type { Logger } from 'pino';
import { alertMachine } from '../actors/patient/alerts.js';
import type { BehaviorConfig } from '../actors/patient/behavior.js';
import type {
  AlertChanged,
  DeliveredEvent,
  PatientEvent,
  PatientId,
  RiskScored,
} from '../actors/patient/protocol.js';
import type { Params } from '../config/params.js';
import { loadInteractions } from '../contracts/interactions.js';
import { contracts as sharedContracts } from '../contracts/validator.js';
import { defaultFeatureSet, type FeatureSet } from '../features/definition.js';
import { FeaturePlan, type PatientContext } from '../features/engine.js';
import { Normalizer, UnitsTable } from '../features/normalize.js';
import type { PatientDirectory } from '../ingest/enrollment-cache.js';
import { MlflowRegistryReader } from '../registry/mlflow.js';
import { AepredError } from '../shared/errors.js';
import type { Clock } from '../supervisors/clock.js';
import { ModelSupervisor } from '../supervisors/model/actor.js';
import type { ModelAlias, ModelEvent } from '../supervisors/model/protocol.js';
import { PatientSupervisor } from '../supervisors/patient/actor.js';
import type { PatientSupervisorEvent } from '../supervisors/patient/protocol.js';
import { MemorySnapshotStore, RedisSnapshotStore, type SnapshotStore } from '../supervisors/patient/store.js';
import { RiskAlertsProducer } from './alerts-producer.js';
import { ActorFeed, type FeedProgress } from './feed.js';
import { partitionOfKey } from './placement.js';

export type ServiceEvent = PatientEvent | PatientSupervisorEvent | ModelEvent;

const CONTRACT_TOPICS = ['patient-vitals', 'lab-results', 'medications', 'adverse-events'] as const;

export interface ServiceKafkaOptions {
  brokers: string[];
  /** The actors' consumer group (default aepred-actors). */
  groupId?: string;
  /** Prefix for every topic name (tests use unique topics on the shared broker). */
  topicPrefix?: string;
  /** Partition count of the four topics (the stack's default_partitions): placement by patient. */
  partitions: number;
  /** Where alert changes go; undefined: `<prefix>risk-alerts`; null: not produced. */
  alertsTopic?: string | null;
  maxBytesPerPartition?: number;
}

export interface ServiceModelsOptions {
  /** Local ONNX files per alias (embedded mode, tests). */
  local?: Partial<Record<ModelAlias, string>>;
  /** The MLflow registry: the versions holding `production` / `staging` of `name`. */
  mlflow?: { trackingUri: string; name: string; fetch?: typeof fetch };
}

export interface ServiceOptions {
  params: Params;
  clock: Clock;
  logger: Logger;
  /** Enrollment context of a patient (undefined: not enrolled, its events are skipped). */
  contexts: (p: PatientId) => PatientContext | undefined | Promise<PatientContext | undefined>;
  patients: PatientDirectory;
  featureSet?: FeatureSet;
  /** Kafka wiring; absent: embedded mode (the API or a test delivers events itself). */
  kafka?: ServiceKafkaOptions;
  /** Redis for snapshots (url or client); absent: in-memory snapshots. */
  redis?: { url?: string; client?: Redis; prefix?: string };
  store?: SnapshotStore;
  models?: ServiceModelsOptions;
  /** Checkpoint interval (snapshot + commit); default actors.snapshot_interval_seconds. */
  checkpointMs?: number;
  onBatch?: (p: FeedProgress) => void;
  /** Each patient's events of a Kafka batch, after its actor applied them (live monitoring). */
  onDelivered?: (patient: PatientId, items: readonly DeliveredEvent[]) => void;
}

/**
 * The running system of issue 7, composed: actor feed (own consumer group) -> PatientSupervisor ->
 * PatientActors scoring through the ModelSupervisor, snapshots in Redis, alert changes to
 * `risk-alerts`, and an event fan-out the API's ActorsBackend subscribes to (`subscribe`).
 */
export class Service {
  readonly patients: PatientSupervisor;
  readonly models: ModelSupervisor;
  readonly store: SnapshotStore;
  readonly behavior: BehaviorConfig;
  readonly #o: ServiceOptions;
  readonly #log: Logger;
  readonly #listeners = new Set<(e: ServiceEvent) => void>();
  #redis: Redis | undefined;
  #ownsRedis = false;
  #kafka: Kafka | undefined;
  #feed: ActorFeed | undefined;
  #alerts: RiskAlertsProducer | undefined;
  #started = false;

  constructor(o: ServiceOptions) {
    this.#o = o;
    this.#log = o.logger.child({ component: 'service' });
    const p = o.params;
    const fs = o.featureSet ?? defaultFeatureSet();
    const plan = new FeaturePlan(
      fs,
      loadInteractions().interactions,
      p.actors.retention_slack_minutes * 60_000,
    );
    this.behavior = {
      plan,
      machine: alertMachine(p.alerts),
      alerts: p.alerts,
      throttleMs: p.actors.score_throttle_minutes * 60_000,
    };
    if (o.store) this.store = o.store;
    else if (o.redis) {
      this.#redis =
        o.redis.client ?? new Redis(o.redis.url ?? 'redis://127.0.0.1:6379', { lazyConnect: false });
      this.#ownsRedis = o.redis.client === undefined;
      this.store = new RedisSnapshotStore(this.#redis, o.redis.prefix);
    } else this.store = new MemorySnapshotStore();
    this.models = new ModelSupervisor({
      featureSetHash: fs.hash,
      canaryShare: p.canary.share,
      logger: o.logger,
      emit: (e) => this.#fanout(e),
    });
    const k = o.kafka;
    this.patients = new PatientSupervisor({
      behavior: this.behavior,
      models: this.models,
      store: this.store,
      context: async (pid) => {
        const c = await o.contexts(pid);
        if (c === undefined)
          throw new AepredError('AEP_UNKNOWN_PATIENT', `patient ${pid} is not enrolled`, { kind: 'usage' });
        return c;
      },
      clock: o.clock,
      params: p.actors,
      logger: o.logger,
      emit: (e) => this.#fanout(e),
      ...(k === undefined ? {} : { partitionOf: (pid: PatientId) => partitionOfKey(pid, k.partitions) }),
    });
  }

  /**
   * False while the Kafka feed is behind its partitions' high watermarks (catching up after a start
   * or a backlog); true when caught up, or with no feed (embedded).
   */
  get feedCaughtUp(): boolean {
    return this.#feed?.caughtUp ?? true;
  }

  /** Every scoring, alert change and lifecycle event; returns the unsubscribe function. */
  subscribe(fn: (e: ServiceEvent) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  #fanout(e: ServiceEvent): void {
    if (
      this.#alerts &&
      (e.type === 'patient.alert.raised' ||
        e.type === 'patient.alert.cleared' ||
        e.type === 'patient.alert.acknowledged')
    )
      this.#alerts.publish(e as AlertChanged);
    for (const l of this.#listeners) l(e);
  }

  get feedProgress(): Readonly<FeedProgress> | undefined {
    return this.#feed?.progress;
  }

  positions(): Array<{ topic: string; partition: number; next: bigint }> {
    return this.#feed?.positions() ?? [];
  }

  /** Partitions this replica consumes (empty in embedded mode). */
  get partitions(): number[] {
    return this.#feed?.partitions ?? [];
  }

  async loadModels(): Promise<void> {
    const m = this.#o.models;
    for (const [alias, path] of Object.entries(m?.local ?? {}) as Array<[ModelAlias, string]>)
      await this.models.load(alias, readFileSync(path));
    if (m?.mlflow) {
      const reg = new MlflowRegistryReader(m.mlflow.trackingUri, m.mlflow.fetch);
      for (const alias of ['production', 'staging'] as const) {
        const v = await reg.versionByAlias(m.mlflow.name, alias);
        if (!v?.run_id) continue;
        const bytes = await reg.runArtifact(v.run_id, 'model/model.onnx');
        await this.models.load(alias, bytes);
        this.#log.info({ alias, registry_version: v.version }, 'model loaded from the registry');
      }
    }
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await this.loadModels();
    this.patients.start();
    const k = this.#o.kafka;
    if (!k) return;
    const prefix = k.topicPrefix ?? '';
    this.#kafka = new Kafka({
      clientId: 'aepred-actors',
      brokers: k.brokers,
      logLevel: logLevel.NOTHING,
      retry: { retries: 12, initialRetryTime: 300, maxRetryTime: 10_000 },
    });
    if (k.alertsTopic !== null)
      this.#alerts = await RiskAlertsProducer.connect(
        this.#kafka,
        k.alertsTopic ?? `${prefix}risk-alerts`,
        this.#log,
      );
    const p = this.#o.params;
    this.#feed = new ActorFeed({
      kafka: this.#kafka,
      groupId: k.groupId ?? 'aepred-actors',
      topics: Object.fromEntries(CONTRACT_TOPICS.map((t) => [t, `${prefix}${t}`])) as Record<
        (typeof CONTRACT_TOPICS)[number],
        string
      >,
      supervisor: this.patients,
      store: this.store,
      normalizer: new Normalizer(this.behavior.plan, UnitsTable.load(), p.silver.ranges),
      contracts: sharedContracts(),
      patients: this.#o.patients,
      checkpointMs: this.#o.checkpointMs ?? p.actors.snapshot_interval_seconds * 1000,
      maxFutureSkewMs: p.ingest.max_future_skew_seconds * 1000,
      clock: this.#o.clock,
      logger: this.#o.logger,
      ...(k.maxBytesPerPartition === undefined ? {} : { maxBytesPerPartition: k.maxBytesPerPartition }),
      ...(this.#o.onBatch === undefined ? {} : { onBatch: this.#o.onBatch }),
      ...(this.#o.onDelivered === undefined ? {} : { onDelivered: this.#o.onDelivered }),
    });
    await this.#feed.start();
  }

  /** Snapshot everything and commit what was delivered (tests; the feed does it periodically). */
  async checkpoint(): Promise<void> {
    if (this.#feed) await this.#feed.checkpoint();
    else await this.patients.snapshotAll();
  }

  /** A patient's score at t, by any replica: its live actor here, or its snapshot. */
  score(p: PatientId, t: number): Promise<RiskScored | null> {
    return this.patients.score(p, t);
  }

  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    await this.#feed?.stop();
    await this.patients.stop();
    await this.#alerts?.close();
    await this.models.close();
    if (this.#ownsRedis) await this.#redis?.quit();
  }
}
