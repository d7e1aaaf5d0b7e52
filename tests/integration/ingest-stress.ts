/**
 * The PRD 7.4 stress test of the ingester, shared by tests/integration/ingest-stress.test.ts (10,000
 * messages) and bench/ingest.bench.ts (100,000): a faulty stream into Kafka while the real
 * `aepred ingest` process is SIGKILLed and restarted, a second consumer joins and leaves, and the
 * broker restarts; then bronze and the DLQs are compared with the ground truth.
 *
 * It runs against a Kafka of its own (a copy of ops/local/stack.yaml on other ports, its own data
 * dir) so the broker restart disturbs nobody else; Postgres (enrollment) is the shared stack's.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { parse, stringify } from 'yaml';
import { TOPICS, type TopicName } from '../../src/contracts/types.js';
import { PgEnrollmentStore } from '../../src/db/enrollment.js';
import { migrate } from '../../src/db/migrate.js';
import { openPool } from '../../src/db/pool.js';
import { decodeBronzeFile } from '../../src/ingest/bronze-file.js';
import { LocalFsLake } from '../../src/lake/local-fs.js';
import { REPO_ROOT } from '../../src/shared/paths.js';

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
  expectedValid: number;
  expectedInvalid: number;
  bronzeRows: number;
  bronzeDistinctEventIds: number;
  bronzeDistinctOffsets: number;
  missingValid: number;
  unexpectedBronze: number;
  dlqRecords: number;
  dlqDistinctSources: number;
  missingInvalid: number;
  unexpectedDlq: number;
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

const FAULTS = [
  'malformed_json',
  'schema_violation',
  'future_timestamp',
  'diastolic_above_systolic',
  'unknown_patient',
  'out_of_range',
] as const;
type Fault = (typeof FAULTS)[number];

interface Generated {
  topic: TopicName;
  key: string;
  value: string;
  eventId: string;
  fault: Fault | undefined;
}

function uuid(r: () => number): string {
  const h = Array.from({ length: 32 }, () => Math.floor(r() * 16).toString(16)).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** A trial-like stream with ~8 % injected faults and a ground-truth manifest. */
