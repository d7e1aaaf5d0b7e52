/**
 * The closed-loop scenario end to end on the real pieces (issue 9 "Must show"), shared by
 * `scripts/demo/closed-loop.ts` and `tests/integration/closed-loop.test.ts`:
 *
 *  1. a simulated trial of one scenario (site-drift / concept-drift) written to a bronze lake;
 *  2. silver + point-in-time features over the whole trial (standing in for the streaming feature
 *     path that fills the store in service; the replay scores these snapshots);
 *  3. the first production model: a manual retraining on the days before the drift;
 *  4. run 1: the trial replayed hour by hour on a SimulatedClock through the ModelSupervisor (real
 *     ONNX sessions) and the DriftSupervisor (checks every monitoring.check_interval_hours); the
 *     rule fires, the TrainingSupervisor runs the real pipeline (Spark silver + features,
 *     `ml train`, drift reference) against MLflow, the candidate is canaried and judged;
 *  5. run 2, the rollback drill: a candidate worse by construction (trained on inverted labels,
 *     `ml train --drill-inverted-labels`; the offline >= 2 % comparison disabled so it reaches
 *     staging) is canaried on the same trial and judged;
 *  6. production rolled back under concurrent scoring load (failed scorings counted, swap timed).
 *
 * Small-trial parameters (docs/retraining.md): written to `<dir>/<model>.yaml` by `scenarioParams`.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { parse, stringify } from 'yaml';
import type { PatientId } from '../actors/patient/protocol.js';
import { loadParams } from '../config/params.js';
import type { DecayFindings } from '../monitoring/rules.js';
import type { CanaryResult } from './canary.js';
import { ClosedLoop } from './loop.js';
import type { LoopNotice } from './notify.js';
import { LocalPipeline, type StepTiming } from './pipeline.js';
import { loadReplayRows, type ReplayRow, readLakeSites, TrialReplay } from './replay.js';
import type { RetrainingReport } from './runner.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
/** Undrifted trial days replayed before the drift (the first drift-window length is warm-up). */
const CONTROL_DAYS = 2;
/** The comparison hold-out of every retraining in the scenario (pipeline.ts ComparisonHoldout). */
export const COMPARISON = { hours: 24, share: 0.3 } as const;

type ParamsDoc = Record<string, Record<string, unknown>>;

export interface ScenarioOptions {
  readonly repoRoot: string;
  readonly python: string;
  readonly lake: string;
  readonly trackingUri: string;
  /** Params files, training outputs and (unless `lineageRepo`) nothing else go here. */
  readonly dir: string;
  readonly lineageRepo?: string;
  readonly scenario: string;
  readonly patients: number;
  readonly days: number;
  readonly seed: number;
  /** First trial day, YYYY-MM-DD. */
  readonly start: string;
  /** Registry model name (fresh per run: the bootstrap must not meet an older production). */
  readonly model: string;
  /** Simulate the trial into `lake` first (else the lake's bronze/ is used as it is). */
  readonly simulate: boolean;
  readonly epochs: number;
  readonly logger: Logger;
  readonly registry?: Registry;
  readonly wall: () => number;
  /** Progress lines for a person (the demo prints them). */
  readonly say?: (step: string, text: string) => void;
}

