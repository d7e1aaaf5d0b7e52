/**
 * Benchmark harness: every benchmark measures `runs` repetitions of one thing and writes
 * bench/results/<name>.json with the median, min and max, the git commit and the machine's cores.
 * Targets are judged on medians here, never by timed assertions in tests.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { REPO_ROOT } from '../src/shared/paths.js';

export interface BenchResult {
  name: string;
  metric: string;
  unit: string;
  median: number;
  min: number;
  max: number;
  runs: number;
  samples: number[];
  git_commit: string;
  machine_cores: number;
  node: string;
  recorded_at: string;
  notes?: string;
  extra?: Record<string, unknown>;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of no samples');
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/**
 * Runs `measure` `runs` times (after `warmup` unrecorded runs); `measure` returns one sample in `unit`.
 * Writes and returns the result.
 */
export async function bench(opts: {
  name: string;
  metric: string;
  unit: string;
  runs: number;
  warmup?: number;
  notes?: string;
  extra?: Record<string, unknown>;
  measure: (run: number) => Promise<number> | number;
}): Promise<BenchResult> {
  for (let i = 0; i < (opts.warmup ?? 0); i++) await opts.measure(-1 - i);
  const samples: number[] = [];
  for (let i = 0; i < opts.runs; i++) samples.push(await opts.measure(i));
  const result: BenchResult = {
    name: opts.name,
    metric: opts.metric,
    unit: opts.unit,
    median: median(samples),
    min: Math.min(...samples),
    max: Math.max(...samples),
    runs: samples.length,
    samples,
    git_commit: gitCommit(),
    machine_cores: cpus().length,
    node: process.version,
    recorded_at: new Date().toISOString(),
    ...(opts.notes === undefined ? {} : { notes: opts.notes }),
    ...(opts.extra === undefined ? {} : { extra: opts.extra }),
  };
  const dir = resolve(REPO_ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(resolve(dir, `${opts.name}.json`), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}