export function generate(n: number, seed: number, runId: string, patients: readonly string[]): Generated[] {
  const r = rng(seed);
  const out: Generated[] = [];
  const t0 = Date.parse('2026-03-01T00:00:00Z');
  for (let i = 0; i < n; i++) {
    const u = r();
    const topic: TopicName =
      u < 0.7 ? 'patient-vitals' : u < 0.85 ? 'lab-results' : u < 0.95 ? 'medications' : 'adverse-events';
    const patient = patients[Math.floor(r() * patients.length)] as string;
    const ts = new Date(t0 + Math.floor(r() * 5 * 86_400_000)).toISOString();
    const eventId = uuid(r);
    const env = {
      event_id: eventId,
      correlation_id: `${runId}:${i}`,
      schema_version: '1.0',
      patient_id: patient,
      site_id: 'S01',
      trial_id: 'T1',
    };
    let msg: Record<string, unknown>;
    switch (topic) {
      case 'patient-vitals':
        msg = {
          ...env,
          source: 'sim:bedside-monitor',
          timestamp: ts,
          heart_rate: 60 + r() * 40,
          blood_pressure_systolic: 110 + r() * 20,
          blood_pressure_diastolic: 70 + r() * 10,
          temperature: 36.5 + r(),
          spo2: 95 + r() * 4,
        };
        break;
      case 'lab-results':
        msg = {
          ...env,
          source: 'sim:lab',
          timestamp: ts,
          test_name: 'ALT',
          value: 20 + r() * 30,
          unit: 'U/L',
          reference_range: { low: 7, high: r() < 0.5 ? 56 : null },
          lab_id: 'LAB1',
        };
        break;
      case 'medications':
        msg = {
          ...env,
          source: 'sim:pharmacy',
          timestamp: ts,
          drug_name: 'simvastatin',
          dosage: 20,
          unit: 'mg',
          route: 'ORAL',
          frequency: 'QD',
          action: 'dose',
        };
        break;
      case 'adverse-events':
        msg = {
          ...env,
          source: 'sim:site',
          event_timestamp: ts,
          report_timestamp: new Date(Date.parse(ts) + 3_600_000).toISOString(),
          event_type: 'hepatotoxicity',
          severity: 'moderate',
          ctcae_grade: 2,
          reported_by: 'site:S01:investigator',
        };
        break;
    }
    let fault: Fault | undefined;
    if (r() < 0.08) fault = FAULTS[Math.floor(r() * FAULTS.length)];
    let value: string;
    switch (fault) {
      case 'malformed_json':
        value = `${JSON.stringify(msg).slice(0, -5)},,`;
        break;
      case 'schema_violation':
        value = JSON.stringify({ ...msg, surprise: 1 });
        break;
      case 'future_timestamp':
        value = JSON.stringify(
          topic === 'adverse-events'
            ? { ...msg, event_timestamp: '2099-01-01T00:00:00Z', report_timestamp: '2099-01-01T01:00:00Z' }
            : { ...msg, timestamp: '2099-01-01T00:00:00Z' },
        );
        break;
      case 'diastolic_above_systolic':
        value = JSON.stringify(
          topic === 'patient-vitals'
            ? { ...msg, blood_pressure_diastolic: 200, blood_pressure_systolic: 100 }
            : { ...msg, extra_field: true },
        );
        break;
      case 'unknown_patient':
        value = JSON.stringify({ ...msg, patient_id: `${runId}-NOBODY-${i}` });
        break;
      case 'out_of_range':
        value = JSON.stringify(
          topic === 'patient-vitals' ? { ...msg, heart_rate: 999 } : { ...msg, schema_version: '9.9' },
        );
        break;
      default:
        value = JSON.stringify(msg);
    }
    out.push({
      topic,
      key: fault === 'unknown_patient' ? `${runId}-NOBODY-${i}` : patient,
      value,
      eventId,
      fault,
    });
  }
  return out;
}

