/**
 * The PRD 7.4 stress test of the ingester, shared by tests/integration/ingest-stress.test.ts (10,000
 * messages) and bench/ingest.bench.ts (100,000): the simulator's `faults` scenario into Kafka while
 * the real `aepred ingest` process is SIGKILLed and restarted, a second consumer joins and leaves,
 * and the broker restarts; then bronze and the DLQs are compared with the simulator's manifest.
 *
 * It runs against a Kafka of its own (a copy of ops/local/stack.yaml on other ports, its own data
 * dir) so the broker restart disturbs nobody else; Postgres (enrollment) is the shared stack's.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { TOPICS, type TopicName } from '../../src/contracts/types.js';
import { decodeBronzeFile } from '../../src/ingest/bronze-file.js';
import { LocalFsLake } from '../../src/lake/local-fs.js';
import { REPO_ROOT } from '../../src/shared/paths.js';
import { startOwnKafka } from './ingest-own-kafka.js';
import { sha1, simulateStream } from './ingest-stream.js';
import { enroll } from './ingest-throughput.js';

export interface StressOptions {
  messages: number;
  seed: number;
  /** SIGKILLs of the ingester at random moments (>= 3). */
  kills: number;
  workDir: string;
  kafkaPort?: number;
  batchMaxRecords?: number;
  batchMaxSeconds?: number;
  /** Skip the chaos (throughput runs). */
  chaos?: boolean;
  log?: (line: string) => void;
}

export interface StressResult {
  produced: number;
  /** Valid rows bronze must hold (a `duplicate` fault adds a second row with the same event_id). */
  expectedValid: number;
  expectedDistinctValid: number;
  /** DLQ records the manifest implies (contract faults, unknown patients, re-sent copies of those). */
  expectedInvalid: number;
  manifestFaults: number;
  bronzeRows: number;
  bronzeDistinctEventIds: number;
  bronzeDistinctOffsets: number;
  missingValid: number;
  duplicatedValid: number;
  unexpectedBronze: number;
  dlqRecords: number;
  dlqDistinctSources: number;
  missingInvalid: number;
  duplicatedDlq: number;
  unexpectedDlq: number;
  /** DLQ records whose errors lack the manifest's expected_reason. */
  wrongReason: number;
  dlqReasons: Record<string, number>;
  kills: number;
  rebalances: number;
  brokerRestarts: number;
  seconds: number;
  drainSeconds: number;
  eventsPerSecond: number;
  lagP99Seconds: number;
  files: number;
}

