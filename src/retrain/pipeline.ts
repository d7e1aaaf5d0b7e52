/**
 * The training pipeline of a retraining run, as a small protocol (`TrainingPipeline.run`). The local
 * implementation runs the project's own jobs as subprocesses, in the order the Kubeflow pipeline
 * (`pipelines/kubeflow/pipeline.py`) runs them: silver -> point-in-time features -> `ml train`
 * with fresh weights (it evaluates on the held-out patients, applies the gates, compares with
 * `production` (>= 2 % AUROC) and registers the candidate as `staging`) -> the drift reference of the
 * new model, logged beside its ONNX file.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { AepredError } from '../shared/errors.js';
import { lastJsonLine, runProcess } from './process.js';

export interface DataWindow {
  /** Trial time, ms since the epoch: [start, end). */
  readonly start: number;
  readonly end: number;
}

export interface StepTiming {
  readonly step: string;
  readonly seconds: number;
  readonly detail?: string;
}

/** What `python -m ml train` printed last (ml/train.py final_line). */
export const TrainOutcomeSchema = z.looseObject({
  test_auroc: z.number().nullable(),
  test_ece: z.number().nullable(),
  test_auprc: z.number().optional(),
  gates_passed: z.boolean(),
  gate_reasons: z.array(z.string()),
  run_id: z.string().nullable(),
  decision: z.string().nullable(),
  registered_version: z.string().nullable(),
  seed: z.number(),
  rows: z.record(z.string(), z.number()),
  epochs_run: z.number(),
  seconds: z.number(),
});
export type TrainOutcome = z.infer<typeof TrainOutcomeSchema>;

export interface PipelineResult {
  readonly steps: readonly StepTiming[];
  readonly train: TrainOutcome;
  readonly driftReference: string | null;
  readonly outDir: string;
  /** The comparison hold-out's sizes (rows, positives, patients of each frame), when one was made. */
  readonly holdout?: Record<string, unknown> | null;
}

export interface TrainingPipeline {
  readonly kind: 'local' | 'kubeflow';
  run(input: PipelineInput): Promise<PipelineResult>;
}

export interface PipelineInput {
  readonly window: DataWindow;
  readonly runName: string;
  readonly outDir: string;
  /**
   * Whether a production model exists to compare the candidate with (default true). Without one
   * (the first model) the comparison hold-out is not made: there is nothing to compare, and holding
   * 30 % of the patients out only makes the model weaker (measured on the closed-loop trial: its
   * rolling AUROC fell to 0.54 on undrifted days, docs/retraining.md); `ml train` evaluates it on
   * its own patient split.
   */
  readonly hasProduction?: boolean;
  /**
   * Where the per-site drift references start (default: the window's start). A drift-triggered
   * run passes its trigger: the model is promoted into the drifted regime, and a site reference
   * half from before the drift kept the drifted site "drifting" against the new model (measured on
   * site-drift: a second drift request two days after the promotion; docs/retraining.md).
   */
  readonly segmentsFrom?: number;
}

export interface LocalPipelineOptions {
  readonly repoRoot: string;
  /** The Python with the project installed (.venv/bin/python). */
  readonly python: string;
  /** Lake root holding bronze/ and enrollment/ (or the JDBC URL below); silver and features are written there. */
  readonly lake: string;
  readonly paramsPath: string;
  readonly cadenceHours: number;
  readonly maxEpochs: number | null;
  /**
   * Rollback drill only, never a default: `inverted-labels` trains (and calibrates) the candidate on
   * 1 - label (`ml train --drill-inverted-labels`; its test set keeps the true labels), so it is
   * worse than any production above chance by construction (the closed-loop scenario's run 2).
   */
  readonly drill?: RetrainDrill;
  /** Environment for the jobs (MLFLOW_TRACKING_URI, AEPRED_ENROLLMENT_JDBC_URL ...). */
  readonly env: NodeJS.ProcessEnv;
  /**
   * Where silver and features read the enrollment table: `environment` (default) as the jobs do by
   * themselves (Postgres when AEPRED_ENROLLMENT_JDBC_URL is set, else `<lake>/enrollment`); `lake`:
   * always the lake's own `enrollment/` (AEPRED_ENROLLMENT_JDBC_URL is removed from the jobs'
   * environment). A simulated lake carries its own enrollment; `make demo` exports the JDBC URL for
   * its steps 4-5, and step 7's jobs inherited it: they joined the closed-loop trial's events to the
   * stack's AEPSIM01 enrollment rows (the same patient ids from other simulated trials, enrolled a
   * day earlier for 92 of the 120 patients), a different trial than the one simulated
   * (docs/retraining.md, "Why make demo told a different story").
   */
  readonly enrollment?: 'environment' | 'lake';
  /** Spark master for silver and features (default the jobs' local[*]). */
  readonly sparkMaster?: string;
  /**
   * The candidate-vs-production comparison set. Absent: `ml train`'s own patient split of the whole
   * window (mostly data from before the change that triggered the run, and partly data production
   * was trained on). Present: a share of the window's patients is held out of training, and their
   * snapshots of the window's last `hours` are the test set that both models are scored on: recent
   * (after the change, when the trigger came at least `hours` after it), seen by neither model.
   * The training frame also ends at `end - labelHours` (the window's censored tail is left out).
   */
  readonly comparison?: ComparisonHoldout;
  /** Seed of the hold-out's patient split (params.yaml seed). */
  readonly seed?: number;
  readonly wall: () => number;
}

