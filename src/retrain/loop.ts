/**
 * The closed loop composed (issue 9): DriftSupervisor (decay rules on the injected clock) ->
 * TrainingSupervisor -> RetrainingRunner (local pipeline, MLflow, lineage) -> CanaryController
 * (ModelSupervisor canary, CanaryJudge) -> promote or roll back, each step in the metrics, the
 * notices (log, audit, webhook) and MLflow. The integration test and the demo build it here.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AuditLog } from '../audit/log.js';
import type { Params } from '../config/params.js';
import { defaultFeatureSet } from '../features/definition.js';
import { decayRuleParams, driftWindowOptions, performanceWindowOptions } from '../monitoring/config.js';
import { type TrainingReference, TrainingReferenceSchema } from '../monitoring/drift.js';
import { registerMonitoringMetrics } from '../monitoring/metrics.js';
import { validateDecayParams } from '../monitoring/rules.js';
import { MlflowClient, MlflowRegistryReader } from '../registry/mlflow.js';
import { type Clock, SimulatedClock } from '../supervisors/clock.js';
import { DriftSupervisor } from '../supervisors/drift/runtime.js';
import { ModelSupervisor } from '../supervisors/model/actor.js';
import { TrainingSupervisor } from '../supervisors/training/runtime.js';
import { CanaryController, type CanaryResult } from './canary.js';
import { CanaryJudge } from './judge.js';
import { LineageRepo } from './lineage.js';
import { MlflowWriter } from './mlflow.js';
import { LoopNotifier } from './notify.js';
import {
  type ComparisonHoldout,
  KubeflowPipeline,
  LocalPipeline,
  type RetrainDrill,
  type TrainingPipeline,
} from './pipeline.js';
import { type RetrainingReport, RetrainingRunner } from './runner.js';

export interface ClosedLoopOptions {
  readonly params: Params;
  readonly paramsPath: string;
  readonly repoRoot: string;
  readonly python: string;
  readonly lake: string;
  readonly trackingUri: string;
  /** Overrides params retraining.lineage_repo (tests: a temporary repository). */
  readonly lineageRepo?: string;
  readonly workDir: string;
  readonly logger: Logger;
  readonly registry: Registry;
  /** Trial start of the default SimulatedClock (ignored with `clock`). */
  readonly start: number;
  /** The clock of the supervisors (the service: its SystemClock); default a SimulatedClock at `start`. */
  readonly clock?: Clock;
  /** The ModelSupervisor whose staging/canary/production the loop moves (the service's own). */
  readonly models?: ModelSupervisor;
  readonly wall: () => number;
  readonly audit?: AuditLog;
  readonly webhookUrl?: string;
  /** Compare candidate and production on a recent hold-out (pipeline.ts); absent: ml train's split. */
  readonly comparison?: Omit<ComparisonHoldout, 'labelHours'>;
  /** Where the pipeline's jobs read enrollment (LocalPipelineOptions.enrollment; default environment). */
  readonly enrollment?: 'environment' | 'lake';
  /**
   * Trial hours an automatic retraining waits after its trigger for labelled data (TrainingSupervisor
   * dataWaitMs; default 0). The scenario waits `labels.horizon_hours` + the comparison's hours, so
   * the comparison day is the first day after the trigger.
   */
  readonly dataWaitHours?: number;
  /** Rollback drill only (LocalPipelineOptions.drill): every candidate of this loop is trained to be worse. */
  readonly drill?: RetrainDrill;
}

const HOUR = 3_600_000;

export class ClosedLoop {
  readonly clock: Clock;
  readonly #simulated: SimulatedClock | undefined;
  readonly models: ModelSupervisor;
  readonly notifier: LoopNotifier;
  readonly writer: MlflowWriter;
  readonly reader: MlflowRegistryReader;
  readonly runner: RetrainingRunner;
  readonly canary: CanaryController;
  readonly training: TrainingSupervisor;
  readonly modelName: string;
  readonly pipeline: TrainingPipeline;
  readonly #o: ClosedLoopOptions;
  #drift: DriftSupervisor | undefined;
  readonly #runs: Counter<'reason' | 'outcome'>;
  readonly #verdicts: Counter<'decision'>;
  readonly #duration: Gauge;
  readonly #share: Gauge;

