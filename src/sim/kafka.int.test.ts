/**
 * The simulator into the local stack's real Kafka and Postgres (assumes `aepred stack up`): a few
 * patients go to run-private topics through the idempotent KafkaSink, come back through a consumer
 * with patient_id keys and valid contracts; `db migrate` is idempotent and the enrollment rows land.
 */
import { Kafka, logLevel } from 'kafkajs';
import type pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { loadParams } from '../config/params.js';
import { TOPICS, type TopicName } from '../contracts/types.js';
import { Contracts } from '../contracts/validator.js';
import { PgEnrollmentStore } from '../db/enrollment.js';
import { migrate } from '../db/migrate.js';
import { openPool } from '../db/pool.js';
import { KafkaSink } from '../producers/kafka-sink.js';
import { loadStackConfig } from '../stack/config.js';
import { simulate } from './run.js';
import { SimulatedClock } from './time.js';

const cfg = loadStackConfig();
const brokers = [`${cfg.host}:${cfg.services.kafka.port}`];
const run = `${process.pid}-${Date.now()}`;
const prefix = `it-sim-${run}.`;
const kafka = new Kafka({ clientId: `it-sim-${run}`, brokers, logLevel: logLevel.NOTHING });
let pool: pg.Pool | undefined;

afterAll(async () => {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: TOPICS.map((t) => prefix + t) }).catch(() => undefined);
  await admin.disconnect();
  if (pool !== undefined) {
    await pool
      .query('DELETE FROM enrollment WHERE trial_id = $1', [`IT${process.pid}`])
      .catch(() => undefined);
    await pool.end();
  }
});

describe('simulate --to kafka (integration)', () => {
  it('migrates, produces keyed valid messages and enrollment rows', async () => {
    pool = openPool();
    const first = await migrate(pool);
    const again = await migrate(pool);
    expect(again.applied).toEqual([]);
    expect(again.alreadyApplied).toBeGreaterThanOrEqual(first.applied.length);

    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: TOPICS.map((t) => ({ topic: prefix + t, numPartitions: 3 })),
      waitForLeaders: true,
    });
    await admin.disconnect();

    const params = { ...loadParams().simulator, trial_id: `IT${process.pid}` };
    const store = new PgEnrollmentStore(pool);
    const sink = await KafkaSink.connect({ brokers, enrollment: store, topicPrefix: prefix, batchSize: 500 });
    const manifest = await simulate(
      {
        patients: 4,
        days: 1,
        seed: 3,
        startMs: Date.parse('2024-01-01T00:00:00Z'),
        scenario: 'baseline',
        rate: { kind: 'max' },
      },
      { params, sink, clock: new SimulatedClock() },
    );
    await sink.close();
    const expected = TOPICS.reduce((n, t) => n + manifest.counts[t], 0);
    expect(expected).toBeGreaterThan(100);

    const consumer = kafka.consumer({ groupId: `it-sim-${run}` });
    await consumer.connect();
    for (const t of TOPICS) await consumer.subscribe({ topic: prefix + t, fromBeginning: true });
    const contracts = new Contracts();
    const seen: { topic: TopicName; key: string; ok: boolean; patient: string }[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`saw ${seen.length} of ${expected}`)), 60_000);
      void consumer.run({
        eachMessage: async ({ topic, message }) => {
          const t = topic.slice(prefix.length) as TopicName;
          const value = message.value?.toString('utf8') ?? '';
          const r = contracts.checkRaw(t, value, Date.parse('2024-01-02T00:00:00Z'));
          seen.push({
            topic: t,
            key: message.key?.toString('utf8') ?? '',
            ok: r.ok,
            patient: r.ok ? r.value.patient_id : '',
          });
          if (seen.length >= expected) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    await consumer.disconnect();
    expect(seen.length).toBe(expected);
    expect(seen.every((s) => s.ok)).toBe(true);
    expect(seen.every((s) => s.key === s.patient)).toBe(true);

    const { rows } = await pool.query<{ n: string }>(
      'SELECT count(*) AS n FROM enrollment WHERE trial_id = $1',
      [params.trial_id],
    );
    expect(Number(rows[0]?.n)).toBe(4);
    const one = await store.get(`${params.trial_id}-S01-0001`).catch(() => undefined);
    if (one !== undefined) expect(one.trial_id).toBe(params.trial_id);
  }, 120_000);
});
