"""Bronze -> silver: de-duplicate, standardize units, check data quality, forward-fill vitals.

Silver is recomputed per event date: a run for [since, until) rewrites every date that window touches
(dynamic partition overwrite), reading one extra day before it so forward-fill can cross midnight.
An hourly schedule therefore recomputes today's partition each hour; a rerun is idempotent, and late
bronze files for an older date are picked up by rerunning that date. docs/silver.md has the rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import reduce
from pathlib import Path
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from ml.params import Params
from pipelines import bronze
from pipelines.featureset import FeatureSet, duration_ms
from pipelines.units import UnitsTable

VITALS = (
    "heart_rate",
    "blood_pressure_systolic",
    "blood_pressure_diastolic",
    "mean_arterial_pressure",
    "temperature",
    "spo2",
    "respiratory_rate",
    "etco2",
    "weight",
    "height",
)
# Signals forward-filled and flagged; weight/height are visit data, not monitored, so they are not.
FFILL_VITALS = VITALS[:8]
DEDUPE_KEYS: dict[str, tuple[str, ...]] = {
    # (patient_id, timestamp, source) per the issue, plus what makes two records of one instant and
    # one source different things: the test of a lab panel, the drug and action of a medication.
    "patient-vitals": ("patient_id", "event_time", "source"),
    "lab-results": ("patient_id", "event_time", "source", "test_name"),
    "medications": ("patient_id", "event_time", "source", "drug_name", "action"),
    "adverse-events": ("patient_id", "event_time", "source", "event_type"),
}
ENROLLMENT_SCHEMA = T.StructType(
    [
        T.StructField("patient_id", T.StringType()),
        T.StructField("trial_id", T.StringType()),
        T.StructField("site_id", T.StringType()),
        T.StructField("arm", T.StringType()),
        T.StructField("arm_role", T.StringType()),
        T.StructField("enrollment_date", T.StringType()),
        T.StructField("age", T.DoubleType()),
        T.StructField("sex", T.StringType()),
        T.StructField("height_cm", T.DoubleType()),
        T.StructField("weight_kg", T.DoubleType()),
        T.StructField("comorbidities", T.ArrayType(T.StringType())),
        T.StructField("source", T.StringType()),
    ]
)


@dataclass(frozen=True)
class Window_:
    since: datetime
    until: datetime

    def dates(self) -> list[date]:
        """Event dates the run rewrites: every date [since, until) touches."""
        last = (self.until - timedelta(milliseconds=1)).date()
        d, out = self.since.date(), []
        while d <= last:
            out.append(d)
            d += timedelta(days=1)
        return out


@dataclass
class QualityReport:
    """Counts per rule, per topic and per site; logged to MLflow as metrics and as an artifact."""

    window: dict[str, str]
    processing_time: str
    topics: dict[str, dict[str, int]] = field(default_factory=dict)
    rules: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "processing_time": self.processing_time,
            "topics": self.topics,
            "rules": self.rules,
        }

    def metrics(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for topic, counts in self.topics.items():
            for k, v in counts.items():
                out[f"dq.{_slug(topic)}.{k}"] = float(v)
        per_rule: dict[str, int] = {}
        for r in self.rules:
            key = f"dq.{_slug(r['topic'])}.rule.{r['rule']}"
            per_rule[key] = per_rule.get(key, 0) + int(r["rows"])
        return out | {k: float(v) for k, v in per_rule.items()}


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", s)


# --- enrollment ------------------------------------------------------------------------------------


def read_enrollment(spark: SparkSession, lake: str, jdbc_url: str | None = None) -> DataFrame:
    """The enrollment table: Postgres over JDBC when configured, else the lake's enrollment files."""
    if jdbc_url:
        user = re.search(r"[?&]user=([^&]+)", jdbc_url)
        df = (
            spark.read.format("jdbc")
            .option("url", jdbc_url)
            .option("dbtable", "enrollment")
            .option("driver", "org.postgresql.Driver")
            .option("user", user.group(1) if user else "aepred")
            .load()
        )
        return df.select(
            *(
                F.col(f.name).cast("string").alias(f.name) if f.name == "enrollment_date" else F.col(f.name)
                for f in ENROLLMENT_SCHEMA
            )
        )
    return spark.read.schema(ENROLLMENT_SCHEMA).json(f"{lake}/enrollment")


