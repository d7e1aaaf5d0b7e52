import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { type DeliveredEvent, type PatientId, patientId } from '../actors/patient/protocol.js';
import { isTopicName, type TopicName } from '../contracts/types.js';
import type { Contracts } from '../contracts/validator.js';
import type { Normalizer } from '../features/normalize.js';
import type { PatientDirectory } from '../ingest/enrollment-cache.js';
import type { Clock } from '../supervisors/clock.js';
import type { PatientSupervisor } from '../supervisors/patient/actor.js';
import type { SnapshotStore } from '../supervisors/patient/store.js';
import { coPartitionedAssigner } from './placement.js';

export interface FeedProgress {
  /** Events handed to actors since start. */
  delivered: number;
  /** Messages skipped: invalid (the ingester DLQs them), unknown patient, not normalizable. */
  skipped: number;
  batches: number;
  /** Checkpoints (snapshot all, then commit) completed. */
  checkpoints: number;
}

export interface ActorFeedOptions {
  kafka: Kafka;
  groupId: string;
  /** Physical topic name per contract topic (tests use unique names on the shared broker). */
  topics: Readonly<Record<'patient-vitals' | 'lab-results' | 'medications' | 'adverse-events', string>>;
  supervisor: PatientSupervisor;
  store: SnapshotStore;
  normalizer: Normalizer;
  contracts: Contracts;
  patients: PatientDirectory;
  /** Snapshot every dirty actor and commit the group's offsets at most this often (processing time). */
  checkpointMs: number;
  maxFutureSkewMs: number;
  clock: Clock;
  logger: Logger;
  /** Bytes fetched per partition per request: smaller means smaller batches (tests). */
  maxBytesPerPartition?: number;
  onBatch?: (p: FeedProgress) => void;
  /** Each patient's events of a batch, after its actor applied them (live monitoring's labels). */
  onDelivered?: (patient: PatientId, items: readonly DeliveredEvent[]) => void;
}

/**
 * The actors' own consumer group over the four topics (docs/actors.md#kafka-wiring). Not the
 * Ingester's `committed` hook: recovery replays from offsets older than the ingester's, so the actors
 * keep their own group whose committed offsets are the snapshot floor.
 *
 * - One mailbox turn per patient per Kafka batch (`deliverBatch`).
 * - Checkpoint = snapshot every dirty actor (fenced), then commit the positions delivered so far. An
 *   event below a committed offset is therefore always inside a stored snapshot; events after it are
 *   replayed on restart and skipped by the actor when its snapshot already applied them.
 * - Rebalance: on a join, the actors of lost partitions are snapshotted (with the old fence) and
 *   stopped, a new fence is taken for the new generation, new partitions activate lazily.
 */
export class ActorFeed {
  readonly #o: ActorFeedOptions;
  readonly #log: Logger;
  readonly #logical = new Map<string, TopicName>();
  readonly #positions = new Map<string, { topic: string; partition: number; next: bigint }>();
  #consumer: Consumer | undefined;
  #assigned = new Set<string>();
  #ready: Promise<void> = Promise.resolve();
  #lastCheckpoint: number;
  /**
   * Messages behind the high watermark per assigned topic-partition: measured at assignment (end
   * offset - committed offset), then at each batch. Until measured, a partition counts as behind.
   */
  readonly #lag = new Map<string, bigint>();
  /** Assigned partitions whose lag no batch has set yet (the assignment-time measure may set it). */
  readonly #unmeasured = new Set<string>();
  #progress: FeedProgress = { delivered: 0, skipped: 0, batches: 0, checkpoints: 0 };
  #checkpointing: Promise<void> | undefined;

  constructor(o: ActorFeedOptions) {
    this.#o = o;
    this.#log = o.logger.child({ component: 'actor-feed', group: o.groupId });
    for (const [logical, physical] of Object.entries(o.topics)) {
      if (isTopicName(logical)) this.#logical.set(physical, logical);
    }
    this.#lastCheckpoint = o.clock.now();
  }

  get progress(): Readonly<FeedProgress> {
    return this.#progress;
  }

