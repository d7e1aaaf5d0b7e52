import type { Command } from 'commander';
import { startService } from '../../api/server.js';
import { openPool } from '../../db/pool.js';
import { DEFAULT_LAKE, openLake } from '../../lake/index.js';
import { loadStackConfig } from '../../stack/config.js';

interface ServeOptions {
  host: string;
  port?: string;
  cert?: string;
  key?: string;
  insecureHttp?: boolean;
  model?: string;
  staging?: string;
  driftReference?: string;
  registryModel?: string;
  feed: boolean;
  group?: string;
  lake: string;
  retrainLake?: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug';
}

/** `aepred serve`: the API, console and actors over HTTPS until SIGINT/SIGTERM. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve /predict, /health, /metrics, /models, /alerts and the console (HTTPS)')
    .option('--host <addr>', 'listen address', '127.0.0.1')
    .option('--port <n>', 'port (default: aepred.port in ops/local/stack.yaml)')
    .option('--cert <file>', 'TLS certificate (PEM); default: a self-signed one under .local/tls')
    .option('--key <file>', 'TLS private key (PEM), with --cert')
    .option('--insecure-http', 'serve plain HTTP (only behind a TLS-terminating proxy)')
    .option('--model <file>', 'ONNX model to load as production')
    .option('--staging <file>', 'ONNX model to load as staging (canary)')
    .option(
      '--drift-reference <file>',
      "the production model's drift_reference.json for live monitoring (default: the one beside --model)",
    )
    .option('--registry-model <name>', "load this registered model's production/staging aliases from MLflow")
    .option('--no-feed', 'do not consume Kafka into the actors (embedded: actors start from Redis snapshots)')
    .option('--group <id>', "the actors' Kafka consumer group (default aepred-actors)")
    .option(
      '--lake <uri>',
      'where audit digests go: a path or s3://bucket[/prefix]',
      process.env.AEPRED_LAKE ?? DEFAULT_LAKE,
    )
    .option(
      '--retrain-lake <path>',
      'wire POST /retrain to a TrainingSupervisor retraining from this local lake (bronze/, enrollment/)',
      process.env.AEPRED_RETRAIN_LAKE,
    )
    .option('--log-level <level>', 'pino log level', process.env.AEPRED_LOG_LEVEL ?? 'info')
    .action(async (o: ServeOptions) => {
      if (o.insecureHttp === true && (o.cert !== undefined || o.key !== undefined)) {
        program.error('--insecure-http cannot be combined with --cert/--key', { exitCode: 2 });
      }
      const stack = loadStackConfig();
      const pool = openPool();
      const running = await startService({
        host: o.host,
        port: o.port === undefined ? stack.aepred.port : Number(o.port),
        tls: o.insecureHttp === true ? 'off' : { certPath: o.cert, keyPath: o.key },
        modelFile: o.model,
        stagingFile: o.staging,
        ...(o.driftReference === undefined ? {} : { driftReference: o.driftReference }),
        registryModel: o.registryModel,
        feed: o.feed,
        ...(o.group === undefined ? {} : { group: o.group }),
        lake: openLake(o.lake),
        ...(o.retrainLake === undefined ? {} : { training: { lake: o.retrainLake } }),
        logLevel: o.logLevel,
        stack,
        pool,
      });
      process.stdout.write(`serving on ${running.url}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await running.close();
      await pool.end();
    });
}
