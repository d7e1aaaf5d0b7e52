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
}

export interface TrainingPipeline {
  readonly kind: 'local' | 'kubeflow';
  run(input: { window: DataWindow; runName: string; outDir: string }): Promise<PipelineResult>;
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
  /** Environment for the jobs (MLFLOW_TRACKING_URI, AEPRED_ENROLLMENT_JDBC_URL ...). */
  readonly env: NodeJS.ProcessEnv;
  /** Spark master for silver and features (default the jobs' local[*]). */
  readonly sparkMaster?: string;
  readonly wall: () => number;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

export class LocalPipeline implements TrainingPipeline {
  readonly kind = 'local' as const;
  readonly #o: LocalPipelineOptions;

  constructor(o: LocalPipelineOptions) {
    this.#o = o;
  }

  async #step(steps: StepTiming[], step: string, args: string[]): Promise<Record<string, unknown>> {
    const o = this.#o;
    const t0 = o.wall();
    const { stdout } = await runProcess(step, o.python, args, { cwd: o.repoRoot, env: o.env });
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

  async run(input: { window: DataWindow; runName: string; outDir: string }): Promise<PipelineResult> {
    const o = this.#o;
    const since = iso(input.window.start);
    const until = iso(input.window.end);
    const steps = await this.prepare(input.window);
    const store = join(o.lake, 'features');
    const trainArgs = [
      '-m',
      'ml',
      'train',
      '--feature-store',
      store,
      '--start',
      since,
      '--end',
      until,
      '--out',
      input.outDir,
      '--run-name',
      input.runName,
      '--params',
      o.paramsPath,
      '--register',
      '--device',
      'cpu',
      ...(o.maxEpochs === null ? [] : ['--epochs', String(o.maxEpochs)]),
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
        '--feature-store',
        store,
        '--start',
        since,
        '--end',
        until,
        '--params',
        o.paramsPath,
        '--seed',
        String(train.seed),
        '--run-id',
        train.run_id,
      ]);
      driftReference = typeof ref.path === 'string' ? ref.path : null;
    }
    return { steps, train, driftReference, outDir: input.outDir };
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
