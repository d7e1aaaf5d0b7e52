/**
 * The closed loop for a person to watch (issue 9):
 *   npx tsx scripts/demo/closed-loop.ts --lake PATH [--scenario concept-drift|site-drift]
 *        [--patients 120] [--days 16] [--seed 7] [--start 2025-01-06] [--epochs 3] [--simulate] [--bench]
 *        [--note TEXT]   (recorded with --bench: what ran beside it)
 * With --simulate (or a lake without bronze/) a trial of the scenario is simulated into PATH first.
 * Prints: serving features -> production model -> monitoring -> condition holds -> detected ->
 * retraining -> staging -> canary -> promoted / rolled back; then a rollback drill whose candidate is
 * worse by construction (trained on inverted labels) -> rolled back; then production rolled back
 * under scoring load. Same code path as the integration test (src/retrain/scenario.ts). Uses the
 * stack's MLflow (aepred stack up) and a small-trial params file (docs/retraining.md); the model name is fresh per run. With --bench the run
 * is appended to bench/results/closed-loop.json (src/retrain/bench.ts).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { appendClosedLoopBench } from '../../src/retrain/bench.js';
import { runClosedLoopScenario } from '../../src/retrain/scenario.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const { values: a } = parseArgs({
  options: {
    lake: { type: 'string' },
    scenario: { type: 'string', default: 'concept-drift' },
    patients: { type: 'string', default: '120' },
    days: { type: 'string', default: '16' },
    seed: { type: 'string', default: '7' },
    start: { type: 'string', default: '2025-01-06' },
    epochs: { type: 'string', default: '3' },
    simulate: { type: 'boolean', default: false },
    bench: { type: 'boolean', default: false },
    note: { type: 'string' },
    mlflow: { type: 'string', default: process.env.MLFLOW_TRACKING_URI ?? 'http://127.0.0.1:55000' },
  },
});
if (!a.lake) {
  process.stderr.write(
    'usage: closed-loop.ts --lake PATH [--scenario concept-drift|site-drift] [--simulate]\n',
  );
  process.exit(2);
}
const lake = resolve(a.lake);
const dir = join(ROOT, '.local', 'demo', 'closed-loop');
mkdirSync(dir, { recursive: true });
const wall0 = performance.now();
const say = (step: string, text: string) =>
  process.stdout.write(
    `\x1b[1;36m[${((performance.now() - wall0) / 1000).toFixed(0).padStart(4)} s] ${step}\x1b[0m ${text}\n`,
  );
const load0 = loadavg()[0] ?? 0;
const model = `aepred-demo-loop-${a.scenario}-${Date.now().toString(36)}`;
const r = await runClosedLoopScenario({
  repoRoot: ROOT,
  python: join(ROOT, '.venv', 'bin', 'python'),
  lake,
  trackingUri: String(a.mlflow),
  dir,
  scenario: String(a.scenario),
  patients: Number(a.patients),
  days: Number(a.days),
  seed: Number(a.seed),
  start: String(a.start),
  epochs: Number(a.epochs),
  model,
  simulate: a.simulate || !existsSync(join(lake, 'bronze')),
  logger: pino({ level: 'warn' }),
  wall: () => performance.now(),
  say,
});
const lat =
  r.run1.conditionAt !== null && r.run1.triggerAt !== null
    ? (r.run1.triggerAt - r.run1.conditionAt) / 3_600_000
    : null;
say(
  'summary',
  `condition -> trigger ${lat === null ? 'n/a' : `${lat} h`} of trial time; run 1 ${r.run1.verdict?.verdict.decision ?? 'no verdict'}; run 2 ${r.run2.verdict?.verdict.decision ?? 'no verdict'}; ${r.rollback === null ? 'rollback drill skipped (nothing was promoted)' : `rollback swap ${r.rollback.swapMs.toFixed(3)} ms, ${r.rollback.failures} failed of ${r.rollback.served} scorings`}`,
);
if (a.bench)
  appendClosedLoopBench(ROOT, r, {
    scenario: String(a.scenario),
    patients: Number(a.patients),
    days: Number(a.days),
    model,
    load0,
    source: 'demo',
    ...(a.note ? { note: a.note } : {}),
  });