  /**
   * True when every assigned partition was at its high watermark at its last batch (or, with no
   * batch yet, at assignment): nothing was left to consume then.
   */
  get caughtUp(): boolean {
    for (const lag of this.#lag.values()) if (lag > 0n) return false;
    return true;
  }

  /** Next offset to deliver per topic-partition this replica consumes (after its last batch). */
  positions(): Array<{ topic: string; partition: number; next: bigint }> {
    return [...this.#positions.values()];
  }

  /** Partitions this replica consumes now (any topic: they are co-partitioned). */
  get partitions(): number[] {
    return [...new Set([...this.#assigned].map((k) => Number(k.split('\u0000')[1])))].sort((a, b) => a - b);
  }

  async start(): Promise<void> {
    const o = this.#o;
    const consumer = o.kafka.consumer({
      groupId: o.groupId,
      partitionAssigners: [coPartitionedAssigner],
      sessionTimeout: 10_000,
      heartbeatInterval: 1000,
      rebalanceTimeout: 20_000,
      maxWaitTimeInMs: 100,
      allowAutoTopicCreation: false,
      ...(o.maxBytesPerPartition === undefined ? {} : { maxBytesPerPartition: o.maxBytesPerPartition }),
    });
    consumer.on(consumer.events.GROUP_JOIN, (e) => this.#onJoin(e.payload.memberAssignment));
    await consumer.connect();
    await consumer.subscribe({ topics: Object.values(o.topics), fromBeginning: true });
    this.#consumer = consumer;
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (p) => this.#eachBatch(p),
    });
  }

  /** Leaves the group after a last checkpoint (a graceful stop loses no work to replay). */
  async stop(): Promise<void> {
    const c = this.#consumer;
    this.#consumer = undefined;
    if (!c) return;
    await c.stop();
    await this.#ready;
    await this.checkpoint(c).catch((e: unknown) => this.#log.warn({ err: e }, 'final checkpoint failed'));
    await c.disconnect();
  }

  #onJoin(assignment: Record<string, number[]>): void {
    const next = new Set<string>();
    const parts = new Set<number>();
    for (const [topic, ps] of Object.entries(assignment)) {
      if (!this.#logical.has(topic)) continue;
      for (const p of ps) {
        next.add(`${topic}\u0000${p}`);
        parts.add(p);
      }
    }
    const before = new Set(this.partitions);
    const lost = [...before].filter((p) => !parts.has(p));
    this.#assigned = next;
    for (const k of this.#positions.keys()) if (!next.has(k)) this.#positions.delete(k);
    for (const k of this.#lag.keys()) if (!next.has(k)) this.#lag.delete(k);
    for (const k of next)
      if (!this.#lag.has(k)) {
        this.#lag.set(k, 1n);
        this.#unmeasured.add(k);
      }
    this.#measureLag().catch((e: unknown) =>
      this.#log.warn({ err: (e as Error).message }, 'could not measure the lag at assignment'),
    );
    const sup = this.#o.supervisor;
    const prev = this.#ready;
    this.#ready = (async () => {
      await prev;
      // Snapshots of the lost actors carry the old fence: the new owner's writes win over them.
      if (lost.length > 0) await sup.revoke(lost);
      sup.setFence(await this.#o.store.nextFence());
      sup.assign([...parts]);
      this.#log.info({ partitions: [...parts].sort((a, b) => a - b), lost, fence: sup.fence }, 'assigned');
    })();
    this.#ready.catch((e: unknown) => this.#log.error({ err: e }, 'rebalance handling failed'));
  }

  /** End offset - committed offset of the assigned partitions no batch has measured yet. */
  async #measureLag(): Promise<void> {
    if (this.#unmeasured.size === 0) return;
    const admin = this.#o.kafka.admin();
    await admin.connect();
    try {
      const topics = [...new Set([...this.#unmeasured].map((k) => k.split('\u0000')[0] ?? ''))];
      const committed = new Map<string, bigint>();
      for (const t of await admin.fetchOffsets({ groupId: this.#o.groupId, topics }))
        for (const p of t.partitions) committed.set(`${t.topic}\u0000${p.partition}`, BigInt(p.offset));
      for (const topic of topics)
        for (const p of await admin.fetchTopicOffsets(topic)) {
          const key = `${topic}\u0000${p.partition}`;
          if (!this.#unmeasured.has(key)) continue;
          const from = committed.get(key) ?? -1n;
          this.#lag.set(key, BigInt(p.high) - (from >= 0n ? from : BigInt(p.low)));
          this.#unmeasured.delete(key);
        }
    } finally {
      await admin.disconnect();
    }
  }

  async #eachBatch(p: EachBatchPayload): Promise<void> {
    await this.#ready;
    const { batch } = p;
    const topic = this.#logical.get(batch.topic);
    const last = batch.messages.at(-1);
    if (topic === undefined || last === undefined) return;
    const o = this.#o;
    const now = o.clock.now();
    const parsed: Array<{ pid: string; msg: Record<string, unknown>; offset: bigint }> = [];
    for (const m of batch.messages) {
      if (!p.isRunning() || p.isStale()) return;
      const res = o.contracts.checkRaw(topic, m.value === null ? '' : m.value.toString('utf8'), now, {
        maxFutureSkewMs: o.maxFutureSkewMs,
      });
      if (!res.ok) {
        this.#progress.skipped++;
        continue;
      }
      const msg = res.value as unknown as Record<string, unknown>;
      parsed.push({ pid: String(msg.patient_id), msg, offset: BigInt(m.offset) });
    }
    const enrolled = await o.patients.enrolled(new Set(parsed.map((x) => x.pid)));
    const byPatient = new Map<PatientId, DeliveredEvent[]>();
    for (const x of parsed) {
      const n = enrolled.has(x.pid) ? o.normalizer.normalize(topic, x.msg) : undefined;
      if (!n?.ok) {
        this.#progress.skipped++;
        continue;
      }
      const pid = patientId(x.pid);
      let list = byPatient.get(pid);
      if (!list) {
        list = [];
        byPatient.set(pid, list);
      }
      list.push({
        obs: n.obs,
        position: { topic: batch.topic, partition: batch.partition, offset: x.offset },
      });
    }
    if (!p.isRunning() || p.isStale()) return;
    await Promise.all([...byPatient].map(([pid, items]) => o.supervisor.deliverBatch(pid, items)));
    const key = `${batch.topic}\u0000${batch.partition}`;
    // before the hook: the batch that empties the last partition sees the feed caught up
    this.#lag.set(key, BigInt(batch.highWatermark) - (BigInt(last.offset) + 1n));
    this.#unmeasured.delete(key);
    for (const [pid, items] of byPatient) {
      this.#progress.delivered += items.length;
      o.onDelivered?.(pid, items);
    }
    this.#positions.set(key, {
      topic: batch.topic,
      partition: batch.partition,
      next: BigInt(last.offset) + 1n,
    });
    p.resolveOffset(last.offset);
    this.#progress.batches++;
    if (o.clock.now() - this.#lastCheckpoint >= o.checkpointMs && this.#consumer)
      await this.checkpoint(this.#consumer);
    o.onBatch?.(this.#progress);
    await p.heartbeat();
  }

  /** Snapshot every dirty actor, then commit what was delivered: the commit never passes a snapshot. */
  async checkpoint(c: Consumer | undefined = this.#consumer): Promise<void> {
    if (!c) return;
    if (this.#checkpointing) return this.#checkpointing;
    const run = async (): Promise<void> => {
      const positions = [...this.#positions.values()];
      this.#lastCheckpoint = this.#o.clock.now();
      await this.#o.supervisor.snapshotAll();
      if (positions.length === 0) return;
      try {
        await c.commitOffsets(
          positions.map((x) => ({ topic: x.topic, partition: x.partition, offset: x.next.toString() })),
        );
        this.#progress.checkpoints++;
      } catch (e) {
        // A rebalance in progress refuses commits; the next checkpoint commits (replay is idempotent).
        this.#log.warn({ err: e }, 'offset commit failed; will retry at the next checkpoint');
      }
    };
    this.#checkpointing = run().finally(() => {
      this.#checkpointing = undefined;
    });
    return this.#checkpointing;
  }
}
