"""params.yaml, read by Python with the same strictness as src/config/params.ts.

Unknown keys are rejected (``extra="forbid"``) so a typo fails before any work starts.
Sections are added here and in the TypeScript schema together, as the components that read them
are built.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from ml.paths import REPO_ROOT

# zod 4's `z.iso.datetime({ offset: true })` (src/config/params.ts), character for character: a
# date-time with seconds, optional fraction, and `Z` or a +hh:mm/-hh:mm offset. The JSON Schema of both
# sides carries it, so tests/python/test_params_parity.py fails if the two stop matching.
ISO_INSTANT_PATTERN = (
    r"^(?:(?:\d\d[2468][048]|\d\d[13579][26]|\d\d0[48]|[02468][048]00|[13579][26]00)-02-29|\d{4}-"
    r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|(?:02)-"
    r"(?:0[1-9]|1\d|2[0-8])))T(?:(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?"
    r"(?:Z|([+-](?:[01]\d|2[0-3]):[0-5]\d)))$"
)
_ISO_INSTANT = re.compile(ISO_INSTANT_PATTERN, re.ASCII)  # JS \d is ASCII only
ISO_INSTANT_RULE = (
    "must be an ISO 8601 date-time with seconds and Z or a UTC offset, e.g. '2024-01-01T00:00:00+00:00' "
    "(a naive or date-only time is ambiguous across trial sites)"
)


def _iso_instant(value: object) -> object:
    """A point in time that means the same at every site: the zod pattern, and an offset Python reads."""
    if isinstance(value, datetime | date):
        # PyYAML turns an unquoted timestamp into a datetime/date; zod's YAML reader keeps the text.
        raise ValueError(f"{ISO_INSTANT_RULE}, as a quoted string; got the unquoted YAML timestamp {value}")
    if not isinstance(value, str):
        return value  # the str validator names the wrong type
    if _ISO_INSTANT.fullmatch(value) is None or datetime.fromisoformat(value).tzinfo is None:
        raise ValueError(f"{ISO_INSTANT_RULE}; got {value!r}")
    return value


IsoInstant = Annotated[
    str,
    BeforeValidator(_iso_instant),
    Field(json_schema_extra={"format": "date-time", "pattern": ISO_INSTANT_PATTERN}),
]
NonEmptyStr = Annotated[str, Field(min_length=1)]


class Split(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    train: float = Field(gt=0, lt=1)
    val: float = Field(gt=0, lt=1)
    test: float = Field(gt=0, lt=1)

    @model_validator(mode="after")
    def _sums_to_one(self) -> Split:
        if abs(self.train + self.val + self.test - 1.0) > 1e-9:
            raise ValueError("train + val + test must be 1")
        return self


class Training(BaseModel):
    """The PRD's MLP and its recipe (issue 6, ml/)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hidden_sizes: tuple[Annotated[int, Field(gt=0)], ...] = Field(min_length=1)
    dropout: float = Field(ge=0, lt=1)
    learning_rate: float = Field(gt=0)
    batch_size: int = Field(ge=1)
    max_epochs: int = Field(ge=1)
    patience: int = Field(ge=1)
    class_weighting: Literal["balanced", "none"]
    split: Split
    threshold_strategy: Literal["f1", "utility"]
    calibration_bins: int = Field(ge=2)
    ig_steps: int = Field(ge=1)
    registered_model: str = Field(min_length=1)


class Gates(BaseModel):
    """Validation gates (FR-5.1) and the promotion rule (FR-5.2)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_auroc: float = Field(ge=0, le=1)
    max_ece: float = Field(gt=0, le=1)
    max_subgroup_auroc_gap: float = Field(gt=0, le=1)
    max_latency_ms: float = Field(gt=0)
    min_subgroup_positives: int = Field(ge=1)
    age_bins: tuple[float, ...] = Field(min_length=1)
    promotion_min_auroc_gain: float = Field(ge=-1, le=1)  # < 0: canary drills


class Range(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min: float
    max: float

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min > self.max:
            raise ValueError(f"min {self.min} exceeds max {self.max}")
        return self


class Silver(BaseModel):
    """Silver data-quality rules (issue 5): inclusive ranges per vital, in canonical units."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ranges: dict[str, Range]