const sha = (b: Uint8Array | string): string => createHash('sha1').update(b).digest('hex');

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
  mkdirSync(work, { recursive: true });
  const lakeDir = join(work, 'lake');
  // Own Kafka: a copy of the stack config on other ports, its own data dir.
  const base = parse(readFileSync(resolve(REPO_ROOT, 'ops/local/stack.yaml'), 'utf8')) as {
    services: { kafka: { port: number; controller_port: number } };
  };
  base.services.kafka.port = port;
  base.services.kafka.controller_port = port + 1;
  const stackFile = join(work, 'stack.yaml');
  writeFileSync(stackFile, stringify(base));
  const params = parse(readFileSync(resolve(REPO_ROOT, 'params.yaml'), 'utf8')) as {
    ingest: Record<string, number>;
  };
  params.ingest.batch_max_records = o.batchMaxRecords ?? params.ingest.batch_max_records ?? 1000;
  params.ingest.batch_max_seconds = o.batchMaxSeconds ?? 2;
  params.ingest.session_timeout_ms = 10_000;
  const paramsFile = join(work, 'params.yaml');
  writeFileSync(paramsFile, stringify(params));
  const env = {
    ...process.env,
    AEPRED_STACK_CONFIG: stackFile,
    AEPRED_LOCAL_DIR: join(work, 'local'),
    AEPRED_PARAMS: paramsFile,
    KAFKAJS_NO_PARTITIONER_WARNING: '1',
  };
  const cli = (args: string[]): void => {
    const res = spawnSync(process.execPath, ['--import', 'tsx', 'tests/integration/aepred-cli.ts', ...args], {
      cwd: REPO_ROOT,
      env,
      encoding: 'utf8',
      timeout: 240_000,
    });
    if (res.status !== 0) throw new Error(`aepred ${args.join(' ')} failed: ${res.stderr}${res.stdout}`);
  };
  // A fresh broker for every run: stop ours if a previous run left it, wipe its data, start it
  // (stack up creates the topics of stack.yaml).
  try {
    cli(['stack', 'down', 'kafka']);
  } catch {
    // not running
  }
  rmSync(join(work, 'local'), { recursive: true, force: true });
  rmSync(lakeDir, { recursive: true, force: true });
  cli(['stack', 'up', 'kafka']);
  const brokers = [`127.0.0.1:${port}`];
  const kafka = new Kafka({
    clientId: 'stress',
    brokers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 15 },
  });
  const admin = kafka.admin();
  await admin.connect();

  // Enrolled patients in the shared Postgres, prefixed by the run.
  const pool = openPool();
  await migrate(pool);
  const patients = Array.from({ length: 200 }, (_, i) => `${runId}-P${String(i).padStart(4, '0')}`);
  await new PgEnrollmentStore(pool).upsert(
    patients.map((patient_id) => ({
      patient_id,
      trial_id: 'T1',
      site_id: 'S01',
      arm: 'A',
      enrollment_date: '2026-02-01',
      age: 60,
      sex: 'F' as const,
      height_cm: 170,
      weight_kg: 70,
      comorbidities: [],
      source: 'ingest-stress',
    })),
  );
  await pool.end();

  const stream = generate(o.messages, o.seed, runId, patients);
  const expectedValid = new Set(stream.filter((g) => g.fault === undefined).map((g) => g.eventId));
  const expectedInvalid = new Map(
    stream.filter((g) => g.fault !== undefined).map((g) => [sha(g.value), g.fault]),
  );

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
    const chunk = 2000;
    for (let i = 0; i < stream.length; i += chunk) {
      const part = stream.slice(i, i + chunk);
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

  // Drain: wait until the group's committed offsets reach the end of every partition.
  const ends = new Map<string, string>();
  for (const t of TOPICS)
    for (const p of await admin.fetchTopicOffsets(t)) ends.set(`${t}/${p.partition}`, p.high);
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    let done = true;
    for (const t of TOPICS) {
      const [res] = await admin.fetchOffsets({ groupId: `stress-${runId}`, topics: [t] });
      for (const p of res?.partitions ?? [])
        if (BigInt(p.offset) < BigInt(ends.get(`${t}/${p.partition}`) ?? '0')) done = false;
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
  let missingValid = 0;
  for (const id of expectedValid) if (!ids.has(id)) missingValid++;
  let unexpectedBronze = 0;
  for (const id of ids.keys()) if (!expectedValid.has(id)) unexpectedBronze++;

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
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      const d = JSON.parse(message.value?.toString('utf8') ?? '{}') as {
        original_base64: string;
        reason: string;
        source_topic: string;
        source_partition: number;
        source_offset: string;
      };
      const h = sha(Buffer.from(d.original_base64, 'base64'));
      dlqHashes.set(h, (dlqHashes.get(h) ?? 0) + 1);
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
    if (dlqRecords === before && (dlqRecords >= expectedInvalid.size || Date.now() > dlqDeadline)) break;
  }
  await consumer.disconnect();
  await admin.disconnect();
  let missingInvalid = 0;
  for (const h of expectedInvalid.keys()) if (!dlqHashes.has(h)) missingInvalid++;
  let unexpectedDlq = 0;
  for (const h of dlqHashes.keys()) if (!expectedInvalid.has(h)) unexpectedDlq++;
  const seconds = (drainedAt - t0) / 1000;
  void producedAt;
  void dlqEnds;
  return {
    produced: stream.length,
    expectedValid: expectedValid.size,
    expectedInvalid: expectedInvalid.size,
    bronzeRows: rows,
    bronzeDistinctEventIds: ids.size,
    bronzeDistinctOffsets: offsets.size,
    missingValid,
    unexpectedBronze,
    dlqRecords,
    dlqDistinctSources: sources.size,
    missingInvalid,
    unexpectedDlq,
    dlqReasons: reasons,
    kills,
    rebalances,
    brokerRestarts,
    seconds,
    drainSeconds: (drainedAt - producedAt) / 1000,
    eventsPerSecond: stream.length / seconds,
    lagP99Seconds: percentile(lags, 99),
    files: keys.length,
  };
}
