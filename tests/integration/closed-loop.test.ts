/**
 * The closed loop end to end on the real pieces (issue 9 "Must show"), through the same code path as
 * `scripts/demo/closed-loop.ts` (src/retrain/scenario.ts), once per scenario: a simulated
 * concept-drift trial (decay: the performance rule fires) and a site-drift trial (one site's devices
 * read off: the per-site drift rule fires), each in a lake of its own (AEPRED_CL_SCENARIOS, comma
 * separated, picks them; default both); serving features over
 * the whole trial; a first production model trained on the days before the drift; the trial replayed
 * on a SimulatedClock through the ModelSupervisor (real ONNX sessions) and the DriftSupervisor (every
 * 6 h); the rule fires, the TrainingSupervisor runs the real pipeline (Spark silver + features,
 * `ml train`, drift reference) against the stack's MLflow, the candidate becomes `staging`, canaries
 * and is promoted. A rollback drill's candidate, worse by construction (trained on inverted labels:
 * `ml train --drill-inverted-labels`), is canaried and rolled back. Finally
 * production is rolled back under concurrent scoring load: no failed scoring, swap < 1 s.
 *
 * Small-trial settings: docs/retraining.md. Needs the stack's MLflow (`aepred stack up`).
 * With AEPRED_CL_BENCH=1 the run is appended to bench/results/closed-loop.json (src/retrain/bench.ts).
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { appendClosedLoopBench } from '../../src/retrain/bench.js';
import { runClosedLoopScenario } from '../../src/retrain/scenario.js';

const ROOT = join(import.meta.dirname, '..', '..');
const SCENARIOS = (process.env.AEPRED_CL_SCENARIOS ?? 'concept-drift,site-drift').split(',');
/** What detects each scenario's drift (docs/monitoring.md, docs/retraining.md). */
const EXPECTED_REASON: Record<string, string> = { 'concept-drift': 'performance', 'site-drift': 'drift' };
const PATIENTS = Number(process.env.AEPRED_CL_PATIENTS ?? '120');
const HOUR = 3_600_000;

