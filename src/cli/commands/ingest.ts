import type { Command } from 'commander';
import { pino } from 'pino';
import { loadParams } from '../../config/params.js';
import { openPool } from '../../db/pool.js';
import { PgPatientDirectory } from '../../ingest/enrollment-cache.js';
import { Ingester } from '../../ingest/ingester.js';
import { DEFAULT_LAKE, openLake } from '../../lake/index.js';
import { AepredError } from '../../shared/errors.js';
import { loadStackConfig } from '../../stack/config.js';

interface IngestOptions {
  brokers?: string;
  group: string;
  lake: string;
  logLevel: string;
}

/** `aepred ingest`: Kafka -> validated bronze lake + DLQ, exactly once, until SIGINT/SIGTERM. */
export function registerIngest(program: Command): void {
  program
    .command('ingest')
    .description('consume the four topic streams into the bronze lake (exactly once) and the DLQs')
    .option('--brokers <list>', 'Kafka bootstrap servers (default: the stack broker)')
    .option('--group <id>', 'consumer group id', 'aepred-ingest')
    .option(
      '--lake <uri>',
      'lake root: a path or s3://bucket[/prefix]',
      process.env.AEPRED_LAKE ?? DEFAULT_LAKE,
    )
    .option('--log-level <level>', 'pino log level', process.env.AEPRED_LOG_LEVEL ?? 'info')
    .action(async (o: IngestOptions) => {
      const params = loadParams().ingest;
      const stack = loadStackConfig();
      const brokers = (o.brokers ?? `${stack.host}:${stack.services.kafka.port}`).split(',');
      const logger = pino({ level: o.logLevel, base: { service: 'aepred-ingest', pid: process.pid } });
      const pool = openPool();
      const patients = new PgPatientDirectory(pool, {
        negativeTtlMs: params.enrollment_negative_ttl_seconds * 1000,
      });
      try {
        const n = await patients.preload();
        logger.info({ enrolled: n }, 'enrollment cache loaded');
      } catch (e) {
        await pool.end();
        throw new AepredError(
          'AEP_DB_UNAVAILABLE',
          `cannot read the enrollment table: ${(e as Error).message}`,
          {
            cause: e,
            retryable: true,
            detail: 'is the stack up and migrated? (aepred stack up && aepred db migrate)',
          },
        );
      }
      const lake = openLake(o.lake);
      const ingester = new Ingester({ brokers, groupId: o.group, lake, patients, params, logger });
      ingester.on('error', (e) => logger.error({ err: e }, 'ingest error'));
      await ingester.start().catch(async (e: unknown) => {
        await pool.end();
        throw new AepredError('AEP_KAFKA_UNAVAILABLE', `cannot start the consumer: ${(e as Error).message}`, {
          cause: e,
          retryable: true,
          detail: 'is the stack up? (aepred stack up kafka)',
        });
      });
      logger.info({ lake: lake.uri, brokers }, 'ingesting');
      await new Promise<void>((resolve) => {
        const done = (): void => resolve();
        process.once('SIGINT', done);
        process.once('SIGTERM', done);
      });
      logger.info('stopping: open batches are dropped and re-read from the committed offsets on restart');
      await ingester.stop();
      await pool.end();
    });
}
