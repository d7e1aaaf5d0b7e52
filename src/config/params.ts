import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { AepredError } from '../shared/errors.js';
import { REPO_ROOT } from '../shared/paths.js';
import { SimulatorParamsSchema } from '../sim/params.js';

/**
 * params.yaml: every tunable number, validated when loaded; unknown keys are rejected so a typo
 * fails at boot. Sections are added here as the components that read them are built.
 */
const unit = z.number().gt(0).lt(1);

/** The PRD's MLP and its recipe (issue 6, ml/); read by Python, typed here so the file stays one contract. */
const TrainingSchema = z.strictObject({
  hidden_sizes: z.array(z.number().int().positive()).min(1),
  dropout: z.number().min(0).lt(1),
  learning_rate: z.number().positive(),
  batch_size: z.number().int().positive(),
  max_epochs: z.number().int().positive(),
  patience: z.number().int().positive(),
  class_weighting: z.enum(['balanced', 'none']),
  split: z
    .strictObject({ train: unit, val: unit, test: unit })
    .refine((s) => Math.abs(s.train + s.val + s.test - 1) <= 1e-9, 'train + val + test must be 1'),
  threshold_strategy: z.enum(['f1', 'utility']),
  calibration_bins: z.number().int().min(2),
  ig_steps: z.number().int().positive(),
  registered_model: z.string().min(1),
});

/** Validation gates (FR-5.1) and the promotion rule (FR-5.2). */
const GatesSchema = z.strictObject({
  min_auroc: z.number().min(0).max(1),
  max_ece: z.number().gt(0).max(1),
  max_subgroup_auroc_gap: z.number().gt(0).max(1),
  max_latency_ms: z.number().positive(),
  min_subgroup_positives: z.number().int().positive(),
  age_bins: z.array(z.number()).min(1),
  promotion_min_auroc_gain: z.number().min(-1).max(1), // < 0: canary drills (a worse candidate reaches staging)
});

/** Silver data-quality rules (issue 5): inclusive ranges per vital, in contracts/units.yaml units. */
const RangeSchema = z
  .strictObject({ min: z.number(), max: z.number() })
  .refine((r) => r.min <= r.max, 'min must not exceed max');
const SilverSchema = z.strictObject({ ranges: z.record(z.string(), RangeSchema) });

/** Snapshot scheduling and batch validation of the feature job (issue 5). */
const FeaturesSchema = z.strictObject({
  snapshot_cadence_hours: z.number().positive(),
  ks_alpha: z.number().gt(0).lt(1),
  ks_reference_rows: z.number().int().min(10),
});

const LabelsSchema = z.strictObject({ horizon_hours: z.number().positive() });

const IngestSchema = z
  .strictObject({
    batch_max_records: z.number().int().positive(),
    batch_max_seconds: z.number().positive(),
    pause_high_watermark_bytes: z.number().int().positive(),
    resume_low_watermark_bytes: z.number().int().positive(),
    max_inflight_batches: z.number().int().positive(),
    max_future_skew_seconds: z.number().nonnegative(),
    enrollment_negative_ttl_seconds: z.number().nonnegative(),
    session_timeout_ms: z.number().int().min(6000),
  })
  .refine((s) => s.resume_low_watermark_bytes < s.pause_high_watermark_bytes, {
    message: 'resume_low_watermark_bytes must be below pause_high_watermark_bytes',
  });
export type IngestParams = z.infer<typeof IngestSchema>;

/** Serving (issue 8, src/api/): limits the service enforces and the audit trail's batching. */
export const ApiSchema = z.strictObject({
  batch_max: z.number().int().min(1).max(10_000),
  body_limit_bytes: z.number().int().min(1024),
  max_future_skew_seconds: z.number().nonnegative(),
  request_timeout_seconds: z.number().positive(),
  rate_limit: z.strictObject({ max: z.number().int().positive(), window_seconds: z.number().positive() }),
  sse_buffer: z.number().int().min(1),
  sse_heartbeat_seconds: z.number().positive(),
  api_key_cache_seconds: z.number().nonnegative(),
  audit: z.strictObject({
    group_commit_max_rows: z.number().int().min(1),
    digest_interval_seconds: z.number().positive(),
  }),
});
export type ApiParams = z.infer<typeof ApiSchema>;

/** Patient actors, alerts and canary routing (issue 7, src/actors/, src/supervisors/). */
const ActorsSchema = z.strictObject({
  score_throttle_minutes: z.number().nonnegative(),
  passivate_idle_minutes: z.number().positive(),
  snapshot_interval_seconds: z.number().positive(),
  retention_slack_minutes: z.number().nonnegative(),
  restart: z.strictObject({
    initial_backoff_ms: z.number().int().nonnegative(),
    max_backoff_ms: z.number().int().positive(),
    factor: z.number().min(1),
    max_restarts: z.number().int().nonnegative(),
    within_seconds: z.number().positive(),
  }),
});
export type ActorsParams = z.infer<typeof ActorsSchema>;
const AlertsSchema = z
  .strictObject({
    watch_threshold: unit,
    high_threshold: unit,
    hysteresis: z.number().min(0).lt(1),
    cooldown_minutes: z.number().nonnegative(),
    top_risk_factors: z.number().int().min(1),
  })
  .refine((a) => a.watch_threshold < a.high_threshold, 'watch_threshold must be below high_threshold')
  .refine((a) => a.hysteresis < a.watch_threshold, 'hysteresis must be below watch_threshold');