export interface ScenarioResult {
  readonly loop: ClosedLoop;
  readonly bad: ClosedLoop;
  readonly registry: Registry;
  readonly productionBefore: string;
  readonly bootstrap: RetrainingReport;
  readonly serving: { readonly steps: readonly StepTiming[]; readonly rows: number };
  /** When the simulator's drift begins (the manifest's ground truth) and the replay's control start. */
  readonly driftAt: number;
  /** The simulator's ground truth (manifest `scenario`): when, and for site-drift which site. */
  readonly truth: { readonly from?: string; readonly site_id?: string };
  readonly monitorFrom: number;
  /** Trial hours an automatic retraining waited after its trigger for labelled data. */
  readonly dataWaitHours: number;
  readonly run1: {
    /** First trial hour at which a check would have requested a retraining. */
    readonly conditionAt: number | null;
    readonly triggerAt: number | null;
    readonly triggerReason: string | null;
    readonly triggerRules: readonly string[];
    readonly report: RetrainingReport | undefined;
    readonly verdict: CanaryResult | undefined;
    readonly wallSeconds: number;
  };
  readonly run2: {
    readonly report: RetrainingReport | undefined;
    readonly verdict: CanaryResult | undefined;
    readonly wallSeconds: number;
  };
  /** Null when run 1 promoted nothing (there is no previous production to roll back to). */
  readonly rollback: {
    readonly swapMs: number;
    readonly toVersion: string | null;
    readonly servedAfterMs: number;
    readonly served: number;
    readonly failures: number;
    readonly scorers: number;
  } | null;
  readonly wallSeconds: { readonly simulate: number; readonly serving: number; readonly total: number };
  readonly notices: readonly LoopNotice[];
}

/** The small-trial params (gates relaxed, canary share 0.5, ...): see docs/retraining.md. */
export function scenarioParams(
  repoRoot: string,
  dir: string,
  model: string,
  o: { days: number; epochs: number; patients: number; file?: string },
  over: (p: ParamsDoc) => void = () => {},
): string {
  const p = parse(readFileSync(join(repoRoot, 'params.yaml'), 'utf8')) as ParamsDoc;
  p.training = { ...p.training, registered_model: model, patience: 2 };
  // No absolute AUROC gate: the candidate is tested on the held-out patients' last labelled day,
  // which after a drift is drifted data on which production itself scores far below 0.5 (measured:
  // site-drift, 20 positives, candidate 0.447 vs production 0.296 — the candidate was rejected by
  // a 0.5 gate while 0.15 better than production). What stops a bad candidate here is the paired
  // comparison on the same rows (>= 2 % over production) and then the canary on live data.
  p.gates = { ...p.gates, min_auroc: 0, max_ece: 0.5, max_subgroup_auroc_gap: 1, max_latency_ms: 1000 };
  // retraining after a drift learns from the recent days: a 4-day window holds about half drifted
  // data when the performance rule fires two days into the drift (8 days held a fifth, and the
  // candidate was not 2 % better than production on it: measured, docs/retraining.md)
  p.pipeline = { ...p.pipeline, training_days: 4 };
  p.canary = { share: 0.5 };
  // The drift rule is params.yaml's own (KS > 0.2 on more than 5 features over the whole trial, or
  // KS > 0.25 on more than 10 within one site against the site's reference; time-on-study features
  // not counted): measured on four simulated trials (docs/monitoring.md "Site-level drift"), the
  // undrifted days and sites stay at 7 or fewer, the drifted site at 24-33. (Before the time-on-study
  // exclusion and the per-site references, undrifted days showed 16-17 features with KS > 0.15 and
  // this scenario had to switch the drift rule off.) The performance rule detects decay relative to
  // the serving model's own held-out test AUROC (its MLflow run): more than 0.05 below it on 2
  // consecutive checks. (An
  // absolute 0.73, set from one first model's 0.76-0.83 on undrifted days, fired on a control day
  // for a weaker first model: docs/retraining.md.) auroc_threshold is the fallback without a baseline.
  // The rolling AUROC counts once the window holds a full day of labelled predictions (every
  // patient's snapshots of one day: patients x 24 / cadence). With 50, the first checks after the
  // start read the labels of the first 1-6 hours of predictions (120-480 rows, a handful of
  // positives) and their AUROC is noise: measured 2026-11-27 with a 193-feature first model,
  // 0.301 and 0.449 on the first control day (threshold 0.616) -> retraining requested 18 h
  // before the drift, while the same model's full-day AUROC was 0.63-0.67 on every later day.
  const cadenceHours = 2;
  p.monitoring = {
    ...p.monitoring,
    auroc_threshold: 0.73,
    auroc_max_drop: 0.05,
    min_labelled: Math.round((o.patients * 24) / cadenceHours),
  };
  p.retraining = {
    ...p.retraining,
    feature_cadence_hours: cadenceHours,
    max_epochs: o.epochs,
    canary_hours: 48,
    canary_min_labelled: 20,
    auroc_tolerance: 0.1,
    ece_tolerance: 0.05,
  };
  over(p);
  const path = join(dir, `${o.file ?? model}.yaml`);
  writeFileSync(path, stringify(p, { defaultStringType: 'QUOTE_SINGLE', defaultKeyType: 'PLAIN' }));
  return path;
}

