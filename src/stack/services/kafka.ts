/**
 * Apache Kafka 4.x in KRaft mode (broker and controller in one JVM), resolved from Maven Central by
 * ops/local/kafka/pom.xml; no tarball download. See docs/stack-kafka-s3.md.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AepredError } from '../../shared/errors.js';
import { REPO_ROOT } from '../../shared/paths.js';
import type { StackConfig } from '../config.js';
import { installCacheDir, outputTail, requireTool } from '../install.js';
import { ensureTopics, stackKafka, stackTopicSpecs } from '../kafka-topics.js';
import { runCommand } from '../process.js';
import { renderTemplate, stackTemplateVars } from '../template.js';
import type { LaunchSpec, ServiceContext, ServiceDef } from '../types.js';

const KAFKA_OPS_DIR = join(REPO_ROOT, 'ops', 'local', 'kafka');
const POM = join(KAFKA_OPS_DIR, 'pom.xml');
const SERVER_TEMPLATE = join(KAFKA_OPS_DIR, 'server.properties');
const LOG4J2_CONFIG = join(KAFKA_OPS_DIR, 'log4j2.xml');
/** Written last by ensureInstalled: a libs folder without it is a half-finished copy. */
const COMPLETE_MARKER = '.complete';
/** Small on purpose: the whole stack shares a 2-core, few-GB developer machine or CI runner. */
const HEAP = ['-Xms256m', '-Xmx512m'];

export function kafkaLibsDir(version: string, cacheDir = installCacheDir()): string {
  return join(cacheDir, `kafka-${version}`, 'libs');
}

function javaCommand(): string {
  return process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
}

/** The broker's log.dirs; meta.properties there marks formatted storage. */
function logDirs(dataDir: string): string {
  return join(dataDir, 'kraft-logs');
}

function serverPropertiesPath(dataDir: string): string {
  return join(dataDir, 'server.properties');
}

/** Pure: server.properties from the template, with this node's ports, data folder and defaults. */
export function renderServerProperties(template: string, config: StackConfig, dataDir: string): string {
  return renderTemplate(
    template,
    stackTemplateVars(config, {
      kafka_controller_port: config.services.kafka.controller_port,
      kafka_log_dirs: logDirs(dataDir),
      kafka_default_partitions: config.kafka.default_partitions,
    }),
    SERVER_TEMPLATE,
  );
}

/**
 * A Kafka cluster id: 16 random bytes as unpadded base64url (22 characters), as Kafka's
 * Uuid.randomUuid() makes them; like Kafka, avoid a leading '-' that a command line would misread.
 */
export function newClusterId(random: (n: number) => Buffer = randomBytes): string {
  for (;;) {
    const id = random(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function classpath(libs: string): string {
  // The JVM expands a trailing `*` to every jar in the folder itself; no shell is involved.
  return join(libs, '*');
}

async function libsInstalled(libs: string, version: string): Promise<boolean> {
  if (!existsSync(join(libs, COMPLETE_MARKER))) return false;
  const jars = await readdir(libs);
  return jars.includes(`kafka_2.13-${version}.jar`);
}

async function installLibs(ctx: ServiceContext, version: string, libs: string): Promise<void> {
  requireTool('mvn', 'to resolve the Kafka jars from Maven Central', 'apt-get install maven');
  requireTool(javaCommand(), 'to run Kafka', 'apt-get install openjdk-17-jdk-headless (Java 17 or newer)');
  ctx.say(`resolving Apache Kafka ${version} jars from Maven Central (first run only)`);
  // Copy into a sibling folder and rename, so an interrupted run never leaves a partial libs folder.
  const staging = `${libs}.partial-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  const r = await runCommand('mvn', [
    '-q',
    '-B',
    '-f',
    POM,
    `-Dkafka.version=${version}`,
    'dependency:copy-dependencies',
    `-DoutputDirectory=${staging}`,
  ]);
  if (r.code !== 0) {
    await rm(staging, { recursive: true, force: true });
    throw new AepredError(
      'AEP_STACK_KAFKA_INSTALL_FAILED',
      `mvn could not resolve Kafka ${version} (exit ${r.code})`,
      {
        detail: outputTail(r.output),
        retryable: true,
      },
    );
  }
  await writeFile(join(staging, COMPLETE_MARKER), `${version}\n`);
  await rm(libs, { recursive: true, force: true });
  await rename(staging, libs);
}

async function formatStorage(ctx: ServiceContext, libs: string): Promise<void> {
  const clusterId = newClusterId();
  ctx.say(`formatting KRaft storage (cluster id ${clusterId})`);
  const r = await runCommand(javaCommand(), [
    '-Xmx256m',
    `-Dlog4j2.configurationFile=${LOG4J2_CONFIG}`,
    '-cp',
    classpath(libs),
    'kafka.tools.StorageTool',
    'format',
    '--cluster-id',
    clusterId,
    '--config',
    serverPropertiesPath(ctx.dataDir),
  ]);
  if (r.code !== 0) {
    throw new AepredError(
      'AEP_STACK_KAFKA_FORMAT_FAILED',
      `formatting Kafka storage in ${logDirs(ctx.dataDir)} failed`,
      {
        detail: outputTail(r.output),
      },
    );
  }
}

export const kafka: ServiceDef = {
  name: 'kafka',
  dependsOn: [],

  ports(config) {
    return [config.services.kafka.port, config.services.kafka.controller_port];
  },

  async ensureInstalled(ctx) {
    const { version } = ctx.config.services.kafka;
    const libs = kafkaLibsDir(version);
    if (await libsInstalled(libs, version)) return;
    await installLibs(ctx, version, libs);
  },

  async prepare(ctx) {
    await mkdir(logDirs(ctx.dataDir), { recursive: true });
    // Rendered on every start so an edit to stack.yaml or the template takes effect.
    const template = await readFile(SERVER_TEMPLATE, 'utf8');
    await writeFile(
      serverPropertiesPath(ctx.dataDir),
      renderServerProperties(template, ctx.config, ctx.dataDir),
    );
    if (!existsSync(join(logDirs(ctx.dataDir), 'meta.properties'))) {
      await formatStorage(ctx, kafkaLibsDir(ctx.config.services.kafka.version));
    }
  },

  launch(ctx): LaunchSpec {
    const libs = kafkaLibsDir(ctx.config.services.kafka.version);
    return {
      command: javaCommand(),
      args: [
        ...HEAP,
        '-XX:+UseG1GC',
        '-XX:MaxGCPauseMillis=20',
        '-Djava.awt.headless=true',
        `-Dlog4j2.configurationFile=${LOG4J2_CONFIG}`,
        '-cp',
        classpath(libs),
        'kafka.Kafka',
        serverPropertiesPath(ctx.dataDir),
      ],
      cwd: ctx.dataDir,
    };
  },

  async probe(ctx) {
    // A real protocol round trip: the broker answers Metadata and lists itself.
    const admin = stackKafka(ctx.config, 'aepred-stack-probe', {
      connectionTimeout: 1_000,
      requestTimeout: 2_000,
      retry: { retries: 0 },
    }).admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      return cluster.brokers.length > 0;
    } catch {
      return false;
    } finally {
      await admin.disconnect().catch(() => {});
    }
  },

  async afterReady(ctx) {
    const admin = stackKafka(ctx.config, 'aepred-stack-topics').admin();
    await admin.connect();
    try {
      await ensureTopics(admin, stackTopicSpecs(ctx.config), ctx.say);
    } finally {
      await admin.disconnect();
    }
  },
};