# --- per-topic normalization -------------------------------------------------------------------------


def _read_bronze(spark: SparkSession, lake: str, topic: str, dates: Sequence[date]) -> DataFrame | None:
    root = f"{lake}/bronze/{topic}"
    if not _exists(spark, root):
        return None
    lo, hi = str(dates[0] - timedelta(days=1)), str(dates[-1])
    # String comparison on the hive partition prunes files without listing every date.
    return spark.read.option("basePath", root).parquet(root).where(F.col("date").between(lo, hi))


def _exists(spark: SparkSession, path: str) -> bool:
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    p = jvm.org.apache.hadoop.fs.Path(path)
    fs = p.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    return bool(fs.exists(p))


def _dedupe(df: DataFrame, topic: str) -> DataFrame:
    # Keep the copy that arrived first (then the lowest Kafka position): re-sent duplicates never
    # make a result visible later than its first arrival, and the choice is deterministic.
    order = [F.col("arrival_time"), F.col("_kafka_partition"), F.col("_kafka_offset"), F.col("event_id")]
    w = Window.partitionBy(*DEDUPE_KEYS[topic]).orderBy(*order)
    return df.withColumn("_rn", F.row_number().over(w)).where(F.col("_rn") == 1).drop("_rn")


def _linear(value: Column, unit: Column, units: dict[str, Any], aliases: dict[str, str]) -> Column:
    """Canonical value by the units table, NULL for a unit the table does not list."""
    norm = _normalize_unit(unit, aliases)
    expr: Column | None = None
    for spelling, lin in sorted(units.items()):
        conv = (value - F.lit(lin.offset)) * F.lit(lin.multiply) / F.lit(lin.divide)
        expr = F.when(norm == spelling, conv) if expr is None else expr.when(norm == spelling, conv)
    assert expr is not None
    return expr


def _normalize_unit(unit: Column, aliases: dict[str, str]) -> Column:
    u = F.trim(F.coalesce(unit, F.lit("")))
    mapping = F.create_map(*[F.lit(x) for kv in sorted(aliases.items()) for x in kv])
    return F.coalesce(mapping[u], u)


def _vitals(
    df: DataFrame, units: UnitsTable, ranges: dict[str, tuple[float, float]]
) -> tuple[DataFrame, Column]:
    aliases = units.spec.unit_aliases
    spec = units.spec.vitals
    # Absent unit means the contract's default: C for temperature (contracts/bronze.md).
    temp_unit = F.coalesce(F.col("temperature_unit"), F.lit("C"))
    conv = {
        "temperature": _linear(F.col("temperature"), temp_unit, dict(spec["temperature"].units), aliases),
        "weight": _linear(F.col("weight"), F.col("weight_unit"), dict(spec["weight"].units), aliases),
        "height": _linear(F.col("height"), F.col("height_unit"), dict(spec["height"].units), aliases),
    }
    out = df
    for name, expr in conv.items():
        out = out.withColumn(f"_c_{name}", expr)
    unit_bad = reduce(lambda a, b: a | b, [F.col(n).isNotNull() & F.col(f"_c_{n}").isNull() for n in conv])
    out = out.withColumn("_unit_bad", unit_bad)
    for name in conv:
        out = out.withColumn(name, F.col(f"_c_{name}")).drop(f"_c_{name}")
        canonical = spec[name].canonical
        out = out.withColumn(f"{name}_unit", F.when(F.col(name).isNotNull(), F.lit(canonical)))
    unit_bad = F.col("_unit_bad")
    checks = [F.when(unit_bad, F.lit("unit_unknown"))]
    for sig, (lo, hi) in sorted(ranges.items()):
        if sig in VITALS:
            c = F.col(sig)
            checks.append(F.when(c.isNotNull() & ((c < lo) | (c > hi)), F.lit(f"range_{sig}")))
    return out, F.array_compact(F.array(*checks))


