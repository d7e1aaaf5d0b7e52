import { EventEmitter } from 'node:events';
import {
  type Admin,
  type Consumer,
  type EachBatchPayload,
  Kafka,
  type KafkaMessage,
  logLevel,
  type Producer,
} from 'kafkajs';
import type { Logger } from 'pino';
import type { IngestParams } from '../config/params.js';
import { eventTimeField, isTopicName, TOPICS, type TopicName } from '../contracts/types.js';
import { type Contracts, contracts as sharedContracts } from '../contracts/validator.js';
import type { LakeStorage } from '../lake/storage.js';
import { type BronzeRow, encodeBronzeFile, parseTimestampMs } from './bronze-file.js';
import { type DlqRecord, dlqTopic, salvageIds } from './dlq.js';
import type { PatientDirectory } from './enrollment-cache.js';
import { IngestMetrics } from './metrics.js';
import { bronzeKey, bronzePrefix, parseBronzeKey, UtcDates } from './naming.js';

export interface IngesterOptions {
  brokers: string[];
  groupId?: string;
  clientId?: string;
  topics?: readonly TopicName[];
  lake: LakeStorage;
  patients: PatientDirectory;
  params: IngestParams;
  logger: Logger;
  metrics?: IngestMetrics;
  contracts?: Contracts;
  /** Processing-time clock (future-timestamp check, batch age, _ingested_at). */
  now?: () => number;
  /** Start from the earliest offset when the group has none committed (default true). */
  fromBeginning?: boolean;
}

/** Valid events of one committed micro-batch, for subscribers such as the patient actors. */
export interface CommittedBatch {
  topic: TopicName;
  partition: number;
  firstOffset: bigint;
  lastOffset: bigint;
  events: readonly BronzeRow[];
  invalid: number;
  files: readonly string[];
  committedAt: number;
}

export interface IngesterEvents {
  /** After the batch's bronze files are durable and its offsets and DLQ records committed. */
  committed: [CommittedBatch];
  assigned: [Array<{ topic: TopicName; partition: number }>];
  error: [Error];
}

interface RawRecord {
  offset: bigint;
  key: string | null;
  /** kafkajs's Buffer (a view into the fetch response), decoded once, in the flush. */
  value: Buffer | null;
  timestamp: number;
  bytes: number;
}

class PartitionState {
  records: RawRecord[] = [];
  bytes = 0;
  openedAt = 0;
  /** Next offset to accept: everything below is committed or buffered. */
  floor = 0n;
  /** Flushes of this partition run one after another on this chain. */
  chain: Promise<void>;
  cleaned = false;
  constructor(
    readonly topic: TopicName,
    readonly partition: number,
    readonly generation: number,
    readonly ready: Promise<void>,
  ) {
    this.chain = ready;
  }
}

class FlushAborted extends Error {}

/**
 * kafkajs sleeps this long whenever every assigned partition is paused (backpressure), and the
 * broker holds an empty fetch this long. Its default of 5 s turned each pause into a 5 s stall: at
 * 100,000 backlogged events the ingester sat idle 80 % of the time (docs/ingestion.md, Performance).
 */
const FETCH_MAX_WAIT_MS = 100;

const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/**
 * Kafka -> validation -> bronze Parquet + DLQ, exactly once (docs/ingestion.md has the protocol and
 * why it is correct). One instance per process; start() joins the consumer group, stop() leaves it.
 */
