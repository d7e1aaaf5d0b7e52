/**
 * `aepred import sdtm --to kafka` over the real stack: the CDISC pilot's XPT files (DM, AE, CM, EX)
 * go through the idempotent kafkajs producer keyed by patient_id, and enrollment lands in Postgres.
 * Assumes `aepred stack up` ran (make test); applies the migrations itself (idempotent).
 */
import { resolve } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { contracts } from '../../src/contracts/validator.js';
import { migrate } from '../../src/db/migrate.js';
import { openPool } from '../../src/db/pool.js';
import { ImportRun } from '../../src/importers/core/run.js';
import { importSdtm } from '../../src/importers/sdtm/importer.js';
import { memoryRun } from '../../src/importers/testing.js';
import { openSink } from '../../src/producers/target.js';
import { REPO_ROOT } from '../../src/shared/paths.js';
import { loadStackConfig } from '../../src/stack/config.js';

const XPT = resolve(REPO_ROOT, '../shared/data/cdiscpilot01/sdtm-xpt');

describe('import sdtm --to kafka', () => {
  it('produces every adverse event keyed by patient and enrolls every subject', {
    timeout: 120_000,
  }, async () => {
    const expected = memoryRun('sdtm');
    await importSdtm(XPT, expected.run, { format: 'xpt' });
    const want = new Map(
      expected.sink.messages['adverse-events'].map((m) => {
        const o = JSON.parse(m) as { event_id: string; patient_id: string };
        return [o.event_id, o.patient_id] as const;
      }),
    );
    expect(want.size).toBe(1191);
    const setup = openPool();
    try {
      await migrate(setup);
    } finally {
      await setup.end();
    }

    const sink = await openSink({ to: 'kafka' });
    try {
      const run = new ImportRun({
        importer: 'sdtm',
        sink,
        contracts: contracts(),
        nowMs: Date.now(),
        onError: 'stop',
      });
      await importSdtm(XPT, run, { format: 'xpt' });
      const summary = await run.finish();
      expect(summary.messages['adverse-events']).toBe(1191);
      expect(summary.enrollment).toBe(306);
    } finally {
      await sink.close();
    }

    const cfg = loadStackConfig();
    const kafka = new Kafka({ brokers: [`${cfg.host}:${cfg.services.kafka.port}`], logLevel: logLevel.WARN });
    const consumer = kafka.consumer({ groupId: `it-import-kafka-${process.pid}-${Date.now()}` });
    const seen = new Map<string, string>();
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: 'adverse-events', fromBeginning: true });
      await new Promise<void>((done, fail) => {
        const timer = setTimeout(
          () => fail(new Error(`saw ${seen.size} of ${want.size} adverse events`)),
          90_000,
        );
        void consumer
          .run({
            eachMessage: async ({ message }) => {
              const value = JSON.parse(message.value?.toString('utf8') ?? '{}') as { event_id?: string };
              if (value.event_id !== undefined && want.has(value.event_id)) {
                seen.set(value.event_id, message.key?.toString('utf8') ?? '');
              }
              if (seen.size === want.size) {
                clearTimeout(timer);
                done();
              }
            },
          })
          .catch(fail);
      });
    } finally {
      await consumer.disconnect();
    }
    for (const [id, patient] of want) expect(seen.get(id)).toBe(patient);

    const pool = openPool();
    try {
      const r = await pool.query<{ n: string }>(
        "SELECT count(*) AS n FROM enrollment WHERE trial_id = 'CDISCPILOT01'",
      );
      expect(Number(r.rows[0]?.n)).toBe(306);
    } finally {
      await pool.end();
    }
  });
});