describe.skipIf(process.env.AEPRED_SKIP_CLOSED_LOOP === '1').each(SCENARIOS)(
  'closed loop (%s)',
  (SCENARIO) => {
    it('detects, retrains, canaries and promotes; a worse candidate is rolled back; rollback under load loses nothing', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'aepred-closed-loop-'));
      const lake = join(dir, 'lake');
      mkdirSync(lake, { recursive: true });
      const model = `aepred-cl-${SCENARIO}-${Date.now().toString(36)}`;
      const load0 = loadavg()[0] ?? 0;
      const r = await runClosedLoopScenario({
        repoRoot: ROOT,
        python: join(ROOT, '.venv', 'bin', 'python'),
        lake,
        trackingUri: 'http://127.0.0.1:55000',
        dir,
        lineageRepo: join(dir, 'lineage'),
        scenario: SCENARIO,
        patients: PATIENTS,
        days: 16,
        seed: 7,
        start: '2025-01-06',
        epochs: 3,
        model,
        simulate: true,
        logger: pino({ level: 'warn' }),
        wall: () => performance.now(),
        say: (step, text) => process.stdout.write(`[closed-loop] ${step}: ${text}\n`),
      });
      const { loop, bad } = r;
      if (process.env.AEPRED_CL_BENCH === '1')
        appendClosedLoopBench(ROOT, r, {
          scenario: SCENARIO,
          patients: PATIENTS,
          days: 16,
          model,
          load0,
          source: 'test',
          ...(process.env.AEPRED_CL_NOTE ? { note: process.env.AEPRED_CL_NOTE } : {}),
        });

      // the first production model
      expect(r.bootstrap.outcome).toBe('staging');
      const prod1 = r.productionBefore;

      // run 1: exactly one retraining request, at most one check interval after its condition held
      const requested = loop.drift.checks
        .flatMap((c) => c.decisions)
        .filter((d) => d.type === 'retrain.requested');
      expect(requested.length).toBe(1);
      expect(r.run1.triggerReason).toBe(EXPECTED_REASON[SCENARIO]);
      if (SCENARIO === 'site-drift') {
        // the drifted site, and only it, is over the per-site limit at the trigger
        const check = loop.drift.checks.find((c) => c.decisions.some((d) => d.type === 'retrain.requested'));
        expect(check?.findings.driftedSegments).toEqual([r.truth.site_id]);
        expect(check?.findings.drifted.length).toBeLessThanOrEqual(5); // the trial-wide rule alone would not fire
      }
      expect(r.run1.conditionAt).not.toBeNull();
      // the control days before the drift raise no alarm: the condition first holds after the drift began
      expect(r.run1.conditionAt ?? 0).toBeGreaterThanOrEqual(r.driftAt);
      expect(r.driftAt - r.monitorFrom).toBeGreaterThan(0);
      const latencyH = ((r.run1.triggerAt ?? 0) - (r.run1.conditionAt ?? 0)) / HOUR;
      expect(latencyH).toBeGreaterThanOrEqual(0);
      expect(latencyH).toBeLessThanOrEqual(6);
      const report = r.run1.report;
      // the run waited for the day after its trigger to be labelled, and both models were compared on
      // that day: data after the change, held out of the candidate's training, never seen by production
      const triggerAt = r.run1.triggerAt ?? Number.NaN;
      expect(report?.data.end).toBe(new Date(triggerAt + r.dataWaitHours * HOUR).toISOString());
      const set = report?.comparisonSet as { test_start: string; test_end: string; test_positives: number };
      expect(Date.parse(set.test_start)).toBe(triggerAt);
      expect(Date.parse(set.test_end)).toBeGreaterThan(triggerAt);
      expect(Date.parse(set.test_start)).toBeGreaterThanOrEqual(r.driftAt);
      expect(report?.outcome).toBe('staging');
      expect(report?.lineageTag).toMatch(/^retrain-\d{8}-(drift|performance)$/);
      expect(r.run1.verdict?.verdict.decision).toBe('promote');
      // the promotion moved the aliases (the rollback under load below moves them back)
      expect(loop.notifier.sent.find((n) => n.action === 'canary.promoted')?.modelVersion).toBe(
        report?.registeredVersion,
      );

      // run 2, the rollback drill: the inverted-label candidate reached staging and the canary rolled
      // it back on evidence. What fails by construction is calibration: calibrated to 1 - label, its
      // probabilities sit near 1 - prevalence (measured: ECE 0.894 vs production 0.031). Its AUROC is
      // below production's too when production ranks better than chance, but on this trial both are
      // near 0.5 (measured: 0.415 vs 0.490 on 32 / 19 positives), within the arms' patient-mix noise,
      // so that check is not asserted (docs/retraining.md)
      expect(r.run2.report?.outcome).toBe('staging');
      const v2 = r.run2.verdict?.verdict;
      expect(v2?.decision).toBe('rollback');
      expect(v2?.checks.evidence).toBe(true);
      expect(v2?.checks.calibration).toBe(false);
      expect(await loop.writer.versionByAlias(model, 'staging')).toBeUndefined();
      expect(bad.models.canaryShare).toBe(0);

      // production rollback under load: back to the first model, no failed scoring
      expect(r.rollback?.failures).toBe(0);
      expect(r.rollback?.served).toBeGreaterThan(20);
      expect(r.rollback?.swapMs).toBeLessThan(1000);
      expect(r.rollback?.toVersion).toBe(prod1);
      expect((await loop.writer.versionByAlias(model, 'production'))?.version).toBe(prod1);

      // visible in the metrics and the notices
      const metrics = await r.registry.metrics();
      expect(metrics).toMatch(
        /aepred_retrain_decisions_total\{reason="(drift|performance)",outcome="requested"\} 1/,
      );
      expect(metrics).toMatch(/aepred_canary_verdicts_total\{decision="promote"\} 1/);
      expect(loop.notifier.sent.map((n) => n.action)).toEqual(
        expect.arrayContaining([
          'retrain.started',
          'retrain.completed',
          'canary.started',
          'canary.promoted',
          'model.rolled_back',
        ]),
      );
      expect(bad.notifier.sent.map((n) => n.action)).toContain('canary.rolled_back');
    }, 1_200_000);
  },
);
