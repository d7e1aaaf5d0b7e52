/**
 * Kafka clients and topics for the local stack: the topics named in stack.yaml are created once the
 * broker is healthy, idempotently, with the configured partition count.
 */
import { type Admin, Kafka, type KafkaConfig, logLevel } from 'kafkajs';
import type { StackConfig } from './config.js';

export interface TopicSpec {
  readonly topic: string;
  readonly numPartitions: number;
  readonly replicationFactor: number;
}

export interface TopicPlan {
  /** Topics that do not exist yet. */
  readonly create: readonly TopicSpec[];
  /** Existing topics with fewer partitions than configured: grown to the configured count. */
  readonly grow: readonly { readonly topic: string; readonly from: number; readonly to: number }[];
  /** Existing topics with more partitions than configured: Kafka cannot shrink them; reported only. */
  readonly larger: readonly { readonly topic: string; readonly actual: number; readonly wanted: number }[];
}

export function stackBrokers(config: StackConfig): string[] {
  return [`${config.host}:${config.services.kafka.port}`];
}

/**
 * A kafkajs client for the local broker. Silent by default: kafkajs logs every retried request at
 * ERROR (for example "group coordinator is not available" while __consumer_offsets is created),
 * which is noise in probes and tests; pass `logLevel` to see it.
 */
export function stackKafka(config: StackConfig, clientId: string, extra: Partial<KafkaConfig> = {}): Kafka {
  return new Kafka({ clientId, brokers: stackBrokers(config), logLevel: logLevel.NOTHING, ...extra });
}

export function stackTopicSpecs(config: StackConfig): TopicSpec[] {
  return config.kafka.topics.map((topic) => ({
    topic,
    numPartitions: config.kafka.default_partitions,
    replicationFactor: config.kafka.replication_factor,
  }));
}

/** Pure: what has to change so that every wanted topic exists with its partition count. */
export function planTopics(wanted: readonly TopicSpec[], existing: ReadonlyMap<string, number>): TopicPlan {
  const create: TopicSpec[] = [];
  const grow: { topic: string; from: number; to: number }[] = [];
  const larger: { topic: string; actual: number; wanted: number }[] = [];
  for (const spec of wanted) {
    const actual = existing.get(spec.topic);
    if (actual === undefined) create.push(spec);
    else if (actual < spec.numPartitions)
      grow.push({ topic: spec.topic, from: actual, to: spec.numPartitions });
    else if (actual > spec.numPartitions)
      larger.push({ topic: spec.topic, actual, wanted: spec.numPartitions });
  }
  return { create, grow, larger };
}

/** Partition count of each of `topics` that exists. */
export async function existingPartitionCounts(
  admin: Admin,
  topics: readonly string[],
): Promise<Map<string, number>> {
  const all = new Set(await admin.listTopics());
  const present = topics.filter((t) => all.has(t));
  const counts = new Map<string, number>();
  if (present.length === 0) return counts;
  const meta = await admin.fetchTopicMetadata({ topics: present });
  for (const t of meta.topics) counts.set(t.name, t.partitions.length);
  return counts;
}

/** Idempotent: creates missing topics and grows short ones; returns the plan it carried out. */
export async function ensureTopics(
  admin: Admin,
  wanted: readonly TopicSpec[],
  say: (line: string) => void = () => {},
): Promise<TopicPlan> {
  const plan = planTopics(
    wanted,
    await existingPartitionCounts(
      admin,
      wanted.map((w) => w.topic),
    ),
  );
  if (plan.create.length > 0) {
    // createTopics answers false, not an error, when a concurrent start created them first.
    await admin.createTopics({
      topics: plan.create.map((s) => ({ ...s })),
      waitForLeaders: true,
    });
    say(`created topics ${plan.create.map((s) => s.topic).join(', ')}`);
  }
  if (plan.grow.length > 0) {
    await admin.createPartitions({
      topicPartitions: plan.grow.map((g) => ({ topic: g.topic, count: g.to })),
    });
    for (const g of plan.grow) {
      say(`grew ${g.topic} from ${g.from} to ${g.to} partitions (keys move to new partitions)`);
    }
  }
  for (const l of plan.larger) {
    say(
      `${l.topic} has ${l.actual} partitions, more than the configured ${l.wanted}; Kafka cannot shrink a topic`,
    );
  }
  return plan;
}
