/**
 * Throughput and lag of the ingester, in-process (bench/ingest.bench.ts, bench/ingest-profile.ts):
 * - drain: the stream is already in Kafka; one Ingester drains it. Reported twice: from start()
 *   (process already up, group join included) and steady state (from the first committed batch to
 *   the last, so connecting, joining and taking over partitions are excluded).
 * - live: the Ingester runs first, the stream is produced at a fixed rate; end-to-end lag is the
 *   Kafka record timestamp to the commit of the batch that holds it, per valid row.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import type { IngestParams } from '../../src/config/params.js';
import { TOPICS } from '../../src/contracts/types.js';
import { PgEnrollmentStore } from '../../src/db/enrollment.js';
import { migrate } from '../../src/db/migrate.js';
import { openPool } from '../../src/db/pool.js';
import { PgPatientDirectory } from '../../src/ingest/enrollment-cache.js';
import { type CommittedBatch, Ingester } from '../../src/ingest/ingester.js';
import { LocalFsLake } from '../../src/lake/local-fs.js';
import type { SimStream } from './ingest-stream.js';

const sleep = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));

export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
}

export async function enroll(stream: SimStream): Promise<void> {
  const pool = openPool();
  try {
    await migrate(pool);
    await new PgEnrollmentStore(pool).upsert(stream.enrollment);
  } finally {
    await pool.end();
  }
}

/** Produces the stream's chunks; with `ratePerSecond`, paced so that chunk i leaves at i*size/rate. */
export async function produce(
  brokers: string[],
  stream: SimStream,
  opts: { ratePerSecond?: number } = {},
): Promise<void> {
  const kafka = new Kafka({ clientId: 'ingest-bench', brokers, logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const t0 = performance.now();
  let sent = 0;
  try {
    for (const part of stream.chunks) {
      if (opts.ratePerSecond !== undefined) {
        const due = t0 + (sent / opts.ratePerSecond) * 1000;
        if (due > performance.now()) await sleep(due - performance.now());
      }
      const byTopic = new Map<string, Array<{ key: string; value: string }>>();
      for (const m of part) {
        let arr = byTopic.get(m.topic);
        if (arr === undefined) {
          arr = [];
          byTopic.set(m.topic, arr);
        }
        arr.push({ key: m.key, value: m.value });
      }
      await producer.sendBatch({
        acks: -1,
        compression: CompressionTypes.None,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
      sent += part.length;
    }
  } finally {
    await producer.disconnect();
  }
}

/** Records in the source topics (sum of high watermarks; the topics hold nothing else). */
export async function sourceRecords(brokers: string[]): Promise<number> {
  const admin = new Kafka({ clientId: 'ingest-bench', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  let n = 0;
  for (const t of TOPICS) for (const p of await admin.fetchTopicOffsets(t)) n += Number(p.high);
  await admin.disconnect();
  return n;
}

export interface RunResult {
  /** start() to the last commit (group join and partition take-over included). */
  totalSeconds: number;
  eventsPerSecondFromStart: number;
  /** start() to the first commit. */
  startupSeconds: number;
  /**
   * Records of the batches committed after the first one up to the last full-size one (closed at
   * batch_max_records, not by age), per second between those commits: the drain rate without
   * start-up and without the partially filled tail batches that wait for batch_max_seconds.
   */
  steadyEventsPerSecond: number;
  steadySeconds: number;
  records: number;
  valid: number;
  invalid: number;
  batches: number;
  /** Per valid row: commit time - Kafka record timestamp. */
  lagP50Seconds: number;
  lagP99Seconds: number;
  lagMaxSeconds: number;
}

/**
 * Runs one Ingester (fresh group, fresh local lake) until it has committed `expect` records; with
 * `during`, that runs (e.g. the producer of a live stream) after the ingester has started.
 */
export async function runIngester(o: {
  brokers: string[];
  params: IngestParams;
  lakeDir: string;
  expect: number;
  group: string;
  during?: () => Promise<void>;
  timeoutMs?: number;
  /** After each commit, with the records committed so far (profiling windows). */
  onProgress?: (records: number) => void;
}): Promise<RunResult> {
  rmSync(o.lakeDir, { recursive: true, force: true });
  mkdirSync(o.lakeDir, { recursive: true });
  const pool = openPool();
  const patients = new PgPatientDirectory(pool, {
    negativeTtlMs: o.params.enrollment_negative_ttl_seconds * 1000,
  });
  await patients.preload();
  const logger = pino({ level: 'warn' }, pino.destination({ dest: '/dev/null', sync: false }));
  const ingester = new Ingester({
    brokers: o.brokers,
    groupId: o.group,
    lake: new LocalFsLake(o.lakeDir),
    patients,
    params: o.params,
    logger,
  });
  let records = 0;
  let valid = 0;
  let invalid = 0;
  let batches = 0;
  let first = 0;
  let recordsAtFirst = 0;
  let last = 0;
  let lastFull = 0;
  let recordsAtLastFull = 0;
  const lags: number[] = [];
  let done: () => void = () => {};
  const finished = new Promise<void>((res) => {
    done = res;
  });
  ingester.on('committed', (b: CommittedBatch) => {
    const n = Number(b.lastOffset - b.firstOffset) + 1;
    records += n;
    valid += b.events.length;
    invalid += b.invalid;
    batches++;
    for (const e of b.events) lags.push((b.committedAt - e.kafkaTimestamp) / 1000);
    last = performance.now();
    if (first === 0) {
      first = last;
      recordsAtFirst = records;
    } else if (n >= o.params.batch_max_records) {
      lastFull = last;
      recordsAtLastFull = records;
    }
    o.onProgress?.(records);
    if (records >= o.expect) done();
  });
  const t0 = performance.now();
  try {
    await ingester.start();
    await Promise.all([
      o.during?.(),
      Promise.race([
        finished,
        new Promise<never>((_, reject) => {
          setTimeout(
            () =>
              reject(new Error(`ingester committed ${records} of ${o.expect} records before the timeout`)),
            o.timeoutMs ?? 600_000,
          ).unref();
        }),
      ]),
    ]);
  } finally {
    await ingester.stop();
    await pool.end();
  }
  const total = (last - t0) / 1000;
  return {
    totalSeconds: total,
    eventsPerSecondFromStart: records / total,
    startupSeconds: (first - t0) / 1000,
    steadyEventsPerSecond:
      lastFull > first ? (recordsAtLastFull - recordsAtFirst) / ((lastFull - first) / 1000) : Number.NaN,
    steadySeconds: (lastFull - first) / 1000,
    records,
    valid,
    invalid,
    batches,
    lagP50Seconds: percentile(lags, 50),
    lagP99Seconds: percentile(lags, 99),
    lagMaxSeconds: lags.reduce((a, b) => Math.max(a, b), 0),
  };
}
