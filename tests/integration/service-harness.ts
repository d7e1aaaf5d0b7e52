/**
 * Shared by the service-* integration tests: a tiny real ONNX model, a simulated trial in memory,
 * unique topics on the stack's Kafka (tests share the broker), and a Service wired to them.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import pino from 'pino';
import { type PatientId, patientId } from '../../src/actors/patient/protocol.js';
import { loadParams } from '../../src/config/params.js';
import { type EnrollmentRecord, TOPICS, type TopicName } from '../../src/contracts/types.js';
import type { PatientContext } from '../../src/features/engine.js';
import { StaticPatientDirectory } from '../../src/ingest/enrollment-cache.js';
import { MemorySink } from '../../src/producers/memory-sink.js';
import { Service } from '../../src/service/service.js';
import { REPO_ROOT } from '../../src/shared/paths.js';
import { simulate } from '../../src/sim/run.js';
import { SimulatedClock as SimTime } from '../../src/sim/time.js';
import { loadStackConfig } from '../../src/stack/config.js';
import { stackBrokers } from '../../src/stack/kafka-topics.js';
import { SystemClock } from '../../src/supervisors/clock.js';
import { fixtureModelsDir } from './fixture-models.js';

export const params = loadParams();
export const stack = loadStackConfig();
export const brokers = stackBrokers(stack);
export const redisUrl = `redis://${stack.host}:${stack.services.redis.port}`;
export const log = pino({ level: process.env.AEPRED_TEST_LOG ?? 'silent' });

/** The tiny serving model of tests/fixtures/models (seeded weights), built once per feature definition. */
export function tinyModel(seed = 1): string {
  const dir = fixtureModelsDir('aepred-test-models');
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `tiny-v${seed}.onnx`);
  if (!existsSync(out)) {
    execFileSync(
      resolve(REPO_ROOT, '.venv/bin/python'),
      ['tests/fixtures/models/tiny_model.py', out, String(seed), String(seed)],
      { cwd: REPO_ROOT, env: { ...process.env, PYTHONPATH: REPO_ROOT } },
    );
  }
  return out;
}

export interface Trial {
  messages: Array<{ topic: TopicName; key: string; value: string }>;
  enrollment: EnrollmentRecord[];
  endMs: number;
}

export async function simulateTrial(
  patients: number,
  days: number,
  seed: number,
  start = '2024-01-01',
): Promise<Trial> {
  const sink = new MemorySink({ keepKeys: true });
  const startMs = Date.parse(`${start}T00:00:00Z`);
  await simulate(
    { patients, days, seed, startMs, scenario: 'baseline', rate: { kind: 'max' } },
    { params: params.simulator, sink, clock: new SimTime() },
  );
  const messages: Trial['messages'] = [];
  for (const topic of TOPICS) {
    const keys = sink.keys[topic];
    for (const [i, value] of sink.messages[topic].entries()) messages.push({ topic, key: keys[i]!, value });
  }
  return { messages, enrollment: sink.enrollment, endMs: startMs + days * 86_400_000 };
}

export const kafka = new Kafka({ clientId: 'aepred-service-test', brokers, logLevel: logLevel.NOTHING });

/** Unique topic names (prefix) with `partitions` partitions each, risk-alerts included. */
export async function createTopics(prefix: string, partitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [...TOPICS, 'risk-alerts'].map((t) => ({ topic: `${prefix}${t}`, numPartitions: partitions })),
  });
  await admin.disconnect();
}

export async function deleteTopics(prefix: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin
    .deleteTopics({ topics: [...TOPICS, 'risk-alerts'].map((t) => `${prefix}${t}`) })
    .catch(() => undefined);
  await admin.disconnect();
}

export async function produce(prefix: string, messages: Trial['messages']): Promise<void> {
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  for (let i = 0; i < messages.length; i += 500) {
    const by = new Map<string, Array<{ key: string; value: string }>>();
    for (const m of messages.slice(i, i + 500)) {
      const list = by.get(m.topic) ?? [];
      list.push({ key: m.key, value: m.value });
      by.set(m.topic, list);
    }
    await producer.sendBatch({
      acks: -1,
      topicMessages: [...by].map(([t, msgs]) => ({ topic: `${prefix}${t}`, messages: msgs })),
    });
  }
  await producer.disconnect();
}

/** End offsets of the four topics: a replica is caught up when its positions reach them. */
export async function endOffsets(prefix: string): Promise<Map<string, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  const out = new Map<string, bigint>();
  for (const t of TOPICS) {
    for (const p of await admin.fetchTopicOffsets(`${prefix}${t}`))
      out.set(`${prefix}${t}:${p.partition}`, BigInt(p.high));
  }
  await admin.disconnect();
  return out;
}

export function contextsOf(
  enrollment: readonly EnrollmentRecord[],
): (p: PatientId) => PatientContext | undefined {
  const m = new Map(enrollment.map((e) => [e.patient_id, e as PatientContext]));
  return (p) => m.get(p);
}

export interface ServiceSetup {
  prefix: string;
  group: string;
  redisPrefix: string;
  partitions: number;
  enrollment: readonly EnrollmentRecord[];
  model: string;
  checkpointMs?: number;
  maxBytesPerPartition?: number;
}

export function makeService(s: ServiceSetup): Service {
  return new Service({
    params,
    clock: new SystemClock(),
    logger: log,
    contexts: contextsOf(s.enrollment),
    patients: new StaticPatientDirectory(s.enrollment.map((e) => e.patient_id)),
    kafka: {
      brokers,
      groupId: s.group,
      topicPrefix: s.prefix,
      partitions: s.partitions,
      ...(s.maxBytesPerPartition === undefined ? {} : { maxBytesPerPartition: s.maxBytesPerPartition }),
    },
    redis: { url: redisUrl, prefix: s.redisPrefix },
    models: { local: { production: s.model } },
    checkpointMs: s.checkpointMs ?? 200,
  });
}

/** Waits until the replicas together have delivered every partition up to its end offset. */
export async function caughtUp(
  services: readonly Service[],
  ends: Map<string, bigint>,
  group?: string,
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const admin = kafka.admin();
  await admin.connect();
  try {
    await waitCaughtUp(services, ends, group, deadline, admin);
  } finally {
    await admin.disconnect();
  }
}

async function waitCaughtUp(
  services: readonly Service[],
  ends: Map<string, bigint>,
  group: string | undefined,
  deadline: number,
  admin: ReturnType<Kafka['admin']>,
): Promise<void> {
  const topics = [...new Set([...ends.keys()].map((k) => k.slice(0, k.lastIndexOf(':'))))];
  for (;;) {
    const at = new Map<string, bigint>();
    // Partitions with nothing new since the group's committed offset deliver no batch: count those.
    if (group !== undefined) {
      for (const t of await admin.fetchOffsets({ groupId: group, topics }))
        for (const p of t.partitions)
          if (p.offset !== '-1') at.set(`${t.topic}:${p.partition}`, BigInt(p.offset));
    }
    for (const s of services)
      for (const p of s.positions()) {
        const k = `${p.topic}:${p.partition}`;
        if ((at.get(k) ?? -1n) < p.next) at.set(k, p.next);
      }
    const behind = [...ends].filter(([k, end]) => end > 0n && (at.get(k) ?? 0n) < end);
    if (behind.length === 0) return;
    if (Date.now() > deadline) throw new Error(`not caught up: ${behind.map(([k]) => k).join(', ')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export const patientIds = (e: readonly EnrollmentRecord[]): PatientId[] =>
  e.map((r) => patientId(r.patient_id));