export type AlertsParams = z.infer<typeof AlertsSchema>;
const CanarySchema = z.strictObject({ share: z.number().min(0).max(1) });
export type CanaryParams = z.infer<typeof CanarySchema>;

// The reproducible training pipeline and retention (issue 10, docs/pipelines.md).
/**
 * A point in time that means the same at every trial site: seconds and `Z` or an offset (a naive or
 * date-only time is ambiguous). ml/params.py enforces the same pattern (ISO_INSTANT_PATTERN).
 */
const isoInstant = z.iso.datetime({
  offset: true,
  error:
    "must be an ISO 8601 date-time with seconds and Z or a UTC offset, e.g. '2024-01-01T00:00:00+00:00' " +
    '(a naive or date-only time is ambiguous across trial sites)',
});
const PipelineSchema = z
  .strictObject({
    start: isoInstant,
    end: isoInstant,
    source: z.string().min(1),
    simulate: z.strictObject({
      patients: z.number().int().positive(),
      days: z.number().int().positive(),
      seed: z.number().int().nonnegative(),
    }),
    schedule_cron: z.string().regex(/^\S+( \S+){5}$/, 'six cron fields, seconds first'),
    schedule_timezone: z.string().min(1),
    schedule_max_concurrency: z.number().int().positive(),
    schedule_catchup: z.boolean(),
    training_days: z.number().int().positive(),
  })
  .refine((p) => Date.parse(p.start) < Date.parse(p.end), 'pipeline.start must be before pipeline.end');
export type PipelineParams = z.infer<typeof PipelineSchema>;
const RetentionSchema = z.strictObject({
  raw_days: z.number().int().positive(),
  models_days: z.number().int().positive(),
});
export type RetentionParams = z.infer<typeof RetentionSchema>;

/** Monitoring, decay rules and alert thresholds (issue 9, src/monitoring/, ops/prometheus/). */
const MonitoringSchema = z.strictObject({
  check_interval_hours: z.number().positive(),
  performance_window_days: z.number().positive(),
  drift_window_hours: z.number().positive(),
  bucket_minutes: z.number().int().positive(),
  auroc_threshold: unit,
  consecutive_checks: z.number().int().min(1),
  auroc_max_drop: z.number().positive().lt(1).nullable().default(null),
  min_labelled: z.number().int().nonnegative(),
  min_positives: z.number().int().nonnegative().default(10),
  label_grace_hours: z.number().nonnegative().default(24),
  ks_threshold: unit,
  max_drifted_features: z.number().int().nonnegative(),
  drift_rule_exclude: z.array(z.string().min(1)).default([]),
  segment_by: z.literal('site_id').nullable().default(null),
  segment_min_patients: z.number().int().min(1).default(10),
  segment_ks_threshold: unit.default(0.25),
  segment_max_drifted_features: z.number().int().nonnegative().default(10),
  segment_bucket_minutes: z.number().int().positive().default(60),
  cooldown_hours: z.number().nonnegative(),
  psi_bins: z.number().int().min(2),
  reference_bins: z.number().int().min(2),
  alert_auroc_critical: unit,
  alert_auroc_warning: unit,
  alert_drifted_features: z.number().int().nonnegative(),
  alert_p99_latency_ms: z.number().positive(),
  alert_error_rate: unit,
});
export type MonitoringParams = z.infer<typeof MonitoringSchema>;

/** The retraining run and the canary verdict (issue 9, src/retrain/, docs/retraining.md). */
const RetrainingSchema = z.strictObject({
  feature_cadence_hours: z.number().positive(),
  max_epochs: z.number().int().positive().nullable().default(null), // null or absent: training.max_epochs
  canary_hours: z.number().positive(),
  canary_min_labelled: z.number().int().nonnegative(),
  auroc_tolerance: z.number().min(0).lt(1),
  ece_tolerance: z.number().min(0).lt(1),
  error_rate_tolerance: z.number().min(0).lt(1),
  lineage_repo: z.string().min(1),
  kubeflow_endpoint: z.string(),
  dvc_stages: z.array(z.string().min(1)),
});
export type RetrainingParams = z.infer<typeof RetrainingSchema>;

export const ParamsSchema = z.strictObject({
  seed: z.number().int().nonnegative(),
  training: TrainingSchema,
  gates: GatesSchema,
  silver: SilverSchema,
  features: FeaturesSchema,
  labels: LabelsSchema,
  ingest: IngestSchema,
  simulator: SimulatorParamsSchema,
  api: ApiSchema,
  actors: ActorsSchema,
  alerts: AlertsSchema,
  canary: CanarySchema,
  pipeline: PipelineSchema,
  retention: RetentionSchema,
  monitoring: MonitoringSchema,
  retraining: RetrainingSchema,
});

export type Params = z.infer<typeof ParamsSchema>;

export function paramsPath(): string {
  return process.env.AEPRED_PARAMS ?? resolve(REPO_ROOT, 'params.yaml');
}

export function loadParams(path = paramsPath()): Params {
  let raw: unknown;
  try {
    raw = parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new AepredError('AEP_PARAMS_UNREADABLE', `cannot read ${path}: ${(e as Error).message}`, {
      kind: 'config',
    });
  }
  const parsed = ParamsSchema.safeParse(raw);
  if (!parsed.success) {
    const detail = parsed.error.issues
      .map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('\n');
    throw new AepredError('AEP_PARAMS_INVALID', `invalid parameters in ${path}`, { kind: 'config', detail });
  }
  return parsed.data;
}
