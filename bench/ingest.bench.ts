/**
 * Ingestion benchmark (issue #4): 100,000 messages from Kafka through validation into bronze.
 * - sustained events/s: the whole backlog is in Kafka first, then one `aepred ingest` drains it
 *   (batch_max_records 1000); the metric, median of the runs.
 * - the PRD 7.4 stress run at 100,000 (SIGKILLs, a rebalance, a broker restart) with its exactly-once
 *   counts and the end-to-end lag p99 (Kafka record timestamp to the batch's bronze write) while
 *   the stream is live.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStress, type StressResult } from '../tests/integration/ingest-stress.js';
import { bench } from './lib.js';

const N = Number(process.env.AEPRED_BENCH_INGEST_N ?? 100_000);
const runs: StressResult[] = [];
const stress = await runStress({
  messages: N,
  seed: 11,
  kills: 3,
  workDir: join(tmpdir(), 'aepred-ingest-bench'),
  batchMaxRecords: 1000,
});
await bench({
  name: 'ingest',
  metric: 'sustained events/s, Kafka -> validation -> bronze Parquet + DLQ (exactly-once)',
  unit: 'events/s',
  runs: 3,
  notes: `target >= 50,000 events/s on 2 cores; ${N} messages per run`,
  measure: async (i) => {
    const r = await runStress({
      messages: N,
      seed: 100 + i,
      kills: 0,
      chaos: false,
      workDir: join(tmpdir(), 'aepred-ingest-bench'),
      batchMaxRecords: 1000,
    });
    runs.push(r);
    return r.eventsPerSecond;
  },
  extra: {
    get throughput_runs(): StressResult[] {
      return runs;
    },
    stress_100k: stress,
    end_to_end_lag_p99_seconds: stress.lagP99Seconds,
  },
});