def _labs(spark: SparkSession, df: DataFrame, units: UnitsTable) -> tuple[DataFrame, Column]:
    table = spark.createDataFrame(
        units.lab_rows(),
        "_spelling string, test_code string, _unit string, _offset double, _multiply double, _divide double",
    )
    canon = spark.createDataFrame(
        sorted((code, q.canonical) for code, q in units.spec.labs.items()),
        "test_code string, canonical_unit string",
    )
    norm = _normalize_unit(F.col("unit"), units.spec.unit_aliases)
    joined = (
        df.withColumn("_norm_unit", norm)
        .join(
            F.broadcast(table),
            (F.trim(F.col("test_name")) == F.col("_spelling")) & (F.col("_norm_unit") == F.col("_unit")),
            "left",
        )
        .join(F.broadcast(canon), "test_code", "left")
        .withColumn("original_value", F.col("value"))
        .withColumn("original_unit", F.col("unit"))
        .withColumn("value", (F.col("value") - F.col("_offset")) * F.col("_multiply") / F.col("_divide"))
        .withColumn("unit", F.col("canonical_unit"))
        .drop("_spelling", "_unit", "_offset", "_multiply", "_divide", "_norm_unit", "canonical_unit")
    )
    return joined, F.array_compact(F.array(F.when(F.col("test_code").isNull(), F.lit("unit_unknown"))))


def _ffill(df: DataFrame, limit_ms: int) -> DataFrame:
    """Carries each vital forward within (t - limit, t], flagging what was filled.

    The window excludes a value exactly `limit` old, matching the feature op `last` (window ffill).
    """
    w = Window.partitionBy("patient_id").orderBy(F.col("_ms")).rangeBetween(-(limit_ms - 1), 0)
    out = df.withColumn("_ms", F.unix_millis("event_time"))
    for v in FFILL_VITALS:
        filled = F.last(F.col(v), ignorenulls=True).over(w)
        out = out.withColumn(f"{v}_imputed", F.col(v).isNull() & filled.isNotNull()).withColumn(v, filled)
    return out.drop("_ms")


def _prepare(spark: SparkSession, topic: str, df: DataFrame) -> DataFrame:
    ev = bronze.event_time_column(topic)
    arrival = {
        "lab-results": F.coalesce(F.col("reported_at"), F.col("timestamp")),
        "adverse-events": F.col("report_timestamp"),
    }.get(topic, F.col(ev))
    return df.withColumn("event_time", F.col(ev)).withColumn("arrival_time", arrival)


def _site_column(df: DataFrame) -> DataFrame:
    # trial_site_id = "<trial>__<site>" from the enrollment table (authoritative); the message's own
    # ids are a fallback for rows that fail unknown_patient and never reach silver anyway.
    trial = F.coalesce(F.col("_e_trial_id"), F.col("trial_id"), F.lit("unknown"))
    site = F.coalesce(F.col("_e_site_id"), F.col("site_id"), F.lit("unknown"))
    return df.withColumn("trial_site_id", F.concat_ws("__", trial, site))


