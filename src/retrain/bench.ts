/**
 * bench/results/closed-loop.json: every measured closed-loop run (integration test with
 * AEPRED_CL_BENCH=1, or the demo with --bench) is appended to `per_run`; medians over all runs.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import type { ScenarioResult } from './scenario.js';

const HOUR = 3_600_000;

export interface BenchMeta {
  readonly scenario: string;
  readonly patients: number;
  readonly days: number;
  readonly model: string;
  /** 1-min load average when the run started. */
  readonly load0: number;
  /** Who ran it: the integration test or the demo script. */
  readonly source: 'test' | 'demo';
  /** What else ran beside it (AEPRED_CL_NOTE / --note), e.g. "2 CPU burners". */
  readonly note?: string;
}

export function appendClosedLoopBench(root: string, r: ScenarioResult, m: BenchMeta): void {
  const { scenario: SCENARIO, patients: PATIENTS, model, load0 } = m;
  const HOURS = (a: number | null, b: number | null) => (a === null || b === null ? null : (b - a) / HOUR);
  const latencyH0 = HOURS(r.run1.conditionAt, r.run1.triggerAt);
  const ROOT = root;
  const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  const run = {
    scenario: SCENARIO,
    patients: PATIENTS,
    days: m.days,
    model,
    git_commit: commit,
    recorded_at: new Date().toISOString(),
    load_1m_start: load0,
    load_1m_end: loadavg()[0] ?? 0,
    wall_seconds: r.wallSeconds,
    detection: {
      drift_starts_at: iso(r.driftAt),
      monitoring_from: iso(r.monitorFrom),
      condition_at: iso(r.run1.conditionAt),
      trigger_at: iso(r.run1.triggerAt),
      condition_to_trigger_trial_hours: latencyH0,
      drift_to_trigger_trial_hours: HOURS(r.driftAt, r.run1.triggerAt),
      probe_resolution_trial_hours: 1,
      reason: r.run1.triggerReason,
      rules: r.run1.triggerRules,
    },
    source: m.source,
    note: m.note ?? null,
    // the scenario's jobs read the lake's own enrollment whatever the environment says; recorded so
    // that a run under make demo's exported AEPRED_ENROLLMENT_JDBC_URL can be told apart
    enrollment_jdbc_url_in_env: Boolean(process.env.AEPRED_ENROLLMENT_JDBC_URL),
    data_wait_hours: r.dataWaitHours,
    // the first model's held-out AUROC (the relative decay rule's baseline) and every decay check:
    // the rolling AUROC, the threshold it was held against, what was decided
    bootstrap: {
      seconds: r.bootstrap.durationSeconds,
      steps: r.bootstrap.steps,
      test_auroc: r.bootstrap.candidate?.auroc ?? null,
      comparison_set: r.bootstrap.comparisonSet ?? null,
    },
    checks: r.loop.drift.checks.map((c) => ({
      at: iso(c.at),
      auroc: c.findings.auroc,
      threshold: c.findings.aurocThreshold,
      streak: c.findings.lowAurocStreak,
      // counted features over the trial's KS threshold, and per site over the segment threshold
      drifted: c.findings.drifted.length,
      sites: Object.fromEntries(c.findings.segments.map((x) => [x.segment, x.drifted.length])),
      decisions: c.decisions.map((d) => `${d.type}:${d.reason}`),
    })),
    serving_steps: r.serving.steps,
    replay_rows: r.serving.rows,
    run1: {
      wall_seconds: r.run1.wallSeconds,
      retraining_seconds: r.run1.report?.durationSeconds ?? null,
      steps: r.run1.report?.steps ?? null,
      data: r.run1.report?.data ?? null,
      comparison: r.run1.report?.comparison ?? null,
      comparison_set: r.run1.report?.comparisonSet ?? null,
      outcome: r.run1.report?.outcome ?? null,
      registered_version: r.run1.report?.registeredVersion ?? null,
      lineage_tag: r.run1.report?.lineageTag ?? null,
      verdict: r.run1.verdict?.verdict ?? null,
    },
    run2: {
      wall_seconds: r.run2.wallSeconds,
      retraining_seconds: r.run2.report?.durationSeconds ?? null,
      candidate: r.run2.report?.registeredVersion ?? null,
      verdict: r.run2.verdict?.verdict ?? null,
    },
    rollback_under_load: r.rollback && {
      swap_ms: r.rollback.swapMs,
      served_after_ms: r.rollback.servedAfterMs,
      served: r.rollback.served,
      failed_requests: r.rollback.failures,
      concurrent_scorers: r.rollback.scorers,
      to_version: r.rollback.toVersion,
    },
    notices: r.notices.map((n) => `${n.action}: ${n.text}`),
  };
  // every measured run is kept (site-drift and concept-drift); medians over all of them
  const path = join(ROOT, 'bench', 'results', 'closed-loop.json');
  const before = existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as { per_run?: unknown[] }) : {};
  const perRun = [...(Array.isArray(before.per_run) ? before.per_run : []), run] as Array<typeof run>;
  const med = (xs: number[]) => {
    const v = [...xs].sort((a, b) => a - b);
    const m = Math.floor(v.length / 2);
    return v.length === 0
      ? null
      : v.length % 2
        ? (v[m] as number)
        : ((v[m - 1] as number) + (v[m] as number)) / 2;
  };
  const nums = (f: (x: (typeof perRun)[number]) => number | null | undefined) =>
    perRun.map(f).filter((x): x is number => typeof x === 'number');
  const walls = nums((x) => x.wall_seconds.total);
  const doc = {
    name: 'closed-loop',
    metric: 'closed_loop_wall_seconds',
    unit: 's',
    median: med(walls),
    min: Math.min(...walls),
    max: Math.max(...walls),
    runs: perRun.length,
    samples: walls,
    git_commit: commit,
    machine_cores: cpus().length,
    node: process.version,
    recorded_at: new Date().toISOString(),
    notes: `${perRun.length} run(s) of tests/integration/closed-loop.test.ts (scenarios: ${perRun.map((x) => x.scenario).join(', ')}), 120 patients x 16 days, 3 epochs, retraining window 4 days, comparison on a 30 % patient hold-out's last labelled 24 h (none for the first model; from 2026-11-27 03:00 the run waits data_wait_hours after its trigger so that day is the one after the trigger), relative decay rule from 2026-11-27 (per_run[].checks: threshold per check), shared 2-core machine (1-min load per run in per_run). Wall time = simulate + serving features + first model + run 1 (detect, retrain, canary, verdict) + run 2 (rollback drill: a candidate trained on inverted labels, from 2026-11-27 03:35; before: learning rate 1e-7, 1 epoch) + rollback under load (when run 1 promoted).`,
    medians: {
      wall_seconds: med(walls),
      condition_to_trigger_trial_hours: med(nums((x) => x.detection.condition_to_trigger_trial_hours)),
      drift_to_trigger_trial_hours: med(nums((x) => x.detection.drift_to_trigger_trial_hours)),
      rollback_swap_ms: med(nums((x) => x.rollback_under_load?.swap_ms)),
      rollback_failed_requests: med(nums((x) => x.rollback_under_load?.failed_requests)),
      retraining_seconds: med(nums((x) => x.run1.retraining_seconds)),
    },
    per_run: perRun,
  };
  writeFileSync(path, `${JSON.stringify(doc, null, 2)}\n`);
}
