/**
 * Profiling helper for the ingester (not part of `make bench`):
 *   npx tsx bench/ingest-profile.ts produce [N]     fresh own Kafka (port 59292), N simulated messages
 *   node --cpu-prof --import tsx bench/ingest-profile.ts drain   drain them once, print the timings
 *   npx tsx bench/ingest-profile.ts window      warm-up drain, then a drain with a CPU profile of its steady state
 *                                              ($TMPDIR/aepred-ingest-profile/steady.cpuprofile)
 * Each drain uses a new consumer group, so the same backlog can be drained again and again.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadParams } from '../src/config/params.js';
import { startOwnKafka } from '../tests/integration/ingest-own-kafka.js';
import { simulateStream } from '../tests/integration/ingest-stream.js';
import { enroll, produce, runIngester, sourceRecords } from '../tests/integration/ingest-throughput.js';

const [cmd = 'drain', n = '100000'] = process.argv.slice(2);
const work = join(tmpdir(), 'aepred-ingest-profile');
const params = { ...loadParams().ingest };
const kafka = startOwnKafka({ work, port: 59292, ingest: {}, fresh: cmd === 'produce' });
if (cmd === 'produce') {
  const stream = await simulateStream({ messages: Number(n), seed: 21 });
  await enroll(stream);
  await produce(kafka.brokers, stream);
  console.log(JSON.stringify({ produced: stream.total, faults: stream.expectedInvalidRecords }));
} else {
  const expect = await sourceRecords(kafka.brokers);
  if (cmd === 'window') {
    // Warm-up drain first: the profile should show the JIT-compiled steady state, not compilation.
    const w = await runIngester({
      brokers: kafka.brokers,
      params,
      lakeDir: join(work, 'lake'),
      expect,
      group: `profile-warmup-${Date.now()}`,
    });
    console.log(JSON.stringify({ warmup: w }));
  }
  // With `window`, the CPU profile covers the steady state only: from the first commit to 90 %.
  const session = cmd === 'window' ? new Session() : undefined;
  session?.connect();
  const post = (method: string): Promise<unknown> =>
    new Promise((res, rej) => {
      if (session === undefined) res(undefined);
      else session.post(method, (e, r) => (e === null ? res(r) : rej(e)));
    });
  await post('Profiler.enable');
  let phase = 0;
  const onProgress = (records: number): void => {
    if (session === undefined) return;
    if (phase === 0) {
      phase = 1;
      void post('Profiler.start');
    } else if (phase === 1 && records >= expect * 0.9) {
      phase = 2;
      void post('Profiler.stop').then((r) => {
        writeFileSync(join(work, 'steady.cpuprofile'), JSON.stringify((r as { profile: unknown }).profile));
      });
    }
  };
  const r = await runIngester({
    brokers: kafka.brokers,
    params,
    lakeDir: join(work, 'lake'),
    expect,
    group: `profile-${Date.now()}`,
    onProgress,
  });
  console.log(JSON.stringify(r));
}
