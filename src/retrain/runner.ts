/**
 * One retraining run (FR-9.2, FR-9.3): notify; run the training pipeline over the data window;
 * update the DVC artifacts when stages are configured; write the retraining report (comparison with
 * production, data date range, duration) to the lineage repository (tagged
 * `retrain-YYYYMMDD-<reason>`) and to the MLflow run. The candidate reaches `staging` only through
 * `ml train --register` (gates passed and >= 2 % AUROC over production); the canary is the caller's
 * next step (canary.ts).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { RetrainReason } from '../monitoring/rules.js';
import { isAepredError } from '../shared/errors.js';
import type { LineageRepo } from './lineage.js';
import type { MlflowWriter } from './mlflow.js';
import type { Notifier } from './notify.js';
import type { DataWindow, StepTiming, TrainingPipeline } from './pipeline.js';
import { runProcess } from './process.js';

const DAY_MS = 86_400_000;

export interface RetrainRequestInput {
  readonly reason: RetrainReason;
  /** The incident (or manual request) id from the decay rules: the dedup key and correlation id. */
  readonly incident: string;
  readonly window: DataWindow;
  /** Trial time of the trigger (dates the lineage tag). */
  readonly at: number;
}

export interface Comparison {
  readonly promote: boolean;
  readonly reason: string;
  readonly candidateAuroc: number;
  readonly productionAuroc: number | null;
  readonly gain: number | null;
}

export interface RetrainingReport {
  readonly id: string;
  readonly reason: RetrainReason;
  readonly incident: string;
  readonly requestedAt: string;
  readonly data: { readonly start: string; readonly end: string; readonly days: number };
  readonly pipeline: 'local' | 'kubeflow';
  readonly outcome: 'staging' | 'rejected' | 'failed';
  readonly steps: readonly StepTiming[];
  readonly durationSeconds: number;
  readonly candidate: {
    readonly runId: string | null;
    readonly auroc: number | null;
    readonly ece: number | null;
    readonly gatesPassed: boolean;
    readonly gateReasons: readonly string[];
  } | null;
  readonly comparison: Comparison | null;
  /** The comparison hold-out (rows, positives, patients of the training and test frames), if any. */
  readonly comparisonSet?: Record<string, unknown> | null;
  readonly productionBefore: string | null;
  readonly registeredVersion: string | null;
  readonly dvc: { readonly status: 'ran' | 'skipped'; readonly detail: string };
  readonly lineageTag: string | null;
  readonly links: { readonly run?: string; readonly version?: string };
  readonly error?: string;
}

export interface DvcOptions {
  readonly stages: readonly string[];
  readonly repoRoot: string;
  /** Folder holding the `dvc` executable (.venv/bin). */
  readonly binDir: string;
}

export interface RetrainingRunnerOptions {
  readonly pipeline: TrainingPipeline;
  readonly notifier: Notifier;
  readonly lineage: LineageRepo;
  /** Registry model name (params.yaml training.registered_model). */
  readonly modelName: string;
  /** Report and links; absent: the report goes to the lineage repository only. */
  readonly mlflow?: MlflowWriter;
  readonly dvc: DvcOptions;
  /** Where each run's training output goes (`<workDir>/<run id>`). */
  readonly workDir: string;
  readonly logger: Logger;
  /** Monotonic wall time in ms, for durations only (trial time comes in the request). */
  readonly wall: () => number;
}

const DAY = 86_400_000;

function runId(req: RetrainRequestInput): string {
  const d = new Date(req.at).toISOString().replace(/[-:]/g, '').slice(0, 13);
  return `retrain-${req.reason}-${d}`;
}

export class RetrainingRunner {
  readonly #o: RetrainingRunnerOptions;
  #seq = 0;

  constructor(o: RetrainingRunnerOptions) {
    this.#o = o;
  }

  get pipelineKind(): 'local' | 'kubeflow' {
    return this.#o.pipeline.kind;
  }

