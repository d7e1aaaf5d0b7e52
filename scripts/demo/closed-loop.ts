/**
 * The closed loop for a person to watch (issue 9):
 *   npx tsx scripts/demo/closed-loop.ts --lake PATH [--scenario site-drift|concept-drift]
 *        [--patients 40] [--days 16] [--seed 7] [--start 2025-01-06] [--simulate]
 * With --simulate (or a lake without bronze/) a trial of the scenario is simulated into PATH first.
 * Prints: production model -> monitoring -> detected -> retraining -> staging -> canary ->
 * promoted / rolled back, with MLflow links. Uses the stack's MLflow (aepred stack up mlflow) and a
 * demo params file (small-trial gates and canary share, see docs/retraining.md).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { Registry } from 'prom-client';
import { parse, stringify } from 'yaml';
import { loadParams } from '../../src/config/params.js';
import { ClosedLoop } from '../../src/retrain/loop.js';
import { loadReplayRows, TrialReplay } from '../../src/retrain/replay.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const PY = join(ROOT, '.venv', 'bin', 'python');
const DAY = 86_400_000;
const { values: a } = parseArgs({
  options: {
    lake: { type: 'string' },
    scenario: { type: 'string', default: 'site-drift' },
    patients: { type: 'string', default: '80' },
    days: { type: 'string', default: '16' },
    seed: { type: 'string', default: '7' },
    start: { type: 'string', default: '2025-01-06' },
    simulate: { type: 'boolean', default: false },
    mlflow: { type: 'string', default: process.env.MLFLOW_TRACKING_URI ?? 'http://127.0.0.1:55000' },
  },
});
if (!a.lake) {
  process.stderr.write('usage: closed-loop.ts --lake PATH [--scenario site-drift|concept-drift] [--simulate]\n');
  process.exit(2);
}
const lake = resolve(a.lake);
const days = Number(a.days);
const t0 = Date.parse(`${a.start}T00:00:00Z`);
const driftAt = t0 + Math.floor(days * 0.5) * DAY;
const wall0 = performance.now();
const say = (step: string, text: string) =>
  process.stdout.write(`\x1b[1;36m[${((performance.now() - wall0) / 1000).toFixed(0).padStart(4)} s] ${step}\x1b[0m ${text}\n`);

mkdirSync(join(ROOT, '.local', 'demo'), { recursive: true });
const model = `aepred-demo-loop-${a.scenario}`;
const p = parse(readFileSync(join(ROOT, 'params.yaml'), 'utf8')) as Record<string, Record<string, unknown>>;
p.training = { ...p.training, registered_model: model, patience: 2 };
p.gates = { ...p.gates, min_auroc: 0.5, max_ece: 0.5, max_subgroup_auroc_gap: 1, max_latency_ms: 1000 };
p.pipeline = { ...p.pipeline, training_days: Math.floor(days / 2) };
p.canary = { share: 0.5 };
p.monitoring = { ...p.monitoring, ks_threshold: 0.1, max_drifted_features: 2, min_labelled: 50 };
p.retraining = { ...p.retraining, feature_cadence_hours: 2, max_epochs: 3, canary_min_labelled: 20, auroc_tolerance: 0.1, ece_tolerance: 0.05 };
const paramsPath = join(ROOT, '.local', 'demo', `closed-loop-${a.scenario}.yaml`);
writeFileSync(paramsPath, stringify(p, { defaultStringType: 'QUOTE_SINGLE', defaultKeyType: 'PLAIN' }));

if (a.simulate || !existsSync(join(lake, 'bronze'))) {
  say('trial', `simulating ${a.patients} patients x ${days} days, scenario ${a.scenario} (drift from ${new Date(driftAt).toISOString().slice(0, 10)})`);
  execFileSync(PY, [join(ROOT, 'scripts/demo/sim_lake.py'), '--out', lake, '--scenario', String(a.scenario), '--patients', String(a.patients), '--days', String(days), '--seed', String(a.seed), '--start', String(a.start)], { cwd: ROOT, env: { ...process.env, PYTHONPATH: ROOT } });
}
const loop = new ClosedLoop({
  params: loadParams(paramsPath),
  paramsPath,
  repoRoot: ROOT,
  python: PY,
  lake,
  trackingUri: a.mlflow,
  workDir: join(ROOT, '.local', 'demo', 'retrain'),
  logger: pino({ level: 'warn' }),
  registry: new Registry(),
  start: driftAt,
  wall: () => performance.now(),
});
const printed = new Set<number>();
const flush = () =>
  loop.notifier.sent.forEach((n, i) => {
    if (printed.has(i)) return;
    printed.add(i);
    say(n.action, n.text);
  });
say('production', `training the first model on ${a.start} .. ${new Date(driftAt).toISOString().slice(0, 10)} (manual)`);
const boot = await loop.bootstrap({ start: t0, end: driftAt });
flush();
say('production', `version ${boot.registeredVersion} is production: ${boot.links.version ?? ''}`);
await loop.startMonitoring(boot.registeredVersion ?? '');
const { names, rows } = await loadReplayRows(PY, ROOT, join(lake, 'features'), new Date(driftAt).toISOString(), new Date(t0 + days * DAY).toISOString());
say('monitoring', `replaying ${rows.length} feature snapshots from ${new Date(driftAt).toISOString().slice(0, 10)}, decay checks every ${p.monitoring?.check_interval_hours} h of trial time`);
const replay = new TrialReplay({ clock: loop.clock, models: loop.models, drift: loop.drift, training: loop.training, canary: loop.canary, names, rows, labelDelayMs: DAY, stepMs: 3_600_000 });
let shown = 0;
await replay.runUntil(t0 + days * DAY, () => {
  for (const c of loop.drift.checks.slice(shown)) {
    for (const d of c.decisions)
      say('detected', `${d.type} ${d.reason} at trial time ${new Date(d.at).toISOString()} (drifted features: ${c.findings.drifted.length}, AUROC ${c.findings.auroc?.toFixed(3) ?? 'n/a'})`);
  }
  shown = loop.drift.checks.length;
  flush();
  return loop.canary.results.length > 0;
});
flush();
const rep = loop.training.reports[0];
if (rep) say('report', `lineage tag ${rep.lineageTag}; MLflow run ${rep.links.run ?? ''}; comparison: ${rep.comparison?.reason ?? rep.error ?? ''}`);
const v = loop.canary.results[0];
if (v) say(v.verdict.decision === 'promote' ? 'promoted' : 'rolled back', `version ${v.version}: ${v.verdict.decision} (${v.verdict.reasons.join('; ') || 'stable'}) ${loop.writer.versionUrl(model, v.version)}`);
else say('end', 'no verdict within the trial (see the checks above)');
say('done', `wall time ${((performance.now() - wall0) / 1000).toFixed(0)} s; MLflow ${a.mlflow}/#/models/${model}`);
