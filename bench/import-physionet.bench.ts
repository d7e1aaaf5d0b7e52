/**
 * `aepred import physionet2019` throughput: every stay of training set A (20,336 .psv files) parsed,
 * mapped, checked against the contracts and written as NDJSON to a temporary directory (DirSink),
 * the path the CLI takes with `--to dir`. events/s counts topic messages (enrollment rows aside).
 *
 *   npx tsx bench/import-physionet.bench.ts            # all stays, 3 runs
 *   BENCH_LIMIT=2000 BENCH_RUNS=1 npx tsx bench/import-physionet.bench.ts   # quick look (not saved)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { contracts } from '../src/contracts/validator.js';
import { ImportRun, type ImportSummary } from '../src/importers/core/run.js';
import { importPhysionet } from '../src/importers/physionet2019/importer.js';
import { DirSink } from '../src/producers/dir-sink.js';
import { REPO_ROOT } from '../src/shared/paths.js';
import { bench } from './lib.js';

const DIR = resolve(REPO_ROOT, '../shared/data/physionet2019/training_setA');
const limit = process.env.BENCH_LIMIT === undefined ? undefined : Number(process.env.BENCH_LIMIT);
const runs = Number(process.env.BENCH_RUNS ?? 3);

async function once(): Promise<{ seconds: number; cpuSeconds: number; summary: ImportSummary }> {
  const out = mkdtempSync(join(tmpdir(), 'aepred-bench-physionet-'));
  const sink = new DirSink(out);
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  try {
    const run = new ImportRun({
      importer: 'physionet2019',
      sink,
      contracts: contracts(),
      nowMs: Date.now(),
      onError: 'stop',
    });
    await importPhysionet(DIR, run, limit === undefined ? {} : { limit });
    const summary = await run.finish();
    await sink.close();
    const cpu = process.cpuUsage(cpu0);
    return {
      seconds: (performance.now() - start) / 1000,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      summary,
    };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

let last: ImportSummary | undefined;
/** Events per CPU-second of this process: less moved by other work on a shared machine than wall time. */
const perCpuSecond: number[] = [];
// Other work on the machine moves the numbers; the 1-minute load average says how busy it was.
const loadBefore = loadavg()[0];
const measure = async (): Promise<number> => {
  const { seconds, cpuSeconds, summary } = await once();
  last = summary;
  const events = Object.values(summary.messages).reduce((a, b) => a + b, 0);
  const rate = events / seconds;
  perCpuSecond.push(Math.round(events / cpuSeconds));
  process.stderr.write(
    `${summary.files} stays, ${events} events in ${seconds.toFixed(2)} s: ${Math.round(rate)} events/s\n`,
  );
  return rate;
};

if (limit !== undefined) {
  for (let i = 0; i < runs; i++) await measure();
} else {
  const result = await bench({
    name: 'import-physionet',
    metric: 'events per second, all 20,336 training set A stays, PSV -> contract check -> NDJSON (DirSink)',
    unit: 'events/s',
    runs,
    warmup: 0,
    notes:
      'Single Node process; events = topic messages (vitals + labs + sepsis adverse events), enrollment rows excluded.',
    measure,
  });
  const summary = last;
  if (summary !== undefined) {
    const { writeFileSync, readFileSync } = await import('node:fs');
    const path = resolve(REPO_ROOT, 'bench/results/import-physionet.json');
    const saved = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    saved.extra = {
      load_average_1m_before_after: [loadBefore, loadavg()[0]],
      events_per_cpu_second: perCpuSecond,
      stays: summary.files,
      rows: summary.rows,
      messages: summary.messages,
      enrollment: summary.enrollment,
      repairs: summary.repairs,
      dropped: summary.dropped,
    };
    writeFileSync(path, `${JSON.stringify(saved, null, 2)}\n`);
  }
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
