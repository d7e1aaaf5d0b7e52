/**
 * Ingestion benchmark (issue #4), ~100,000 messages of the simulator's `faults` scenario:
 * - sustained events/s (the metric): the backlog is in Kafka first (own broker, port 59292), then an
 *   in-process Ingester with a new consumer group drains it, 3 runs. Steady state = from the first
 *   committed batch to the last full-size one (no start-up, no partial tail batches); the rate from
 *   start() (group join included) is kept beside it. batch_max_seconds 2 so the tail is short.
 * - end-to-end lag p99 in a normal run: default params (1,000 records / 30 s), the Ingester running,
 *   the stream produced live at LIVE_RATE events/s; lag = Kafka record timestamp -> batch commit.
 * - the PRD 7.4 stress run at 100,000 (SIGKILLs, a rebalance, a broker restart; port 59192) with its
 *   exactly-once counts against the simulator's manifest.
 */
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadParams } from '../src/config/params.js';
import { startOwnKafka } from '../tests/integration/ingest-own-kafka.js';
import { simulateStream } from '../tests/integration/ingest-stream.js';
import { runStress } from '../tests/integration/ingest-stress.js';
import { enroll, produce, type RunResult, runIngester } from '../tests/integration/ingest-throughput.js';
import { bench, median } from './lib.js';

const N = Number(process.env.AEPRED_BENCH_INGEST_N ?? 100_000);
const LIVE_RATE = Number(process.env.AEPRED_BENCH_INGEST_RATE ?? 5_000);
const work = join(tmpdir(), 'aepred-ingest-bench');
const log = (s: string): void => void process.stderr.write(`[ingest bench] ${s}\n`);
const load: number[] = [];
const sampleLoad = (): void => void load.push(loadavg()[0] ?? Number.NaN);

const stream = await simulateStream({ messages: N, seed: 31 });
await enroll(stream);
const base = loadParams().ingest;

// Throughput: one backlog, drained three times by fresh groups.
let kafka = startOwnKafka({ work, port: 59292, ingest: {} });
await produce(kafka.brokers, stream);
const drains: RunResult[] = [];
for (let i = 0; i < 3; i++) {
  sampleLoad();
  const r = await runIngester({
    brokers: kafka.brokers,
    params: { ...base, batch_max_seconds: 2 },
    lakeDir: join(work, 'lake'),
    expect: stream.total,
    group: `bench-drain-${Date.now()}-${i}`,
  });
  log(`drain ${i}: ${JSON.stringify(r)}`);
  drains.push(r);
}

// Live: a fresh broker, the ingester first, then the stream at LIVE_RATE.
kafka = startOwnKafka({ work, port: 59292, ingest: {} });
sampleLoad();
const brokers = kafka.brokers;
const live = await runIngester({
  brokers,
  params: base,
  lakeDir: join(work, 'lake'),
  expect: stream.total,
  group: `bench-live-${Date.now()}`,
  during: () => produce(brokers, stream, { ratePerSecond: LIVE_RATE }),
});
log(`live: ${JSON.stringify(live)}`);

// The PRD 7.4 stress run at N (own broker on 59192, restarted during the run).
sampleLoad();
const stress = await runStress({ messages: N, seed: 11, kills: 3, workDir: join(work, 'stress'), log });
log(`stress: ${JSON.stringify(stress)}`);

await bench({
  name: 'ingest',
  metric: 'sustained events/s, Kafka -> validation -> bronze Parquet + DLQ (exactly-once), steady state',
  unit: 'events/s',
  runs: drains.length,
  measure: (i) => drains[i]?.steadyEventsPerSecond ?? Number.NaN,
  notes:
    `target >= 50,000 events/s on 2 cores: not met (docs/ingestion.md, Performance). ${stream.total} messages ` +
    `of the simulator's faults scenario per run. The box is shared with other engineers' tests: 1-min load ` +
    `average ${load.map((l) => l.toFixed(1)).join(', ')} at the start of each drain, the live run and the stress run.`,
  extra: {
    from_start_events_per_second_median: median(drains.map((d) => d.eventsPerSecondFromStart)),
    end_to_end_lag_p99_seconds: live.lagP99Seconds,
    lag_note:
      'p99 is set by batch_max_seconds (30 s): lab-results and medications partitions fill their ' +
      '1,000-record batches slower than that at this rate, so ~10 % of the rows wait for the age close',
    live_run: { rate_events_per_second: LIVE_RATE, params: 'default (1,000 records / 30 s)', ...live },
    drain_runs: drains,
    stress_100k: stress,
    machine_load_1min: load,
  },
});
