/** Prints bench/results/*.json as one table (name, metric, median, min, max, runs, commit). */
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { REPO_ROOT } from '../src/shared/paths.js';
import type { BenchResult } from './lib.js';

const dir = resolve(REPO_ROOT, 'bench/results');
const all = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => ({ file: f, body: JSON.parse(readFileSync(resolve(dir, f), 'utf8')) as Partial<BenchResult> }));
// Reports with their own shape (e.g. eval-physionet's metric table) are listed by name only.
const isResult = (b: Partial<BenchResult>): b is BenchResult =>
  typeof b.median === 'number' && typeof b.min === 'number' && typeof b.max === 'number';
const rows = all.flatMap(({ body }) => (isResult(body) ? [body] : []));
const others = all.filter(({ body }) => !isResult(body)).map(({ file }) => file);

const fmt = (x: number): string => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toPrecision(4));
const table = rows.map((r) => ({
  name: r.name,
  metric: `${r.metric} (${r.unit})`,
  median: fmt(r.median),
  min: fmt(r.min),
  max: fmt(r.max),
  runs: String(r.runs),
  commit: (r.git_commit ?? 'unknown').slice(0, 8),
}));
if (table.length === 0) {
  process.stdout.write('no benchmark results yet\n');
} else {
  const cols = Object.keys(table[0]!) as Array<keyof (typeof table)[number]>;
  const width = cols.map((c) => Math.max(c.length, ...table.map((r) => r[c].length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(width[i]!)).join('  ');
  process.stdout.write(`${line(cols)}\n${line(width.map((w) => '-'.repeat(w)))}\n`);
  for (const r of table) process.stdout.write(`${line(cols.map((c) => r[c]))}\n`);
}
if (others.length > 0) process.stdout.write(`\nreports with their own format: ${others.join(', ')}\n`);