export interface ComparisonHoldout {
  /** The test set's time span: the last `hours` (> 0) of labelled data in the window. */
  readonly hours: number;
  /**
   * Labels arrive this long after a snapshot (labels.horizon_hours): the window's last
   * `labelHours` hold only the positives seen so far (negatives are not yet known), so the test set
   * ends there: [end - labelHours - hours, end - labelHours).
   */
  readonly labelHours: number;
  /** Share of the window's patients held out of training (0 < share < 1), stratified by label. */
  readonly share: number;
}

/**
 * Writes `<out>/train/train.parquet` (+ feature_names.json: the feature store's names and hash) with
 * the training patients' rows, and `<out>/test/test.parquet` with the held-out patients' rows of the
 * last hours; prints the row and positive counts. argv: store start end test_start test_end share seed out.
 */
const HOLDOUT = `
import json, sys
from pathlib import Path
import numpy as np, pandas as pd
from ml.data import load_feature_store, split_by_patient
store, start, end, test_start, test_end, share, seed, out = sys.argv[1:9]
frame, fs = load_feature_store(Path(store), start, end)
pid = frame["patient_id"].to_numpy()
y = frame["label"].to_numpy()
s = float(share)
split = split_by_patient(pid, y, (1 - s, 0.0, s), int(seed))
ts = frame["snapshot_time"]
recent = ((ts >= pd.Timestamp(test_start)) & (ts < pd.Timestamp(test_end))).to_numpy()
# training rows end where labels are complete too: a snapshot of the window's last labelHours is
# labelled only if its event already happened (negatives are not yet known), so that tail is almost
# all positive; trained on, it inflated the candidate's probabilities (ECE 0.096 vs 0.006 without it
# on the same test day; canary rolled back on calibration, docs/retraining.md)
labelled = (ts < pd.Timestamp(test_end)).to_numpy()
train, test = frame[split.train & labelled], frame[split.test & recent]
for name, f in (("train", train), ("test", test)):
    if f.empty or f["label"].nunique() < 2:
        raise SystemExit(f"comparison hold-out: the {name} frame has {len(f)} rows and {int(f['label'].sum())} positives; it needs both classes")
o = Path(out)
(o / "train").mkdir(parents=True, exist_ok=True)
(o / "test").mkdir(parents=True, exist_ok=True)
train.to_parquet(o / "train" / "train.parquet", index=False)
test.to_parquet(o / "test" / "test.parquet", index=False)
(o / "train" / "feature_names.json").write_text(json.dumps(
    {"feature_names": list(fs.names), "feature_set_hash": fs.hash, "feature_set_version": fs.version}))
print(json.dumps({"train_rows": len(train), "train_positives": int(train["label"].sum()),
  "train_patients": int(train["patient_id"].nunique()), "test_rows": len(test),
  "test_positives": int(test["label"].sum()), "test_patients": int(test["patient_id"].nunique()),
  "test_start": test_start, "test_end": test_end}))
`;

/** A rollback drill's deliberately bad training (LocalPipelineOptions.drill). */
export type RetrainDrill = 'inverted-labels';

/** `ml train`'s options from the pipeline's: the epoch override and the drill flag (if any). */
export function trainOptionArgs(o: { maxEpochs: number | null; drill?: RetrainDrill | undefined }): string[] {
  return [
    ...(o.maxEpochs === null ? [] : ['--epochs', String(o.maxEpochs)]),
    ...(o.drill === 'inverted-labels' ? ['--drill-inverted-labels'] : []),
  ];
}