/** mulberry32: a small seeded PRNG, so a run's faults and chaos schedule are reproducible. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
}

const sleep = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));

export async function runStress(o: StressOptions): Promise<StressResult> {
  const log = o.log ?? (() => {});
  const runId = `it${Date.now().toString(36)}`;
  const port = o.kafkaPort ?? 59192;
  const work = resolve(o.workDir);
  const lakeDir = join(work, 'lake');
  rmSync(lakeDir, { recursive: true, force: true });
  // A fresh broker of our own for every run (the broker restart must disturb nobody).
  const { brokers, env, cli } = startOwnKafka({
    work,
    port,
    ingest: {
      batch_max_records: o.batchMaxRecords ?? 1000,
      batch_max_seconds: o.batchMaxSeconds ?? 2,
      session_timeout_ms: 10_000,
    },
  });
  const kafka = new Kafka({
    clientId: 'stress',
    brokers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 15 },
  });
  const admin = kafka.admin();
  await admin.connect();

  // The simulator's faults scenario; its patients enrolled in the shared Postgres (an idempotent
  // upsert: the simulator's ids are deterministic), its unknown patients never.
  const sim = await simulateStream({ messages: o.messages, seed: o.seed });
  await enroll(sim);
  const stream = sim.chunks;

  // Ingester processes (the real CLI).
  const procs = new Set<ChildProcess>();
  const startIngester = (name: string): ChildProcess => {
    const c = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'tests/integration/aepred-cli.ts',
        'ingest',
        '--brokers',
        brokers.join(','),
        '--group',
        `stress-${runId}`,
        '--lake',
        lakeDir,
        '--log-level',
        'error',
      ],
      {
        cwd: REPO_ROOT,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const out = (d: Buffer): void => log(`[${name}] ${d.toString().trim().slice(0, 400)}`);
    c.stdout?.on('data', out);
    c.stderr?.on('data', out);
    c.on('exit', (code, sig) => log(`[${name}] exited code=${String(code)} signal=${String(sig)}`));
    procs.add(c);
    c.on('exit', () => procs.delete(c));
    return c;
  };
  const killed = (c: ChildProcess, sig: NodeJS.Signals): Promise<void> =>
    new Promise((res) => {
      if (c.exitCode !== null || c.signalCode !== null) return res();
      c.once('exit', () => res());
      c.kill(sig);
    });

  let t0 = performance.now();
  let a: ChildProcess | undefined = o.chaos === false ? undefined : startIngester('A');
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const produceTimes: number[] = [];
  const producing = (async () => {
    for (const part of stream) {
      const byTopic = new Map<TopicName, Array<{ key: string; value: string }>>();
      for (const g of part) {
        let arr = byTopic.get(g.topic);
        if (arr === undefined) {
          arr = [];
          byTopic.set(g.topic, arr);
        }
        arr.push({ key: g.key, value: g.value });
      }
      for (;;) {
        try {
          await producer.sendBatch({
            acks: -1,
            compression: CompressionTypes.None,
            topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
          });
          break;
        } catch {
          await sleep(500); // broker restarting; the idempotent producer keeps order and no duplicates
        }
      }
      produceTimes.push(performance.now());
      if (o.chaos !== false) await sleep(20);
    }
  })();

  // Throughput mode: the whole backlog is in Kafka before the ingester starts (sustained rate).
  if (a === undefined) {
    await producing;
    t0 = performance.now();
    a = startIngester('A');
  }
  let kills = 0;
  let rebalances = 0;
  let brokerRestarts = 0;
  if (o.chaos !== false) {
    const r = rng(o.seed + 1);
    const step = async (): Promise<void> => sleep(1500 + r() * 2500);
    for (let k = 0; k < o.kills; k++) {
      await step();
      if (a !== undefined) await killed(a, 'SIGKILL');
      kills++;
      log(`SIGKILL #${kills}`);
      a = startIngester(`A${k + 1}`);
      if (k === 0) {
        await step();
        const b = startIngester('B');
        log('second consumer joined');
        await sleep(6000);
        await killed(b, 'SIGTERM');
        rebalances++;
        log('second consumer left');
      }
      if (k === 1) {
        cli(['stack', 'down', 'kafka']);
        log('broker stopped');
        await sleep(2000);
        cli(['stack', 'up', 'kafka']);
        brokerRestarts++;
        log('broker restarted');
      }
    }
  }
  await producing;
  await producer.disconnect();
  const producedAt = performance.now();

  // Drain: wait until the group's committed offsets reach the end of every partition. An empty
  // partition (the simulator sends few adverse events) never gets a commit: its offset stays -1.
  const ends = new Map<string, { low: bigint; high: bigint }>();
  for (const t of TOPICS)
    for (const p of await admin.fetchTopicOffsets(t))
      ends.set(`${t}/${p.partition}`, { low: BigInt(p.low), high: BigInt(p.high) });
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    let done = true;
    for (const t of TOPICS) {
      const [res] = await admin.fetchOffsets({ groupId: `stress-${runId}`, topics: [t] });
      for (const p of res?.partitions ?? []) {
        const end = ends.get(`${t}/${p.partition}`) ?? { low: 0n, high: 0n };
        if ((p.offset === '-1' ? end.low : BigInt(p.offset)) < end.high) done = false;
      }
    }
    if (done) break;
    if (Date.now() > deadline) throw new Error('ingester did not drain within 10 minutes');
    if (procs.size === 0) a = startIngester('A-final');
    await sleep(250);
  }
  const drainedAt = performance.now();
  for (const c of [...procs]) await killed(c, 'SIGTERM');

  // Bronze: every valid event exactly once, by event_id and by (topic, partition, offset).
  const lake = new LocalFsLake(lakeDir);
  const keys = (await lake.list('bronze/')).filter((k) => k.endsWith('.parquet'));
  const ids = new Map<string, number>();
  const offsets = new Set<string>();
  const lags: number[] = [];
  let rows = 0;
  for (const k of keys) {
    const t = decodeBronzeFile((await lake.get(k)) as Uint8Array);
    const ev = t.getChild('event_id');
    const tp = t.getChild('_kafka_topic');
    const pa = t.getChild('_kafka_partition');
    const of = t.getChild('_kafka_offset');
    const kt = t.getChild('_kafka_timestamp');
    const ia = t.getChild('_ingested_at');
    for (let i = 0; i < t.numRows; i++) {
      const id = String(ev?.get(i));
      ids.set(id, (ids.get(id) ?? 0) + 1);
      offsets.add(`${String(tp?.get(i))}/${String(pa?.get(i))}/${String(of?.get(i))}`);
      lags.push((Number(ia?.get(i)) - Number(kt?.get(i))) / 1000);
      rows++;
    }
  }
  // A `duplicate` fault is a second valid copy (new offset, same event_id): silver dedupes it.
  let missingValid = 0;
  let duplicatedValid = 0;
  for (const [id, n] of sim.expectedValid) {
    const got = ids.get(id) ?? 0;
    if (got < n) missingValid += n - got;
    if (got > n) duplicatedValid += got - n;
  }
  let unexpectedBronze = 0;
  for (const id of ids.keys()) if (!sim.expectedValid.has(id)) unexpectedBronze++;

  // DLQs, read_committed: exactly the injected faults.
  const consumer = kafka.consumer({ groupId: `stress-verify-${randomUUID()}`, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topics: TOPICS.map((t) => `${t}.dlq`), fromBeginning: true });
  const dlqEnds = new Map<string, bigint>();
  for (const t of TOPICS)
    for (const p of await admin.fetchTopicOffsets(`${t}.dlq`))
      dlqEnds.set(`${t}.dlq/${p.partition}`, BigInt(p.high));
  const seen = new Map<string, bigint>();
  const dlqHashes = new Map<string, number>();
  const sources = new Set<string>();
  const reasons: Record<string, number> = {};
  let dlqRecords = 0;
  let wrongReason = 0;
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      const d = JSON.parse(message.value?.toString('utf8') ?? '{}') as {
        original_base64: string;
        reason: string;
        errors: Array<{ code: string }>;
        source_topic: string;
        source_partition: number;
        source_offset: string;
      };
      const h = sha1(Buffer.from(d.original_base64, 'base64'));
      dlqHashes.set(h, (dlqHashes.get(h) ?? 0) + 1);
      const want = sim.expectedInvalid.get(h);
      if (want !== undefined && !d.errors.some((e) => e.code === want.reason)) wrongReason++;
      sources.add(`${d.source_topic}/${d.source_partition}/${d.source_offset}`);
      reasons[d.reason] = (reasons[d.reason] ?? 0) + 1;
      dlqRecords++;
      seen.set(`${topic}/${partition}`, BigInt(message.offset) + 1n);
    },
  });
  const dlqDeadline = Date.now() + 60_000;
  for (;;) {
    // Transaction markers take offsets too: done when nothing new arrived for a while and counts match.
    const before = dlqRecords;
    await sleep(1500);
    if (dlqRecords === before && (dlqRecords >= sim.expectedInvalidRecords || Date.now() > dlqDeadline))
      break;
  }
  await consumer.disconnect();
  await admin.disconnect();
  let missingInvalid = 0;
  let duplicatedDlq = 0;
  for (const [h, want] of sim.expectedInvalid) {
    const got = dlqHashes.get(h) ?? 0;
    if (got < want.count) missingInvalid += want.count - got;
    if (got > want.count) duplicatedDlq += got - want.count;
  }
  let unexpectedDlq = 0;
  for (const h of dlqHashes.keys()) if (!sim.expectedInvalid.has(h)) unexpectedDlq++;
  const seconds = (drainedAt - t0) / 1000;
  void producedAt;
  void dlqEnds;
  // The broker is ours: stop it so the run leaves no process behind.
  cli(['stack', 'down', 'kafka']);

  return {
    produced: sim.total,
    expectedValid: sim.expectedValidRows,
    expectedDistinctValid: sim.expectedValid.size,
    expectedInvalid: sim.expectedInvalidRecords,
    manifestFaults: sim.manifest.faults.length,
    bronzeRows: rows,
    bronzeDistinctEventIds: ids.size,
    bronzeDistinctOffsets: offsets.size,
    missingValid,
    duplicatedValid,
    unexpectedBronze,
    dlqRecords,
    dlqDistinctSources: sources.size,
    missingInvalid,
    duplicatedDlq,
    unexpectedDlq,
    wrongReason,
    dlqReasons: reasons,
    kills,
    rebalances,
    brokerRestarts,
    seconds,
    drainSeconds: (drainedAt - producedAt) / 1000,
    eventsPerSecond: sim.total / seconds,
    lagP99Seconds: percentile(lags, 99),
    files: keys.length,
  };
}
