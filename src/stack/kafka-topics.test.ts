import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../shared/paths.js';
import { loadStackConfig } from './config.js';
import { planTopics, stackBrokers, stackTopicSpecs } from './kafka-topics.js';

const config = loadStackConfig(join(REPO_ROOT, 'ops/local/stack.yaml'));

describe('stack topics', () => {
  it('wants every configured topic with the default partition count', () => {
    const specs = stackTopicSpecs(config);
    expect(specs.map((s) => s.topic)).toEqual(config.kafka.topics);
    expect(new Set(specs.map((s) => s.numPartitions))).toEqual(new Set([config.kafka.default_partitions]));
    expect(stackBrokers(config)).toEqual([`127.0.0.1:${config.services.kafka.port}`]);
  });

  it('plans creation, growth and reports topics it cannot shrink', () => {
    const wanted = [
      { topic: 'a', numPartitions: 6, replicationFactor: 1 },
      { topic: 'b', numPartitions: 6, replicationFactor: 1 },
      { topic: 'c', numPartitions: 6, replicationFactor: 1 },
      { topic: 'd', numPartitions: 6, replicationFactor: 1 },
    ];
    const plan = planTopics(
      wanted,
      new Map([
        ['b', 6],
        ['c', 3],
        ['d', 12],
      ]),
    );
    expect(plan.create.map((s) => s.topic)).toEqual(['a']);
    expect(plan.grow).toEqual([{ topic: 'c', from: 3, to: 6 }]);
    expect(plan.larger).toEqual([{ topic: 'd', actual: 12, wanted: 6 }]);
  });

  it('plans nothing when every topic is as configured', () => {
    const wanted = stackTopicSpecs(config);
    const plan = planTopics(wanted, new Map(wanted.map((w) => [w.topic, w.numPartitions])));
    expect(plan).toEqual({ create: [], grow: [], larger: [] });
  });
});