class Features(BaseModel):
    """Snapshot scheduling and batch validation for the feature job (issue 5)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    snapshot_cadence_hours: float = Field(gt=0)
    ks_alpha: float = Field(gt=0, lt=1)
    ks_reference_rows: int = Field(ge=10)


class Labels(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    horizon_hours: float = Field(gt=0)


class Ingest(BaseModel):
    """Kafka -> bronze ingestion (src/ingest/, TypeScript); mirrored so the file validates here too."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_max_records: int = Field(ge=1)
    batch_max_seconds: float = Field(gt=0)
    pause_high_watermark_bytes: int = Field(ge=1)
    resume_low_watermark_bytes: int = Field(ge=1)
    max_inflight_batches: int = Field(ge=1)
    max_future_skew_seconds: float = Field(ge=0)
    enrollment_negative_ttl_seconds: float = Field(ge=0)
    session_timeout_ms: int = Field(ge=6000)


class RateLimit(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max: int = Field(ge=1)
    window_seconds: float = Field(gt=0)


class AuditParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    group_commit_max_rows: int = Field(ge=1)
    digest_interval_seconds: float = Field(gt=0)


class Api(BaseModel):
    """Serving (src/api/, TypeScript); mirrored so the file validates here too."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_max: int = Field(ge=1, le=10_000)
    body_limit_bytes: int = Field(ge=1024)
    max_future_skew_seconds: float = Field(ge=0)
    request_timeout_seconds: float = Field(gt=0)
    rate_limit: RateLimit
    sse_buffer: int = Field(ge=1)
    sse_heartbeat_seconds: float = Field(gt=0)
    api_key_cache_seconds: float = Field(ge=0)
    audit: AuditParams


class ActorRestart(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    initial_backoff_ms: int = Field(ge=0)
    max_backoff_ms: int = Field(ge=1)
    factor: float = Field(ge=1)
    max_restarts: int = Field(ge=0)
    within_seconds: float = Field(gt=0)


class Actors(BaseModel):
    """Patient actors (src/actors/, TypeScript); mirrored so the file validates here too."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    score_throttle_minutes: float = Field(ge=0)
    passivate_idle_minutes: float = Field(gt=0)
    snapshot_interval_seconds: float = Field(gt=0)
    retention_slack_minutes: float = Field(ge=0)
    restart: ActorRestart


class Alerts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    watch_threshold: float = Field(gt=0, lt=1)
    high_threshold: float = Field(gt=0, lt=1)
    hysteresis: float = Field(ge=0, lt=1)
    cooldown_minutes: float = Field(ge=0)
    top_risk_factors: int = Field(ge=1)

    @model_validator(mode="after")
    def _order(self) -> Alerts:
        if not self.watch_threshold < self.high_threshold:
            raise ValueError("watch_threshold must be below high_threshold")
        if not self.hysteresis < self.watch_threshold:
            raise ValueError("hysteresis must be below watch_threshold")
        return self


class Canary(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    share: float = Field(ge=0, le=1)


class Simulate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    patients: int = Field(gt=0)
    days: int = Field(gt=0)
    seed: int = Field(ge=0)


class Pipeline(BaseModel):
    """The reproducible training pipeline (issue 10): DVC stages and the Kubeflow schedule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: IsoInstant  # the DVC stages' data window [start, end), with Z or an offset
    end: IsoInstant
    source: str = Field(min_length=1)  # `simulate` or a lake path holding bronze/ and enrollment/
    simulate: Simulate
    schedule_cron: str = Field(pattern=r"^\S+( \S+){5}$")  # KFP cron: six fields, seconds first
    schedule_timezone: str = Field(min_length=1)  # the zone KFP's controller reads the cron in
    schedule_max_concurrency: int = Field(gt=0)
    schedule_catchup: bool
    training_days: int = Field(gt=0)

    @model_validator(mode="after")
    def _window(self) -> Pipeline:
        if datetime.fromisoformat(self.start) >= datetime.fromisoformat(self.end):
            raise ValueError(f"pipeline.start {self.start} must be before pipeline.end {self.end}")
        return self


class Retention(BaseModel):
    """PRD 4.5: raw data 7 years, models 2 years (S3 lifecycle rules and the local lake cleanup)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    raw_days: int = Field(gt=0)
    models_days: int = Field(gt=0)


class Monitoring(BaseModel):
    """Monitoring, decay rules and alert thresholds (issue 9); read by src/monitoring/."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    check_interval_hours: float = Field(gt=0)
    performance_window_days: float = Field(gt=0)
    drift_window_hours: float = Field(gt=0)
    bucket_minutes: int = Field(gt=0)
    auroc_threshold: float = Field(gt=0, lt=1)
    consecutive_checks: int = Field(ge=1)
    auroc_max_drop: float | None = Field(default=None, gt=0, lt=1)
    min_labelled: int = Field(ge=0)
    min_positives: int = Field(default=10, ge=0)
    label_grace_hours: float = Field(default=24, ge=0)
    ks_threshold: float = Field(gt=0, lt=1)
    max_drifted_features: int = Field(ge=0)
    drift_rule_exclude: tuple[NonEmptyStr, ...] = ()
    segment_by: Literal["site_id"] | None = None
    segment_min_patients: int = Field(default=10, ge=1)
    segment_ks_threshold: float = Field(default=0.25, gt=0, lt=1)
    segment_max_drifted_features: int = Field(default=10, ge=0)
    segment_bucket_minutes: int = Field(default=60, gt=0)
    cooldown_hours: float = Field(ge=0)
    psi_bins: int = Field(ge=2)
    reference_bins: int = Field(ge=2)
    alert_auroc_critical: float = Field(gt=0, lt=1)
    alert_auroc_warning: float = Field(gt=0, lt=1)
    alert_drifted_features: int = Field(ge=0)
    alert_p99_latency_ms: float = Field(gt=0)
    alert_error_rate: float = Field(gt=0, lt=1)


class Retraining(BaseModel):
    """The retraining run and the canary verdict (issue 9); read by src/retrain/."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    feature_cadence_hours: float = Field(gt=0)
    max_epochs: int | None = Field(default=None, gt=0)
    canary_hours: float = Field(gt=0)
    canary_min_labelled: int = Field(ge=0)
    auroc_tolerance: float = Field(ge=0, lt=1)
    ece_tolerance: float = Field(ge=0, lt=1)
    error_rate_tolerance: float = Field(ge=0, lt=1)
    lineage_repo: str = Field(min_length=1)
    kubeflow_endpoint: str
    dvc_stages: list[NonEmptyStr]


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = Field(ge=0)
    training: Training
    gates: Gates
    ingest: Ingest
    silver: Silver
    features: Features
    labels: Labels
    api: Api
    actors: Actors
    alerts: Alerts
    canary: Canary
    # Validated by src/config/params.ts (the simulator is TypeScript); Python only carries it.
    simulator: dict[str, Any]
    pipeline: Pipeline
    retention: Retention
    monitoring: Monitoring
    retraining: Retraining


class _ParamsLoader(yaml.SafeLoader):
    """PyYAML's safe loader without YAML 1.1 timestamps: an unquoted `2024-01-01T00:00:00Z` stays text,
    as it does for the TypeScript side's YAML 1.2 reader, so both validate the same string."""


_ParamsLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class ParamsError(ValueError):
    """params.yaml is unreadable or invalid; the message names the file and every bad key."""


def load_params(path: Path | None = None) -> Params:
    path = path or REPO_ROOT / "params.yaml"
    try:
        raw = yaml.load(path.read_text(), Loader=_ParamsLoader)  # a SafeLoader subclass
    except (OSError, yaml.YAMLError) as e:
        raise ParamsError(f"cannot read {path}: {e}") from e
    try:
        return Params.model_validate(raw)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in e.errors()
        )
        raise ParamsError(f"invalid parameters in {path}: {problems}") from e
