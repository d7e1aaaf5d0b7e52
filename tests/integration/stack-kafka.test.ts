/**
 * The local stack's Kafka 4 broker over real connections with kafkajs 2.2.4: the configured topics
 * exist with their partition count, a record goes through a consumer group, and a transactional
 * produce with sendOffsets commits (what the exactly-once bronze writer needs), while an aborted
 * transaction stays invisible to read_committed consumers. Assumes `aepred stack up` (make test) ran.
 */
import type { Admin, Consumer, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStackConfig } from '../../src/stack/config.js';
import { existingPartitionCounts, stackKafka, stackTopicSpecs } from '../../src/stack/kafka-topics.js';

const config = loadStackConfig();
const run = `${process.pid}-${Date.now()}`;
const inTopic = `it-stack-kafka-in-${run}`;
const outTopic = `it-stack-kafka-out-${run}`;

let kafka: Kafka;
let admin: Admin;
const toClose: (Producer | Consumer)[] = [];

function track<T extends Producer | Consumer>(client: T): T {
  toClose.push(client);
  return client;
}

/** Consumes from the beginning of `topic` until `until` says enough, or throws after timeoutMs. */
async function consumeUntil(
  consumer: Consumer,
  topic: string,
  until: (seen: KafkaMessage[]) => boolean,
  timeoutMs = 30_000,
): Promise<KafkaMessage[]> {
  const seen: KafkaMessage[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no match on ${topic} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    void consumer
      .run({
        eachMessage: async ({ message }) => {
          seen.push(message);
          if (until(seen)) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  return seen;
}

async function committedOffsets(groupId: string, topic: string): Promise<Map<number, string>> {
  const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return new Map((t?.partitions ?? []).filter((p) => p.offset !== '-1').map((p) => [p.partition, p.offset]));
}

beforeAll(async () => {
  kafka = stackKafka(config, `it-stack-kafka-${run}`);
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic: inTopic, numPartitions: 3 },
      { topic: outTopic, numPartitions: 3 },
    ],
    waitForLeaders: true,
  });
});

afterAll(async () => {
  for (const c of toClose) await c.disconnect().catch(() => {});
  await admin.deleteTopics({ topics: [inTopic, outTopic] }).catch(() => {});
  await admin.disconnect();
});

describe('Kafka (KRaft) with kafkajs', () => {
  it('has every configured topic with the configured partition count', async () => {
    const wanted = stackTopicSpecs(config);
    const counts = await existingPartitionCounts(
      admin,
      wanted.map((w) => w.topic),
    );
    for (const w of wanted)
      expect([w.topic, counts.get(w.topic)]).toEqual([w.topic, config.kafka.default_partitions]);
  });

  it('produces a record and consumes it in a consumer group that commits its offset', async () => {
    const producer = track(kafka.producer());
    await producer.connect();
    const value = JSON.stringify({ patient_id: 'P-0001', run });
    const [meta] = await producer.send({ topic: inTopic, messages: [{ key: 'P-0001', value }] });
    expect(meta?.errorCode).toBe(0);

    const groupId = `it-group-${run}`;
    const consumer = track(kafka.consumer({ groupId }));
    const seen = await consumeUntil(consumer, inTopic, (s) => s.some((m) => m.value?.toString() === value));
    expect(seen.map((m) => m.key?.toString())).toContain('P-0001');

    // Auto-commit on disconnect: the group's offset is now past the record.
    const committed = await committedOffsets(groupId, inTopic);
    expect(committed.get(meta?.partition ?? -1)).toBe(String(Number(meta?.baseOffset ?? '0') + 1));
  });

  it('commits a transactional produce with sendOffsets, and hides an aborted one', async () => {
    const groupId = `it-tx-group-${run}`;
    const producer = track(
      kafka.producer({ transactionalId: `it-tx-${run}`, idempotent: true, maxInFlightRequests: 1 }),
    );
    await producer.connect();

    const aborted = await producer.transaction();
    await aborted.send({ topic: outTopic, messages: [{ key: 'P-0002', value: 'aborted' }] });
    await aborted.abort();

    const tx = await producer.transaction();
    await tx.send({ topic: outTopic, messages: [{ key: 'P-0002', value: 'committed' }] });
    await tx.sendOffsets({
      consumerGroupId: groupId,
      topics: [{ topic: inTopic, partitions: [{ partition: 0, offset: '42' }] }],
    });
    await tx.commit();

    // The transaction's markers reach __consumer_offsets asynchronously after EndTxn returns, and
    // OffsetFetch v4 (the newest kafkajs speaks) has no require_stable flag: poll briefly.
    const deadline = Date.now() + 15_000;
    let offsets = await committedOffsets(groupId, inTopic);
    while (offsets.get(0) !== '42' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      offsets = await committedOffsets(groupId, inTopic);
    }
    expect(offsets.get(0)).toBe('42');

    const reader = track(kafka.consumer({ groupId: `it-tx-reader-${run}`, readUncommitted: false }));
    const seen = await consumeUntil(reader, outTopic, (s) =>
      s.some((m) => m.value?.toString() === 'committed'),
    );
    expect(seen.map((m) => m.value?.toString())).toEqual(['committed']);
  });
});