function exec(cmd: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, [...args], { cwd, env, maxBuffer: 64 << 20 }, (err, _out, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${String(stderr).slice(-2000)}`));
      else resolve();
    });
  });
}

const arms = (v: CanaryResult) => {
  const f = (x: number | null) => (x === null ? '?' : x.toFixed(3));
  const a = (n: string, s: CanaryResult['verdict']['canary']) =>
    `${n} AUROC ${f(s.auroc)} ECE ${f(s.calibrationError)} on ${s.labelled} labels (${s.positives} positive)`;
  return `${a('canary', v.verdict.canary)} vs ${a('production', v.verdict.production)}`;
};
/** ", site S03: 31 drifted features (sbp_mean_24h, ...)" for the sites over the segment limit. */
const siteText = (f: DecayFindings): string =>
  f.segments
    .filter((x) => f.driftedSegments.includes(x.segment))
    .map(
      (x) =>
        `, site ${x.segment}: ${x.drifted.length} drifted features (${x.drifted.slice(0, 4).join(', ')}${x.drifted.length > 4 ? ', ...' : ''})`,
    )
    .join('');
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const hour = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');

export async function runClosedLoopScenario(o: ScenarioOptions): Promise<ScenarioResult> {
  const say = o.say ?? (() => {});
  const wall0 = o.wall();
  const t0 = Date.parse(`${o.start}T00:00:00Z`);
  const end = t0 + o.days * DAY;
  const registry = o.registry ?? new Registry();
  const paramsPath = scenarioParams(o.repoRoot, o.dir, o.model, {
    days: o.days,
    epochs: o.epochs,
    patients: o.patients,
  });

  if (o.simulate) {
    say('trial', `simulating ${o.patients} patients x ${o.days} days, scenario ${o.scenario}`);
    await exec(
      o.python,
      [
        join(o.repoRoot, 'scripts/demo/sim_lake.py'),
        ...['--out', o.lake, '--scenario', o.scenario, '--patients', String(o.patients)],
        ...['--days', String(o.days), '--seed', String(o.seed), '--start', o.start],
      ],
      o.repoRoot,
      { ...process.env, PYTHONPATH: o.repoRoot },
    );
  }
  const simSeconds = (o.wall() - wall0) / 1000;
  // the drift's start is the simulator's ground truth; monitoring starts CONTROL_DAYS before it, so
  // that the replay shows the rules staying quiet on undrifted data first
  const manifest = JSON.parse(readFileSync(join(o.lake, 'sim', 'manifest.json'), 'utf8')) as {
    scenario?: { from?: string; site_id?: string };
  };
  const driftAt = Date.parse(manifest.scenario?.from ?? '');
  if (!Number.isFinite(driftAt)) throw new Error(`scenario ${o.scenario} has no drift start in its manifest`);
  const monitorFrom = driftAt - CONTROL_DAYS * DAY;

  const horizonHours = loadParams(paramsPath).labels.horizon_hours;
  // An automatic retraining waits for the day after its trigger to be labelled (labels arrive
  // labels.horizon_hours late): its comparison day is then [trigger, trigger + 24 h), data after
  // the change that triggered it, seen by neither model. Without the wait the last labelled day at
  // the trigger lies before it: the concept-drift run that fired a day into the drift compared on
  // the pre-drift day (7 positives) and rejected its candidate (docs/retraining.md).
  const dataWaitHours = COMPARISON.hours + horizonHours;
  const common = {
    // candidate and production are compared on the same recent data, seen by neither: the held-out
    // patients' last labelled day of the window (with the wait above: the day after the trigger).
    // The candidate's own split of its 4-day window held mostly pre-drift rows, a day of which
    // production had been trained on (measured: demo run rejected at -0.050 while the candidate was
    // +0.11 better than production on the post-drift day; docs/retraining.md)
    comparison: COMPARISON,
    dataWaitHours,
    // the simulated lake carries its own enrollment: never the stack's (make demo exports
    // AEPRED_ENROLLMENT_JDBC_URL for its steps 4-5; inherited, it gave step 7 another trial's
    // enrollment dates and a different story, docs/retraining.md)
    enrollment: 'lake' as const,
    repoRoot: o.repoRoot,
    python: o.python,
    lake: o.lake,
    trackingUri: o.trackingUri,
    ...(o.lineageRepo ? { lineageRepo: o.lineageRepo } : {}),
    logger: o.logger,
    wall: o.wall,
  };
  const loop = new ClosedLoop({
    ...common,
    params: loadParams(paramsPath),
    paramsPath,
    workDir: join(o.dir, 'runs'),
    registry,
    start: monitorFrom,
  });
  const flushed = new Set<LoopNotice>();
  const flush = (l: ClosedLoop) => {
    for (const n of l.notifier.sent) {
      if (flushed.has(n)) continue;
      flushed.add(n);
      say(n.action, n.text);
    }
  };

  // 2. the serving features of the whole trial
  const servingWall0 = o.wall();
  if (!(loop.pipeline instanceof LocalPipeline))
    throw new Error('the closed-loop scenario needs the local pipeline (retraining.kubeflow_endpoint empty)');
  say(
    'features',
    `silver + features over the whole trial ${day(t0)} .. ${day(end)} (the serving feature path)`,
  );
  const servingSteps = await loop.pipeline.prepare({ start: t0, end });
  const servingSeconds = (o.wall() - servingWall0) / 1000;

  // 3. the first production model
  say('production', `training the first model on ${day(t0)} .. ${day(monitorFrom)} (manual)`);
  const boot = await loop.bootstrap({ start: t0, end: monitorFrom });
  flush(loop);
  const prod1 = boot.registeredVersion ?? '';
  say('production', `version ${prod1} is production: ${boot.links.version ?? ''}`);
  await loop.startMonitoring(prod1);

  // 4. run 1: replay from the drift on; the rule fires, retraining, canary, verdict
  const { names, rows } = await loadReplayRows(
    o.python,
    o.repoRoot,
    join(o.lake, 'features'),
    new Date(monitorFrom).toISOString(),
    new Date(end).toISOString(),
  );
  const interval = loadParams(paramsPath).monitoring.check_interval_hours;
  say(
    'monitoring',
    `replaying ${rows.length} feature snapshots from ${day(monitorFrom)} (drift from ${hour(driftAt)}), decay checks every ${interval} h of trial time`,
  );
  if (rows.length === 0)
    throw new Error(`no feature snapshots in ${o.lake}/features after ${day(monitorFrom)}`);
  const sites = readLakeSites(o.lake);
  const replay = new TrialReplay({
    clock: loop.trialClock,
    models: loop.models,
    drift: loop.drift,
    training: loop.training,
    canary: loop.canary,
    names,
    rows,
    labelDelayMs: DAY,
    stepMs: HOUR,
    segmentOf: (p) => sites.get(p),
  });
  const run1Wall0 = o.wall();
  let conditionAt: number | null = null;
  let shown = 0;
  const triggered = () =>
    loop.drift.checks.some((c) => c.decisions.some((d) => d.type === 'retrain.requested'));
  await replay.runUntil(end, () => {
    for (const c of loop.drift.checks.slice(shown))
      for (const d of c.decisions) {
        say(
          'detected',
          `${d.type} (${d.reason}) at trial time ${hour(d.at)}: ${c.findings.drifted.length} drifted features over the trial${siteText(c.findings)}, AUROC ${c.findings.auroc?.toFixed(3) ?? 'n/a (too few labels)'}`,
        );
        if (d.type === 'retrain.requested' && loop.training.waiting === d.incident)
          say(
            'retraining',
            `waits ${dataWaitHours} h of trial time for labelled data after the trigger: runs at ${hour(d.at + dataWaitHours * HOUR)}, compared on ${hour(d.at)} .. ${hour(d.at + COMPARISON.hours * HOUR)}`,
          );
      }
    shown = loop.drift.checks.length;
    // hourly probe: the first trial hour at which a check would request a retraining
    if (conditionAt === null && !triggered() && loop.drift.probe().wouldRequest) {
      conditionAt = loop.clock.now();
      say(
        'condition',
        `a decay rule's condition holds at trial time ${hour(conditionAt)} (next check decides)`,
      );
    }
    flush(loop);
    return loop.canary.results.length > 0;
  });
  flush(loop);
  const trigger = loop.drift.checks.flatMap((c) => c.decisions).find((d) => d.type === 'retrain.requested');
  // a condition first visible exactly at a check is triggered by that check (the probe runs after it)
  if (trigger && (conditionAt === null || conditionAt > trigger.at)) conditionAt = trigger.at;
  const report = loop.training.reports[0];
  if (report)
    say(
      'report',
      `lineage tag ${report.lineageTag}; MLflow run ${report.links.run ?? ''}; comparison: ${report.comparison?.reason ?? report.error ?? ''}`,
    );
  const v1 = loop.canary.results[0];
  if (v1)
    say(
      v1.verdict.decision === 'promote' ? 'promoted' : 'rolled back',
      `version ${v1.version}: ${v1.verdict.decision} (${v1.verdict.reasons.join('; ') || 'stable'}; ${arms(v1)}) ${loop.writer.versionUrl(o.model, v1.version)}`,
    );
  else say('end', 'run 1: no verdict within the trial');
  const run1Wall = (o.wall() - run1Wall0) / 1000;

  // 5. run 2, the rollback drill: a candidate worse by construction reaches staging and meets the
  // canary. It is trained like run 1's but on inverted labels (label -> 1 - label): it ranks risk
  // backwards, so its live AUROC is about 1 - a real model's, below any production above 0.5. (The
  // former drill, learning rate 1e-7 and one epoch, made an untrained model; it was promoted, 0.581
  // vs 0.490, once production had decayed to about chance on concept-drift: docs/retraining.md.)
  const run2Wall0 = o.wall();
  const badParams = scenarioParams(
    o.repoRoot,
    o.dir,
    o.model,
    { days: o.days, epochs: o.epochs, patients: o.patients, file: `${o.model}-worse` },
    (p) => {
      // let it reach staging: the offline comparison and the AUROC gate would stop it first
      // (and the ECE gate: calibrated to the inverted labels, its probabilities are far off the true
      // rate, which the canary's calibration check is there to see)
      p.gates = { ...p.gates, promotion_min_auroc_gain: -1, min_auroc: 0, max_ece: 1 };
      // 24 h of exposure is enough to judge it and leaves the verdict inside the 16-day trial
      p.retraining = { ...p.retraining, auroc_tolerance: 0, canary_hours: 24 };
    },
  );
  // run 2 needs its own trial time: the retraining's window, its 24 h canary and the labels' delay
  // before the verdict. It starts where run 1 ended, or, when run 1 ran to the trial's end without a
  // verdict (nothing promoted), early enough that its verdict still falls inside the trial.
  const badP = loadParams(badParams);
  const run2Span = (badP.retraining.canary_hours + 2 * badP.labels.horizon_hours) * HOUR;
  const run2Start = Math.max(monitorFrom, Math.min(loop.clock.now(), end - run2Span));
  const bad = new ClosedLoop({
    ...common,
    params: badP,
    paramsPath: badParams,
    workDir: join(o.dir, 'runs-worse'),
    registry: new Registry(),
    start: run2Start,
    drill: 'inverted-labels',
  });
  const production = await loop.writer.versionByAlias(o.model, 'production');
  const mv = await loop.writer.getVersion(o.model, production?.version ?? '');
  await bad.models.load('production', await loop.reader.runArtifact(mv.runId, 'model/model.onnx'));
  await bad.startMonitoring(production?.version ?? '');
  say(
    'run 2',
    `rollback drill: a candidate worse by construction (trained on inverted labels) against production version ${production?.version}, from trial time ${hour(run2Start)}`,
  );
  bad.drift.request({ at: bad.clock.now(), reason: 'manual', source: 'manual' });
  await bad.training.idle;
  flush(bad);
  const replay2 = new TrialReplay({
    clock: bad.trialClock,
    models: bad.models,
    drift: bad.drift,
    training: bad.training,
    canary: bad.canary,
    names,
    rows: rows.filter((r: ReplayRow) => r.t >= bad.clock.now()),
    labelDelayMs: DAY,
    stepMs: HOUR,
    segmentOf: (p) => sites.get(p),
  });
  await replay2.runUntil(end, () => {
    flush(bad);
    return bad.canary.results.length > 0;
  });
  flush(bad);
  const v2 = bad.canary.results[0];
  if (v2)
    say(
      v2.verdict.decision === 'promote' ? 'promoted' : 'rolled back',
      `run 2, version ${v2.version}: ${v2.verdict.decision} (${v2.verdict.reasons.join('; ') || 'stable'}; ${arms(v2)})`,
    );
  else say('end', 'run 2: no verdict within the trial');
  const run2Wall = (o.wall() - run2Wall0) / 1000;

  // 6. production rollback under load (only when run 1 promoted: else there is nothing to roll back)
  const rollback = v1?.verdict.decision === 'promote' ? await rollbackUnderLoad(loop, rows, o.wall) : null;
  if (rollback === null)
    say('rollback', 'skipped: run 1 promoted nothing, production has no previous version');
  flush(loop);

  const total = (o.wall() - wall0) / 1000;
  say('done', `wall time ${total.toFixed(0)} s; MLflow ${o.trackingUri}/#/models/${o.model}`);
  return {
    loop,
    bad,
    registry,
    productionBefore: prod1,
    driftAt,
    truth: { ...manifest.scenario },
    monitorFrom,
    dataWaitHours,
    bootstrap: boot,
    serving: { steps: servingSteps, rows: rows.length },
    run1: {
      conditionAt,
      triggerAt: trigger?.at ?? null,
      triggerReason: trigger?.reason ?? null,
      triggerRules: trigger?.type === 'retrain.requested' ? trigger.rules : [],
      report,
      verdict: v1,
      wallSeconds: run1Wall,
    },
    run2: { report: bad.training.reports[0], verdict: v2, wallSeconds: run2Wall },
    rollback,
    wallSeconds: { simulate: simSeconds, serving: servingSeconds, total },
    notices: [...loop.notifier.sent, ...bad.notifier.sent],
  };
}

