import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../shared/paths.js';
import { loadStackConfig } from '../config.js';
import type { ServiceContext } from '../types.js';
import { kafka, kafkaLibsDir, newClusterId, renderServerProperties } from './kafka.js';

const config = loadStackConfig(join(REPO_ROOT, 'ops/local/stack.yaml'));
const template = readFileSync(join(REPO_ROOT, 'ops/local/kafka/server.properties'), 'utf8');

function properties(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    out.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return out;
}

describe('kafka server.properties', () => {
  const rendered = renderServerProperties(template, config, '/data/kafka');
  const props = properties(rendered);

  it('fills every placeholder', () => {
    expect(rendered).not.toMatch(/\{\{/);
  });

  it('runs one KRaft node, broker and controller, listening on 127.0.0.1 only', () => {
    const { port, controller_port } = config.services.kafka;
    expect(props.get('process.roles')).toBe('broker,controller');
    expect(props.get('node.id')).toBe('1');
    expect(props.get('controller.quorum.voters')).toBe(`1@127.0.0.1:${controller_port}`);
    expect(props.get('listeners')).toBe(
      `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controller_port}`,
    );
    expect(props.get('advertised.listeners')).toBe(`PLAINTEXT://127.0.0.1:${port}`);
  });

  it('keeps data under the data dir and fits one node', () => {
    expect(props.get('log.dirs')).toBe('/data/kafka/kraft-logs');
    expect(props.get('num.partitions')).toBe(String(config.kafka.default_partitions));
    expect(props.get('offsets.topic.replication.factor')).toBe('1');
    expect(props.get('transaction.state.log.replication.factor')).toBe('1');
    expect(props.get('transaction.state.log.min.isr')).toBe('1');
    expect(props.get('group.initial.rebalance.delay.ms')).toBe('0');
  });

  it('rejects an unknown placeholder', () => {
    expect(() => renderServerProperties('x={{nope}}', config, '/d')).toThrow(/unknown placeholder/);
  });
});

describe('kafka install and launch', () => {
  it('pins the same Kafka version in the pom as in stack.yaml', () => {
    const pom = readFileSync(join(REPO_ROOT, 'ops/local/kafka/pom.xml'), 'utf8');
    expect(pom).toContain(`<kafka.version>${config.services.kafka.version}</kafka.version>`);
  });

  it('caches jars outside the repository', () => {
    expect(kafkaLibsDir('4.1.1', '/cache/aepred')).toBe('/cache/aepred/kafka-4.1.1/libs');
  });

  it('makes Kafka-style cluster ids', () => {
    const id = newClusterId();
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    // A first draw that would start with '-' (0xf8 encodes to '-' in base64url) is redrawn.
    const draws = [Buffer.alloc(16, 0xf8), Buffer.alloc(16, 1)];
    expect(newClusterId(() => draws.shift() ?? Buffer.alloc(16))).toBe(
      Buffer.alloc(16, 1).toString('base64url'),
    );
  });

  it('launches kafka.Kafka with a bounded heap and the rendered config', () => {
    const ctx: ServiceContext = {
      config,
      localDir: '/l',
      dataDir: '/l/data/kafka',
      logFile: '/l/logs/kafka.log',
      isRoot: false,
      say: () => {},
    };
    const spec = kafka.launch(ctx);
    expect(spec.args).toContain('-Xmx512m');
    expect(spec.args.at(-2)).toBe('kafka.Kafka');
    expect(spec.args.at(-1)).toBe('/l/data/kafka/server.properties');
    expect(kafka.ports(config)).toEqual([config.services.kafka.port, config.services.kafka.controller_port]);
  });
});