  async run(req: RetrainRequestInput): Promise<RetrainingReport> {
    const o = this.#o;
    const t0 = o.wall();
    const id = `${runId(req)}-${++this.#seq}`;
    const data = {
      start: new Date(req.window.start).toISOString(),
      end: new Date(req.window.end).toISOString(),
      days: (req.window.end - req.window.start) / DAY,
    };
    const productionBefore = o.mlflow
      ? ((await o.mlflow.versionByAlias(o.modelName, 'production'))?.version ?? null)
      : null;
    await o.notifier.notify({
      action: 'retrain.started',
      incident: req.incident,
      text: `retraining (${req.reason}) on ${data.start.slice(0, 10)} .. ${data.end.slice(0, 10)}, pipeline ${o.pipeline.kind}`,
      payload: { run: id, reason: req.reason, window: data },
    });
    const outDir = join(o.workDir, id);
    mkdirSync(outDir, { recursive: true });
    let base: Omit<RetrainingReport, 'durationSeconds' | 'lineageTag' | 'links'>;
    try {
      // no production model (known only with MLflow): nothing to compare, no comparison hold-out
      const hasProduction = !(o.mlflow && productionBefore === null);
      const result = await o.pipeline.run({
        window: req.window,
        runName: id,
        outDir,
        hasProduction,
        // a drift-triggered model's site references describe the drifted regime it serves next,
        // when the window holds a day of it at least (else the whole window, as for other reasons)
        ...(req.reason === 'drift' && req.at > req.window.start && req.window.end - req.at >= DAY_MS
          ? { segmentsFrom: req.at }
          : {}),
      });
      const t = result.train;
      const comparison = readComparison(outDir);
      const registered = t.registered_version;
      base = {
        id,
        reason: req.reason,
        incident: req.incident,
        requestedAt: new Date(req.at).toISOString(),
        data,
        pipeline: o.pipeline.kind,
        outcome: registered ? 'staging' : 'rejected',
        steps: result.steps,
        candidate: {
          runId: t.run_id,
          auroc: t.test_auroc,
          ece: t.test_ece,
          gatesPassed: t.gates_passed,
          gateReasons: t.gate_reasons,
        },
        comparison,
        comparisonSet: result.holdout ?? null,
        productionBefore,
        registeredVersion: registered,
        dvc: await this.#dvc(),
      };
    } catch (e) {
      const error = isAepredError(e) ? `${e.message}${e.detail ? `\n${e.detail}` : ''}` : String(e);
      base = {
        id,
        reason: req.reason,
        incident: req.incident,
        requestedAt: new Date(req.at).toISOString(),
        data,
        pipeline: o.pipeline.kind,
        outcome: 'failed',
        steps: [],
        candidate: null,
        comparison: null,
        productionBefore,
        registeredVersion: null,
        dvc: { status: 'skipped', detail: 'the pipeline failed' },
        error,
      };
    }
    const durationSeconds = (o.wall() - t0) / 1000;
    const lineageTag = await o.lineage.record(req.at, req.reason, { ...base, durationSeconds });
    const links = await this.#logToMlflow(base, durationSeconds, lineageTag);
    const report: RetrainingReport = { ...base, durationSeconds, lineageTag, links };
    await o.notifier.notify({
      action:
        report.outcome === 'staging'
          ? 'retrain.completed'
          : report.outcome === 'rejected'
            ? 'retrain.rejected'
            : 'retrain.failed',
      incident: req.incident,
      text:
        report.outcome === 'staging'
          ? `version ${report.registeredVersion} is staging (${report.comparison?.reason ?? ''}) in ${durationSeconds.toFixed(0)} s`
          : report.outcome === 'rejected'
            ? `candidate not registered: ${report.comparison?.reason ?? 'gates failed'}`
            : `retraining failed: ${report.error?.split('\n')[0] ?? ''}`,
      ...(report.registeredVersion === null ? {} : { modelVersion: report.registeredVersion }),
      payload: {
        run: id,
        outcome: report.outcome,
        lineage_tag: lineageTag,
        duration_s: durationSeconds,
        ...links,
      },
    });
    return report;
  }

  async #dvc(): Promise<{ status: 'ran' | 'skipped'; detail: string }> {
    const d = this.#o.dvc;
    if (d.stages.length === 0) return { status: 'skipped', detail: 'retraining.dvc_stages is empty' };
    if (!existsSync(join(d.repoRoot, 'dvc.yaml'))) return { status: 'skipped', detail: 'no dvc.yaml' };
    const env = { ...process.env, PATH: `${d.binDir}:${process.env.PATH ?? ''}` };
    await runProcess('dvc', join(d.binDir, 'dvc'), ['repro', ...d.stages], { cwd: d.repoRoot, env });
    return { status: 'ran', detail: `dvc repro ${d.stages.join(' ')}` };
  }

  async #logToMlflow(
    base: Omit<RetrainingReport, 'durationSeconds' | 'lineageTag' | 'links'>,
    durationSeconds: number,
    lineageTag: string,
  ): Promise<{ run?: string; version?: string }> {
    const { mlflow, modelName, logger } = this.#o;
    const run = base.candidate?.runId;
    if (!mlflow || !run) return {};
    try {
      const report = { ...base, durationSeconds, lineageTag };
      await mlflow.logArtifact(run, 'retraining/report.json', `${JSON.stringify(report, null, 1)}\n`);
      for (const [k, v] of Object.entries({
        'retrain.reason': base.reason,
        'retrain.incident': base.incident,
        'retrain.window': `${base.data.start}/${base.data.end}`,
        'retrain.lineage_tag': lineageTag,
        'retrain.outcome': base.outcome,
      }))
        await mlflow.setRunTag(run, k, v);
      await mlflow.logMetric(run, 'retrain_duration_seconds', durationSeconds, Date.parse(base.data.end));
      const { experimentId } = await mlflow.runInfo(run);
      return {
        run: mlflow.runUrl(experimentId, run),
        ...(base.registeredVersion ? { version: mlflow.versionUrl(modelName, base.registeredVersion) } : {}),
      };
    } catch (e) {
      logger.warn({ err: (e as Error).message, run }, 'retraining report not logged to MLflow');
      return {};
    }
  }
}

function readComparison(outDir: string): Comparison | null {
  const path = join(outDir, 'summary.json');
  if (!existsSync(path)) return null;
  const s = JSON.parse(readFileSync(path, 'utf8')) as {
    decision?: {
      promote: boolean;
      reason: string;
      candidate_auroc: number;
      production_auroc: number | null;
      gain: number | null;
    };
  };
  const d = s.decision;
  if (!d) return null;
  return {
    promote: d.promote,
    reason: d.reason,
    candidateAuroc: d.candidate_auroc,
    productionAuroc: d.production_auroc,
    gain: d.gain,
  };
}