def run_silver(
    spark: SparkSession,
    lake: str,
    window: Window_,
    *,
    params: Params,
    units: UnitsTable,
    fs: FeatureSet,
    processing_time: datetime,
    jdbc_url: str | None = None,
) -> QualityReport:
    dates = window.dates()
    report = QualityReport(
        window={"since": window.since.isoformat(), "until": window.until.isoformat()},
        processing_time=processing_time.isoformat(),
    )
    enrollment = read_enrollment(spark, lake, jdbc_url).select(
        "patient_id", F.col("trial_id").alias("_e_trial_id"), F.col("site_id").alias("_e_site_id")
    )
    now = F.lit(processing_time.astimezone(UTC).replace(tzinfo=None)).cast("timestamp")
    ranges = {k: (r.min, r.max) for k, r in params.silver.ranges.items()}
    keep_dates = [str(d) for d in dates]
    for topic in bronze.TOPICS:
        raw = _read_bronze(spark, lake, topic, dates)
        if raw is None:
            continue
        df = _prepare(spark, topic, raw)
        rows_in = df.where(F.col("date").isin(keep_dates)).count()
        df = _dedupe(df, topic)
        if topic == "patient-vitals":
            df, topic_checks = _vitals(df, units, ranges)
        elif topic == "lab-results":
            df, topic_checks = _labs(spark, df, units)
        else:
            df, topic_checks = df, F.array().cast("array<string>")
        df = df.join(F.broadcast(enrollment), "patient_id", "left")
        common = F.array_compact(
            F.array(
                F.when(
                    F.col("patient_id").isNull() | (F.trim(F.col("patient_id")) == ""),
                    F.lit("missing_patient_id"),
                ),
                F.when(F.col("_e_site_id").isNull(), F.lit("unknown_patient")),
                F.when(
                    (F.col("event_time") > now) | (F.col("arrival_time") > now), F.lit("future_timestamp")
                ),
            )
        )
        df = _site_column(df).withColumn("_dq", F.concat(common, topic_checks)).cache()
        in_window = df.where(F.col("date").isin(keep_dates))
        failed = (
            in_window.where(F.size("_dq") > 0)
            .select("trial_site_id", F.explode("_dq").alias("rule"))
            .groupBy("trial_site_id", "rule")
            .count()
            .orderBy("rule", "trial_site_id")
            .collect()
        )
        report.rules += [
            {"topic": topic, "site": r["trial_site_id"], "rule": r["rule"], "rows": r["count"]}
            for r in failed
        ]
        clean = df.where(F.size("_dq") == 0)
        if topic == "patient-vitals":
            clean = _ffill(clean, duration_ms(fs.settings.ffill_limit))
        if topic == "medications":
            clean = clean.withColumn("drug_name", F.lower(F.trim("drug_name")))
        out = clean.where(F.col("date").isin(keep_dates)).drop(
            "_dq",
            "_e_trial_id",
            "_e_site_id",
            "_unit_bad",
            *[c for c in raw.columns if c.startswith("_kafka")],
        )
        out = out.withColumn("date", F.date_format("event_time", "yyyy-MM-dd"))
        # Silver is read by event time; sorting inside each file keeps reads cheap and output stable.
        out = out.repartition("date", "trial_site_id").sortWithinPartitions("patient_id", "event_time")
        # Counted before writing: a window whose every row fails a rule writes no file to read back.
        rows_out = out.count()
        out.write.mode("overwrite").partitionBy("date", "trial_site_id").parquet(f"{lake}/silver/{topic}")
        rejected = in_window.where(F.size("_dq") > 0).count()
        kept_after_dedupe = in_window.count()
        report.topics[topic] = {
            "rows_in": rows_in,
            "duplicates_removed": rows_in - kept_after_dedupe,
            "rows_rejected": rejected,
            "rows_out": rows_out,
        }
        df.unpersist()
    return report


def log_report(report: QualityReport, lake: str) -> str | None:
    """Writes the report beside silver and logs it to MLflow (metrics + artifact); returns the run id."""
    from ml import tracking

    text = json.dumps(report.as_dict(), indent=2, sort_keys=True)
    if not lake.startswith(("s3a://", "s3://")):
        d = Path(lake) / "silver" / "_reports"
        d.mkdir(parents=True, exist_ok=True)
        stamp = re.sub(r"[^0-9T]", "", report.window["since"])[:15]
        (d / f"dq-{stamp}.json").write_text(text + "\n")
    import mlflow

    target = tracking.configure()
    exp = tracking.ensure_experiment("aepred-data-quality", target)
    with mlflow.start_run(experiment_id=exp, run_name="silver") as run:
        mlflow.log_params({"since": report.window["since"], "until": report.window["until"], "lake": lake})
        mlflow.log_metrics(report.metrics())
        mlflow.log_dict(report.as_dict(), "dq_report.json")
        return str(run.info.run_id)


def total_rejected(report: QualityReport) -> int:
    return reduce(lambda a, t: a + t["rows_rejected"], report.topics.values(), 0)