async function rollbackUnderLoad(
  loop: ClosedLoop,
  rows: readonly ReplayRow[],
  wall: () => number,
): Promise<NonNullable<ScenarioResult['rollback']>> {
  const row = rows[0];
  if (!row) throw new Error('no rows');
  const scorers = 4;
  let failures = 0;
  let served = 0;
  let stop = false;
  const scorer = async (i: number) => {
    while (!stop) {
      const lease = loop.models.acquire(`P-load-${i}-${served % 50}` as PatientId);
      if (!lease) {
        failures++;
        await new Promise((r) => setImmediate(r));
        continue;
      }
      try {
        await lease.session.score(row.x);
        served++;
      } catch {
        failures++;
      } finally {
        lease.done();
      }
    }
  };
  const load = Array.from({ length: scorers }, (_, i) => scorer(i));
  await new Promise((r) => setTimeout(r, 300));
  const servedBefore = served;
  const rb = await loop.canary.rollbackProduction('rollback-under-load', wall);
  const tRb = wall();
  while (served < servedBefore + 20) await new Promise((r) => setTimeout(r, 1));
  const servedAfterMs = wall() - tRb;
  await new Promise((r) => setTimeout(r, 300));
  stop = true;
  await Promise.all(load);
  return { swapMs: rb.swapMs, toVersion: rb.version, servedAfterMs, served, failures, scorers };
}
