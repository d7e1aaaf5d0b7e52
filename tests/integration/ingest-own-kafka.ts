/**
 * A Kafka of the ingest tests' own: a copy of ops/local/stack.yaml on other ports with its own data
 * dir, so a broker restart (stress test) or a wiped log (benchmarks) disturbs nobody using the
 * shared stack. Postgres stays the shared stack's.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { REPO_ROOT } from '../../src/shared/paths.js';

export interface OwnKafka {
  brokers: string[];
  /** Environment for `aepred` child processes: this stack file, this params file. */
  env: NodeJS.ProcessEnv;
  /** Runs the CLI from source with `env`; throws on a non-zero exit. */
  cli(args: string[]): void;
  paramsFile: string;
}

/**
 * Writes the stack and params files under `work` and (re)starts a fresh broker on `port` (the
 * controller on port + 1): the previous run's log is wiped, `stack up` creates the topics.
 */
export function startOwnKafka(o: {
  work: string;
  port: number;
  ingest: Record<string, number>;
  fresh?: boolean;
}): OwnKafka {
  const work = resolve(o.work);
  mkdirSync(work, { recursive: true });
  const base = parse(readFileSync(resolve(REPO_ROOT, 'ops/local/stack.yaml'), 'utf8')) as {
    services: { kafka: { port: number; controller_port: number } };
  };
  base.services.kafka.port = o.port;
  base.services.kafka.controller_port = o.port + 1;
  const stackFile = join(work, 'stack.yaml');
  writeFileSync(stackFile, stringify(base));
  const params = parse(readFileSync(resolve(REPO_ROOT, 'params.yaml'), 'utf8')) as {
    ingest: Record<string, number>;
  };
  Object.assign(params.ingest, o.ingest);
  const paramsFile = join(work, 'params.yaml');
  writeFileSync(paramsFile, stringify(params));
  const localDir = join(tmpdir(), `aepred-own-kafka-${o.port}`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AEPRED_STACK_CONFIG: stackFile,
    // Broker state per port, not per caller: whoever uses the port next can stop a broker left running.
    AEPRED_LOCAL_DIR: localDir,
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
  if (o.fresh !== false) {
    try {
      cli(['stack', 'down', 'kafka']);
    } catch {
      // not running
    }
    rmSync(localDir, { recursive: true, force: true });
  }
  cli(['stack', 'up', 'kafka']);
  return { brokers: [`127.0.0.1:${o.port}`], env, cli, paramsFile };
}
