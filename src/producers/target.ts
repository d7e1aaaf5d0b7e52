import { PgEnrollmentStore } from '../db/enrollment.js';
import { openPool } from '../db/pool.js';
import { AepredError } from '../shared/errors.js';
import { loadStackConfig } from '../stack/config.js';
import { DirSink } from './dir-sink.js';
import { KafkaSink } from './kafka-sink.js';
import type { EventSink, SinkTarget } from './sink.js';

/** Parses the values of a variadic `--to <target...>` option: `kafka` or `dir PATH`. */
export function parseSinkTarget(values: readonly string[] | string | undefined, flag = '--to'): SinkTarget {
  const v = values === undefined ? ['kafka'] : typeof values === 'string' ? [values] : values;
  if (v.length === 1 && v[0] === 'kafka') return { to: 'kafka' };
  if (v[0] === 'dir' && v.length === 2 && v[1] !== undefined && v[1] !== '') return { to: 'dir', path: v[1] };
  throw new AepredError('AEP_USAGE_SINK', `${flag} must be "kafka" or "dir PATH" (got "${v.join(' ')}")`, {
    kind: 'usage',
  });
}

/**
 * Opens the sink a target names. Kafka uses the stack's broker and writes enrollment to its
 * Postgres (the enrollment table must exist: `aepred db migrate`).
 */
export async function openSink(target: SinkTarget): Promise<EventSink> {
  if (target.to === 'dir') return new DirSink(target.path);
  const cfg = loadStackConfig();
  const pool = openPool();
  const store = new PgEnrollmentStore(pool);
  try {
    return await KafkaSink.connect({
      brokers: [`${cfg.host}:${cfg.services.kafka.port}`],
      enrollment: store,
      onClose: () => pool.end(),
    });
  } catch (e) {
    await pool.end();
    throw e;
  }
}