/** The jobs' environment for an enrollment source (LocalPipelineOptions.enrollment). */
export function jobEnvironment(
  env: NodeJS.ProcessEnv,
  enrollment: 'environment' | 'lake',
): NodeJS.ProcessEnv {
  if (enrollment === 'environment') return env;
  const { AEPRED_ENROLLMENT_JDBC_URL: _dropped, ...rest } = env;
  return rest;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

export class LocalPipeline implements TrainingPipeline {
  readonly kind = 'local' as const;
  readonly #o: LocalPipelineOptions;
  readonly #env: NodeJS.ProcessEnv;

  constructor(o: LocalPipelineOptions) {
    this.#o = o;
    this.#env = jobEnvironment(o.env, o.enrollment ?? 'environment');
  }

  async #step(steps: StepTiming[], step: string, args: string[]): Promise<Record<string, unknown>> {
    const o = this.#o;
    const t0 = o.wall();
    const { stdout } = await runProcess(step, o.python, args, { cwd: o.repoRoot, env: this.#env });
    const out = lastJsonLine(step, stdout);
    steps.push({ step, seconds: (o.wall() - t0) / 1000 });
    return out;
  }

  /**
   * Silver then point-in-time features over `window` (each rewrites the date partitions it covers).
   * The retraining run's first two steps; the closed-loop scenario also runs it once over the whole
   * trial, standing in for the streaming feature path that fills the store in service.
   */
  async prepare(window: DataWindow, steps: StepTiming[] = []): Promise<StepTiming[]> {
    const o = this.#o;
    const since = iso(window.start);
    const until = iso(window.end);
    const common = [
      '--lake',
      o.lake,
      '--since',
      since,
      '--until',
      until,
      '--params',
      o.paramsPath,
      '--no-mlflow',
    ];
    const master = o.sparkMaster ? ['--master', o.sparkMaster] : [];
    await this.#step(steps, 'silver', ['-m', 'pipelines', 'silver', ...common, '--now', until, ...master]);
    await this.#step(steps, 'features', [
      '-m',
      'pipelines',
      'features',
      ...common,
      '--cadence-hours',
      String(o.cadenceHours),
      ...master,
    ]);
    return steps;
  }

  async run(input: PipelineInput): Promise<PipelineResult> {
    const o = this.#o;
    const since = iso(input.window.start);
    const until = iso(input.window.end);
    const steps = await this.prepare(input.window);
    const store = join(o.lake, 'features');
    // the training data: the feature store's window, or the hold-out's training frame
    let source = ['--feature-store', store, '--start', since, '--end', until];
    let testData: string[] = [];
    let holdout: Record<string, unknown> | null = null;
    if (o.comparison && input.hasProduction !== false) {
      const c = o.comparison;
      const dir = join(input.outDir, 'comparison');
      const testEndMs = input.window.end - c.labelHours * 3_600_000;
      const testStart = iso(Math.max(input.window.start, testEndMs - c.hours * 3_600_000));
      holdout = await this.#step(steps, 'comparison-holdout', [
        '-c',
        HOLDOUT,
        store,
        since,
        until,
        testStart,
        iso(testEndMs),
        String(c.share),
        String(o.seed ?? 42),
        dir,
      ]);
      source = ['--data', join(dir, 'train', 'train.parquet')];
      testData = ['--test-data', join(dir, 'test', 'test.parquet')];
    }
    const trainArgs = [
      '-m',
      'ml',
      'train',
      ...source,
      ...testData,
      '--out',
      input.outDir,
      '--run-name',
      input.runName,
      '--params',
      o.paramsPath,
      '--register',
      '--device',
      'cpu',
      // one torch thread and deterministic kernels: the same data gives the same model whatever
      // else runs on the machine (ml/recipe.py; one thread is also its CPU default)
      '--threads',
      '1',
      '--deterministic',
      ...trainOptionArgs(o),
    ];
    const parsed = TrainOutcomeSchema.safeParse(
      await this.#step(steps, 'train+evaluate+compare+register', trainArgs),
    );
    if (!parsed.success)
      throw new AepredError('AEP_RETRAIN_STEP', 'ml train printed an unexpected summary', {
        detail: parsed.error.message,
      });
    const train = parsed.data;
    let driftReference: string | null = null;
    if (train.run_id) {
      const ref = await this.#step(steps, 'drift-reference', [
        '-m',
        'ml.drift_reference',
        '--model-dir',
        join(input.outDir, 'model'),
        ...source,
        '--params',
        o.paramsPath,
        '--seed',
        String(train.seed),
        '--run-id',
        train.run_id,
        // per-site references (monitoring.segment_by): every snapshot of the window's feature
        // store, sites from the same enrollment source as silver and features (this job's env)
        '--lake',
        o.lake,
        '--start',
        since,
        '--end',
        until,
        ...(input.segmentsFrom === undefined ? [] : ['--segments-start', iso(input.segmentsFrom)]),
      ]);
      driftReference = typeof ref.path === 'string' ? ref.path : null;
    }
    return { steps, train, driftReference, outDir: input.outDir, holdout };
  }
}

/**
 * Kubeflow: the same steps compiled as `pipelines/kubeflow/pipeline.yaml` (docs/pipelines.md). A
 * run would be submitted to the configured KFP endpoint with the window as parameters; no KFP server
 * exists in this environment, so this refuses clearly instead of pretending.
 */
export class KubeflowPipeline implements TrainingPipeline {
  readonly kind = 'kubeflow' as const;
  constructor(readonly endpoint: string) {}
  run(): Promise<PipelineResult> {
    return Promise.reject(
      new AepredError(
        'AEP_KFP_UNAVAILABLE',
        `Kubeflow endpoint ${this.endpoint} is configured, but submitting runs is not wired in this build; ` +
          'submit pipelines/kubeflow/pipeline.yaml with the window as parameters, or clear retraining.kubeflow_endpoint to run locally',
        { kind: 'config' },
      ),
    );
  }
}