export class Ingester extends EventEmitter<IngesterEvents> {
  readonly metrics: IngestMetrics;
  readonly #opts: IngesterOptions;
  readonly #kafka: Kafka;
  readonly #groupId: string;
  readonly #topics: readonly TopicName[];
  readonly #contracts: Contracts;
  readonly #now: () => number;
  readonly #log: Logger;
  #consumer: Consumer | undefined;
  #admin: Admin | undefined;
  readonly #producers = new Map<string, Promise<Producer>>();
  readonly #states = new Map<string, PartitionState>();
  /** Next offset after the last batch this process committed, per partition. */
  readonly #committed = new Map<string, bigint>();
  readonly #dates = new UtcDates();
  #generation = 0;
  #rebalancing = false;
  #buffered = 0;
  #inflight = 0;
  #paused = false;
  #timer: NodeJS.Timeout | undefined;
  #stopping = false;
  #restarting: Promise<void> | undefined;
  #assignment: Array<{ topic: TopicName; partition: number }> = [];

  constructor(opts: IngesterOptions) {
    super();
    this.#opts = opts;
    this.#groupId = opts.groupId ?? 'aepred-ingest';
    this.#topics = opts.topics ?? TOPICS;
    this.#contracts = opts.contracts ?? sharedContracts();
    this.#now = opts.now ?? Date.now;
    this.#log = opts.logger.child({ component: 'ingest', group: this.#groupId });
    this.metrics = opts.metrics ?? new IngestMetrics();
    this.#kafka = new Kafka({
      clientId: opts.clientId ?? 'aepred-ingest',
      brokers: opts.brokers,
      logLevel: logLevel.NOTHING,
      retry: { retries: 12, initialRetryTime: 300, maxRetryTime: 10_000 },
    });
  }

  get assignment(): ReadonlyArray<{ topic: TopicName; partition: number }> {
    return this.#assignment;
  }

  async start(): Promise<void> {
    this.#stopping = false;
    this.#admin = this.#kafka.admin();
    await this.#admin.connect();
    await this.#startConsumer();
    const tick = Math.max(100, Math.min(1000, (this.#opts.params.batch_max_seconds * 1000) / 4));
    this.#timer = setInterval(() => this.#closeAged(), tick);
    this.#timer.unref();
  }

  async #startConsumer(): Promise<void> {
    const consumer = this.#kafka.consumer({
      groupId: this.#groupId,
      sessionTimeout: this.#opts.params.session_timeout_ms,
      heartbeatInterval: Math.floor(this.#opts.params.session_timeout_ms / 10),
      readUncommitted: false,
      allowAutoTopicCreation: false,
      maxBytesPerPartition: 1 << 20,
      maxBytes: 16 << 20,
      maxWaitTimeInMs: FETCH_MAX_WAIT_MS,
    });
    consumer.on(consumer.events.REBALANCING, () => {
      this.#rebalancing = true;
    });
    consumer.on(consumer.events.GROUP_JOIN, (e) => this.#onJoin(e.payload.memberAssignment));
    consumer.on(consumer.events.CRASH, (e) => {
      this.#log.error({ err: e.payload.error }, 'consumer crashed; kafkajs restarts it');
      this.#newGeneration();
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [...this.#topics], fromBeginning: this.#opts.fromBeginning ?? true });
    this.#consumer = consumer;
    this.#paused = false;
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (p) => this.#eachBatch(p),
    });
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#restarting;
    await this.#consumer?.disconnect();
    this.#newGeneration();
    await Promise.allSettled([...this.#states.values()].map((s) => s.chain));
    for (const p of this.#producers.values()) await p.then((x) => x.disconnect()).catch(() => undefined);
    this.#producers.clear();
    await this.#admin?.disconnect();
  }

  /** Bumps the generation: open buffers are dropped, flushes not yet committed abort. */
  #newGeneration(): void {
    this.#generation++;
    for (const s of this.#states.values()) {
      this.#buffered -= s.bytes;
      s.records = [];
      s.bytes = 0;
    }
    this.#setBuffered(0);
  }

  #onJoin(assignment: Record<string, number[]>): void {
    this.#newGeneration();
    this.#rebalancing = false;
    const assigned: Array<{ topic: TopicName; partition: number }> = [];
    for (const [topic, parts] of Object.entries(assignment)) {
      if (!isTopicName(topic)) continue;
      for (const partition of parts) assigned.push({ topic, partition });
    }
    const keep = new Set(assigned.map((a) => tpKey(a.topic, a.partition)));
    for (const [k, s] of this.#states) {
      if (keep.has(k)) continue;
      this.#states.delete(k);
      // Give the transactional id back only after this partition's last flush settled.
      const producer = this.#producers.get(k);
      this.#producers.delete(k);
      void s.chain.finally(() => producer?.then((p) => p.disconnect()).catch(() => undefined));
    }
    this.#assignment = assigned;
    this.#log.info({ generation: this.#generation, partitions: assigned.length }, 'partitions assigned');
    this.emit('assigned', assigned);
  }

  /** The transactional producer of one source partition: its id fences any earlier owner. */
  #producer(topic: TopicName, partition: number): Promise<Producer> {
    const k = tpKey(topic, partition);
    let p = this.#producers.get(k);
    if (p === undefined) {
      const producer = this.#kafka.producer({
        transactionalId: `${this.#groupId}.${topic}.${partition}`,
        idempotent: true,
        maxInFlightRequests: 1,
        transactionTimeout: 60_000,
        allowAutoTopicCreation: false,
      });
      p = producer.connect().then(() => producer);
      p.catch(() => this.#producers.delete(k));
      this.#producers.set(k, p);
    }
    return p;
  }

  /** State of a partition for the current generation; its `ready` resolves once its floor is known. */
  #state(topic: TopicName, partition: number): PartitionState {
    const k = tpKey(topic, partition);
    const old = this.#states.get(k);
    if (old !== undefined && old.generation === this.#generation) return old;
    const generation = this.#generation;
    const ready = (async () => {
      // A flush of the previous generation may still be committing: its outcome moves the floor.
      await old?.chain.catch(() => undefined);
      // Initialising the transactional producer fences a previous owner of the partition.
      await this.#producer(topic, partition);
      // After InitProducerId every earlier transaction of this partition is complete, so the offset
      // read now is stable - except our own last commit, whose marker may still be in flight.
      const fetched = await this.#committedOffset(topic, partition);
      const own = this.#committed.get(k) ?? -1n;
      const s = this.#states.get(k);
      if (s !== undefined && s.generation === generation) s.floor = fetched > own ? fetched : own;
    })();
    const s = new PartitionState(topic, partition, generation, ready);
    ready.catch(() => undefined);
    this.#states.set(k, s);
    return s;
  }

  async #committedOffset(topic: TopicName, partition: number): Promise<bigint> {
    const admin = this.#admin;
    if (admin === undefined) throw new Error('ingester not started');
    const res = await admin.fetchOffsets({ groupId: this.#groupId, topics: [topic] });
    const off = res[0]?.partitions.find((p) => p.partition === partition)?.offset ?? '-1';
    if (off !== '-1') return BigInt(off);
    const earliest = await admin.fetchTopicOffsetsByTimestamp(topic, 0);
    return BigInt(earliest.find((p) => p.partition === partition)?.offset ?? '0');
  }

  async #eachBatch(p: EachBatchPayload): Promise<void> {
    const { batch } = p;
    if (!isTopicName(batch.topic)) return;
    const st = this.#state(batch.topic, batch.partition);
    await st.ready;
    if (st.generation !== this.#generation) return;
    this.metrics.consumed.inc({ topic: batch.topic }, batch.messages.length);
    let n = 0;
    let resolved: string | undefined;
    for (const m of batch.messages) {
      if (!p.isRunning() || p.isStale() || st.generation !== this.#generation) return;
      const off = BigInt(m.offset);
      if (off >= st.floor) {
        this.#append(st, m, off);
        if (st.records.length >= this.#opts.params.batch_max_records) this.#close(st);
      }
      resolved = m.offset;
      // Resolving (kafkajs parses the offset into a Long) only before each heartbeat and at the end
      // is the same for kafkajs's next fetch position, at 1/500 of the cost.
      if (++n % 500 === 0) {
        p.resolveOffset(resolved);
        await p.heartbeat();
      }
    }
    if (resolved !== undefined) p.resolveOffset(resolved);
    const hw = BigInt(batch.highWatermark);
    this.metrics.lag.set(
      { topic: batch.topic, partition: String(batch.partition) },
      Number(hw > st.floor ? hw - st.floor : 0n),
    );
    await p.heartbeat();
  }

  #append(st: PartitionState, m: KafkaMessage, off: bigint): void {
    const bytes = (m.value?.length ?? 0) + (m.key?.length ?? 0) + 64;
    if (st.records.length === 0) st.openedAt = this.#now();
    st.records.push({
      offset: off,
      key: m.key === null ? null : m.key.toString('utf8'),
      value: m.value,
      timestamp: Number(m.timestamp),
      bytes,
    });
    st.bytes += bytes;
    st.floor = off + 1n;
    this.#setBuffered(bytes);
  }

  #setBuffered(delta: number): void {
    this.#buffered += delta;
    this.metrics.bufferedBytes.set(this.#buffered);
    const {
      pause_high_watermark_bytes: high,
      resume_low_watermark_bytes: low,
      max_inflight_batches,
    } = this.#opts.params;
    const over = this.#buffered > high || this.#inflight > max_inflight_batches;
    if (!this.#paused && over) this.#pause(true);
    else if (this.#paused && this.#buffered < low && this.#inflight <= max_inflight_batches)
      this.#pause(false);
  }

  #pause(on: boolean): void {
    const c = this.#consumer;
    if (c === undefined) return;
    this.#paused = on;
    this.metrics.paused.set(on ? 1 : 0);
    const topics = [...this.#topics].map((topic) => ({ topic }));
    if (on) {
      c.pause(topics);
      this.#log.warn({ buffered: this.#buffered, inflight: this.#inflight }, 'backpressure: consumer paused');
      // Under pressure the oldest open batches close now instead of waiting for size or age.
      const open = [...this.#states.values()].filter((s) => s.records.length > 0);
      open.sort((a, b) => b.bytes - a.bytes);
      for (const s of open.slice(0, Math.max(1, this.#opts.params.max_inflight_batches - this.#inflight))) {
        this.#close(s);
      }
    } else {
      c.resume(topics);
      this.#log.info({ buffered: this.#buffered }, 'backpressure: consumer resumed');
    }
  }

  #closeAged(): void {
    if (this.#rebalancing || this.#stopping) return;
    const limit = this.#now() - this.#opts.params.batch_max_seconds * 1000;
    for (const s of this.#states.values()) {
      if (s.generation === this.#generation && s.records.length > 0 && s.openedAt <= limit) this.#close(s);
    }
  }

  /** Closes the open micro-batch of a partition and queues its flush on the partition's chain. */
  #close(st: PartitionState): void {
    const records = st.records;
    const bytes = st.bytes;
    st.records = [];
    st.bytes = 0;
    this.#inflight++;
    st.chain = st.chain
      .then(() => this.#flush(st, records))
      .catch((e: unknown) => {
        if (e instanceof FlushAborted) {
          this.#log.info({ topic: st.topic, partition: st.partition, reason: e.message }, 'batch aborted');
          return;
        }
        const err = e instanceof Error ? e : new Error(String(e));
        this.#log.error(
          { err, topic: st.topic, partition: st.partition },
          'batch failed; restarting consumer',
        );
        this.emit('error', err);
        this.#restart(st.topic, st.partition);
      })
      .finally(() => {
        this.#inflight--;
        this.#setBuffered(-bytes);
      });
  }

  #checkCurrent(st: PartitionState): void {
    if (st.generation !== this.#generation) throw new FlushAborted('generation changed');
    if (this.#rebalancing) throw new FlushAborted('rebalance in progress');
  }

  async #flush(st: PartitionState, records: readonly RawRecord[]): Promise<void> {
    const first = records[0];
    const last = records[records.length - 1];
    if (first === undefined || last === undefined) return;
    this.#checkCurrent(st);
    const t0 = performance.now();
    const nowMs = this.#now();
    const topic = st.topic;
    const skew = { maxFutureSkewMs: this.#opts.params.max_future_skew_seconds * 1000 };
    const valid: BronzeRow[] = [];
    const dlq: DlqRecord[] = [];
    const reject = (r: RawRecord, errors: DlqRecord['errors']): void => {
      const ids = salvageIds(r.value);
      const reason = errors[0]?.code ?? 'schema_violation';
      dlq.push({
        dlq_version: 1,
        source_topic: topic,
        source_partition: st.partition,
        source_offset: r.offset.toString(),
        source_timestamp: new Date(r.timestamp).toISOString(),
        key: r.key,
        ...ids,
        reason,
        errors,
        original_base64: r.value === null ? '' : Buffer.from(r.value).toString('base64'),
        rejected_at: new Date(nowMs).toISOString(),
      });
    };
    for (const r of records) {
      // A string, not the bytes: checkRaw copies a Uint8Array into a new Buffer before decoding.
      const res = this.#contracts.checkRaw(
        topic,
        r.value === null ? '' : r.value.toString('utf8'),
        nowMs,
        skew,
      );
      if (res.ok) {
        valid.push({
          msg: res.value as unknown as Record<string, unknown>,
          partition: st.partition,
          offset: r.offset,
          kafkaTimestamp: r.timestamp,
          key: r.key,
        });
      } else reject(r, res.issues);
    }
    // Enrollment: one lookup per batch for the patients the cache does not know.
    const ids = new Set(valid.map((v) => String(v.msg.patient_id)));
    const enrolled = await this.#opts.patients.enrolled(ids);
    const rows: BronzeRow[] = [];
    for (const v of valid) {
      const pid = String(v.msg.patient_id);
      if (enrolled.has(pid)) rows.push(v);
      else {
        reject({ offset: v.offset, key: v.key, value: null, timestamp: v.kafkaTimestamp, bytes: 0 }, [
          {
            code: 'unknown_patient',
            path: '/patient_id',
            message: 'patient_id is not in the enrollment table',
          },
        ]);
        const d = dlq[dlq.length - 1];
        const raw = records.find((r) => r.offset === v.offset);
        if (d !== undefined && raw?.value != null) {
          d.original_base64 = Buffer.from(raw.value).toString('base64');
          Object.assign(d, salvageIds(raw.value));
        }
      }
    }
    dlq.sort((a, b) => (BigInt(a.source_offset) < BigInt(b.source_offset) ? -1 : 1));
    for (const d of dlq) {
      this.#log.warn(
        {
          correlation_id: d.correlation_id,
          topic,
          partition: st.partition,
          offset: d.source_offset,
          reason: d.reason,
        },
        'message rejected to DLQ',
      );
    }

    // Bronze first: files durable before the offsets that cover them are committed.
    const byDate = new Map<string, BronzeRow[]>();
    const timeField = eventTimeField(topic);
    for (const r of rows) {
      const d = this.#dates.of(parseTimestampMs(String(r.msg[timeField])));
      let arr = byDate.get(d);
      if (arr === undefined) {
        arr = [];
        byDate.set(d, arr);
      }
      arr.push(r);
    }
    if (!st.cleaned) {
      await this.#removeOrphans(st, first.offset);
      st.cleaned = true;
    }
    const files: string[] = [];
    for (const [date, dateRows] of byDate) {
      const key = bronzeKey({
        topic,
        date,
        partition: st.partition,
        firstOffset: first.offset,
        lastOffset: last.offset,
      });
      const body = encodeBronzeFile(
        {
          topic,
          partition: st.partition,
          firstOffset: first.offset,
          lastOffset: last.offset,
          ingestedAt: nowMs,
        },
        dateRows,
      );
      this.#checkCurrent(st);
      await this.#opts.lake.put(key, body);
      files.push(key);
    }

    // Then DLQ records and the offset commit, atomically.
    this.#checkCurrent(st);
    const producer = await this.#producer(topic, st.partition);
    const tx = await producer.transaction();
    try {
      if (dlq.length > 0) {
        await tx.send({
          topic: dlqTopic(topic),
          acks: -1,
          messages: dlq.map((d) => ({
            key: d.key,
            value: JSON.stringify(d),
            headers: {
              'aepred-reason': d.reason,
              'aepred-source': `${topic}/${st.partition}/${d.source_offset}`,
              ...(d.correlation_id === null ? {} : { 'correlation-id': d.correlation_id }),
            },
          })),
        });
      }
      await tx.sendOffsets({
        consumerGroupId: this.#groupId,
        topics: [{ topic, partitions: [{ partition: st.partition, offset: (last.offset + 1n).toString() }] }],
      });
      this.#checkCurrent(st);
      await tx.commit();
    } catch (e) {
      await tx.abort().catch(() => undefined);
      throw e;
    }
    this.#committed.set(tpKey(topic, st.partition), last.offset + 1n);
    const committedAt = this.#now();
    const dt = (performance.now() - t0) / 1000;
    this.metrics.batchWriteSeconds.observe({ topic }, dt);
    this.metrics.valid.inc({ topic }, rows.length);
    for (const d of dlq) this.metrics.invalid.inc({ topic, reason: d.reason });
    const e2e = this.metrics.endToEndSeconds.labels({ topic });
    for (const r of rows) e2e.observe((committedAt - r.kafkaTimestamp) / 1000);
    this.#log.debug(
      {
        topic,
        partition: st.partition,
        first: first.offset.toString(),
        last: last.offset.toString(),
        valid: rows.length,
        invalid: dlq.length,
        seconds: dt,
      },
      'batch committed',
    );
    this.emit('committed', {
      topic,
      partition: st.partition,
      firstOffset: first.offset,
      lastOffset: last.offset,
      events: rows,
      invalid: dlq.length,
      files,
      committedAt,
    });
  }

  /**
   * Files of this partition that start at or after the first uncommitted offset belong to batches
   * whose commit never happened (a crash between write and commit): remove them before writing, so
   * a replay with different batch boundaries cannot leave a second copy.
   */
  async #removeOrphans(st: PartitionState, from: bigint): Promise<void> {
    const keys = await this.#opts.lake.list(bronzePrefix(st.topic));
    for (const k of keys) {
      const f = parseBronzeKey(k);
      if (f === undefined || f.partition !== st.partition || f.firstOffset < from) continue;
      this.#checkCurrent(st);
      await this.#opts.lake.delete(k);
      this.metrics.orphansRemoved.inc({ topic: st.topic });
      this.#log.info(
        { topic: st.topic, partition: st.partition, key: k },
        'removed bronze file of an uncommitted batch',
      );
    }
  }

  /** After a failed flush: drop every buffer and rejoin, so consumption resumes at committed offsets. */
  #restart(topic: TopicName, partition: number): void {
    if (this.#stopping || this.#restarting !== undefined) return;
    const k = tpKey(topic, partition);
    const producer = this.#producers.get(k);
    this.#producers.delete(k);
    this.#newGeneration();
    this.#restarting = (async () => {
      await producer?.then((p) => p.disconnect()).catch(() => undefined);
      await this.#consumer?.disconnect().catch(() => undefined);
      if (!this.#stopping) await this.#startConsumer();
    })()
      .catch((e: unknown) => {
        this.#log.error({ err: e }, 'consumer restart failed');
        this.emit('error', e instanceof Error ? e : new Error(String(e)));
      })
      .finally(() => {
        this.#restarting = undefined;
      });
  }
}