  constructor(o: ClosedLoopOptions) {
    this.#o = o;
    const p = o.params;
    this.modelName = p.training.registered_model;
    this.#simulated = o.clock === undefined ? new SimulatedClock(o.start) : undefined;
    this.clock = o.clock ?? (this.#simulated as SimulatedClock);
    this.models =
      o.models ??
      new ModelSupervisor({
        featureSetHash: defaultFeatureSet().hash,
        canaryShare: 0,
        logger: o.logger,
      });
    this.notifier = new LoopNotifier({
      logger: o.logger,
      ...(o.audit ? { audit: o.audit } : {}),
      ...(o.webhookUrl ? { webhookUrl: o.webhookUrl } : {}),
    });
    this.writer = new MlflowWriter(o.trackingUri);
    this.reader = new MlflowRegistryReader(o.trackingUri);
    const r = p.retraining;
    const pipeline: TrainingPipeline = r.kubeflow_endpoint
      ? new KubeflowPipeline(r.kubeflow_endpoint)
      : new LocalPipeline({
          repoRoot: o.repoRoot,
          python: o.python,
          lake: o.lake,
          paramsPath: o.paramsPath,
          cadenceHours: r.feature_cadence_hours,
          maxEpochs: r.max_epochs,
          seed: p.seed,
          ...(o.enrollment ? { enrollment: o.enrollment } : {}),
          ...(o.drill ? { drill: o.drill } : {}),
          ...(o.comparison ? { comparison: { ...o.comparison, labelHours: p.labels.horizon_hours } } : {}),
          // MLflow's client telemetry thread sets and unsets an environment variable while
          // requests iterates os.environ: `ml train` failed once with KeyError
          // '_MLFLOW_TELEMETRY_SESSION_ID' (the bootstrap of a closed-loop test run); off, as the
          // stack's MLflow server already has it
          env: {
            ...process.env,
            MLFLOW_TRACKING_URI: o.trackingUri,
            MLFLOW_DISABLE_TELEMETRY: 'true',
            DO_NOT_TRACK: 'true',
          },
          wall: o.wall,
        });
    this.pipeline = pipeline;
    this.runner = new RetrainingRunner({
      pipeline,
      notifier: this.notifier,
      lineage: new LineageRepo(o.lineageRepo ?? join(o.repoRoot, r.lineage_repo)),
      modelName: this.modelName,
      mlflow: this.writer,
      dvc: { stages: r.dvc_stages, repoRoot: o.repoRoot, binDir: join(o.repoRoot, '.venv', 'bin') },
      workDir: o.workDir,
      logger: o.logger,
      wall: o.wall,
    });
    this.#runs = new Counter({
      name: 'aepred_retraining_runs_total',
      help: 'Retraining runs by reason and outcome (staging, rejected, failed)',
      labelNames: ['reason', 'outcome'],
      registers: [o.registry],
    });
    this.#duration = new Gauge({
      name: 'aepred_retraining_last_duration_seconds',
      help: 'Wall time of the last retraining run',
      registers: [o.registry],
    });
    this.#verdicts = new Counter({
      name: 'aepred_canary_verdicts_total',
      help: 'Canary verdicts (promote, rollback)',
      labelNames: ['decision'],
      registers: [o.registry],
    });
    this.#share = new Gauge({
      name: 'aepred_canary_share',
      help: 'Share of patients routed to the staging model',
      registers: [o.registry],
      collect: () => this.#share.set(this.models.canaryShare),
    });
    this.canary = new CanaryController({
      models: this.models,
      clock: this.clock,
      judge: new CanaryJudge({
        minLabelled: r.canary_min_labelled,
        aurocTolerance: r.auroc_tolerance,
        eceTolerance: r.ece_tolerance,
        errorRateTolerance: r.error_rate_tolerance,
      }),
      share: p.canary.share,
      durationMs: r.canary_hours * HOUR,
      verdictDelayMs: p.labels.horizon_hours * HOUR,
      performance: performanceWindowOptions(p),
      notifier: this.notifier,
      logger: o.logger,
      registry: { writer: this.writer, name: this.modelName },
      onVerdict: (v) => this.#onVerdict(v),
    });
    const training = new TrainingSupervisor({
      runner: this.runner,
      canary: this.canary,
      clock: this.clock,
      windowDays: p.pipeline.training_days,
      ...(o.dataWaitHours ? { dataWaitMs: o.dataWaitHours * HOUR } : {}),
      logger: o.logger,
    });
    this.training = training;
    const originalRun = this.runner.run.bind(this.runner);
    // count runs in the metrics without the runner knowing about Prometheus
    this.runner.run = async (req) => {
      const rep = await originalRun(req);
      this.#runs.inc({ reason: rep.reason, outcome: rep.outcome });
      this.#duration.set(rep.durationSeconds);
      return rep;
    };
  }

  /** The SimulatedClock a replay drives (only when no clock was given). */
  get trialClock(): SimulatedClock {
    if (this.#simulated === undefined)
      throw new Error('this loop runs on an injected clock, not a simulated one');
    return this.#simulated;
  }

  get drift(): DriftSupervisor {
    if (!this.#drift) throw new Error('monitoring not started');
    return this.#drift;
  }

  async #onVerdict(v: CanaryResult): Promise<void> {
    this.#verdicts.inc({ decision: v.verdict.decision });
    // the new production is watched against its own training reference
    // (and held against its own held-out AUROC by the relative decay rule)
    if (v.verdict.decision === 'promote')
      this.#drift?.modelChanged(await this.reference(v.version), await this.baselineAuroc(v.version));
  }

  /**
   * A registered version's held-out AUROC recorded at training (its MLflow run's `test_auroc`): the
   * baseline of the relative decay rule (monitoring.auroc_max_drop). Null when the run has none.
   */
  async baselineAuroc(version: string): Promise<number | null> {
    const mv = await this.writer.getVersion(this.modelName, version);
    const run = await new MlflowClient(this.#o.trackingUri).getRun(mv.runId);
    const m = run.data.metrics?.find((x) => x.key === 'test_auroc');
    return m !== undefined && Number.isFinite(m.value) ? m.value : null;
  }

  /** The drift reference logged beside a registered version's ONNX file. */
  async reference(version: string): Promise<TrainingReference> {
    const mv = await this.writer.getVersion(this.modelName, version);
    const bytes = await this.reader.runArtifact(mv.runId, 'model/drift_reference.json');
    return TrainingReferenceSchema.parse(JSON.parse(Buffer.from(bytes).toString('utf8')));
  }

  /**
   * The first production model: a manual retraining over `window`, promoted without a canary (there
   * is nothing to compare with), loaded into the ModelSupervisor.
   */
  async bootstrap(window: { start: number; end: number }): Promise<RetrainingReport> {
    const rep = await this.runner.run({ reason: 'manual', incident: 'bootstrap', window, at: window.end });
    if (!rep.registeredVersion)
      throw new Error(`bootstrap model not registered: ${rep.comparison?.reason ?? rep.error}`);
    await this.writer.setAlias(this.modelName, 'production', rep.registeredVersion);
    await this.writer.deleteAlias(this.modelName, 'staging');
    const mv = await this.writer.getVersion(this.modelName, rep.registeredVersion);
    await this.models.load('production', await this.reader.runArtifact(mv.runId, 'model/model.onnx'));
    return rep;
  }

  /** Starts the DriftSupervisor against the production version's training reference. */
  async startMonitoring(productionVersion: string): Promise<void> {
    const p = this.#o.params;
    this.#drift = new DriftSupervisor({
      clock: this.clock,
      rules: validateDecayParams({
        ...decayRuleParams(p),
        aurocMaxDrop: p.monitoring.auroc_max_drop ?? null,
      }),
      baselineAuroc: await this.baselineAuroc(productionVersion),
      performance: performanceWindowOptions(p),
      drift: driftWindowOptions(p),
      segmentBucketMs: p.monitoring.segment_bucket_minutes * 60_000,
      reference: await this.reference(productionVersion),
      metrics: registerMonitoringMetrics(this.#o.registry),
      logger: this.#o.logger,
      onDecision: (d) => this.training.handle(d),
    });
    this.#drift.start();
  }
}
