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

from pyspark import InheritableThread, StorageLevel
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


def _dedupe_rank(df: DataFrame, topic: str) -> Column:
    """1 for the copy of a record that is kept, 2.. for its duplicates.

    The copy that arrived first is kept (then the lowest Kafka position): re-sent duplicates never
    make a result visible later than its first arrival, and the choice is deterministic.
    """
    order = [F.col("arrival_time"), F.col("_kafka_partition"), F.col("_kafka_offset"), F.col("event_id")]
    w = Window.partitionBy(*DEDUPE_KEYS[topic]).orderBy(*order)
    return F.row_number().over(w)


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
) -> tuple[DataFrame, list[tuple[str, Column]]]:
    aliases = units.spec.unit_aliases
    spec = units.spec.vitals
    # Absent unit means the contract's default: C for temperature (contracts/bronze.md).
    temp_unit = F.coalesce(F.col("temperature_unit"), F.lit("C"))
    conv = {
        "temperature": _linear(F.col("temperature"), temp_unit, dict(spec["temperature"].units), aliases),
        "weight": _linear(F.col("weight"), F.col("weight_unit"), dict(spec["weight"].units), aliases),
        "height": _linear(F.col("height"), F.col("height_unit"), dict(spec["height"].units), aliases),
    }
    # One projection per step (withColumns), not one per column: every withColumn re-analyses the
    # whole plan on the driver.
    out = df.withColumns({f"_c_{name}": expr for name, expr in conv.items()})
    unit_bad = reduce(lambda a, b: a | b, [F.col(n).isNotNull() & F.col(f"_c_{n}").isNull() for n in conv])
    out = out.withColumn("_unit_bad", unit_bad)
    canonical: dict[str, Column] = {}
    for name in conv:
        canonical[name] = F.col(f"_c_{name}")
        canonical[f"{name}_unit"] = F.when(F.col(f"_c_{name}").isNotNull(), F.lit(spec[name].canonical))
    out = out.withColumns(canonical).drop(*[f"_c_{name}" for name in conv])
    unit_bad = F.col("_unit_bad")
    checks: list[tuple[str, Column]] = [("unit_unknown", unit_bad)]
    for sig, (lo, hi) in sorted(ranges.items()):
        if sig in VITALS:
            c = F.col(sig)
            checks.append((f"range_{sig}", c.isNotNull() & ((c < lo) | (c > hi))))
    return out, checks


def _labs(
    spark: SparkSession, df: DataFrame, units: UnitsTable
) -> tuple[DataFrame, list[tuple[str, Column]]]:
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
    return joined, [("unit_unknown", F.col("test_code").isNull())]


def _ffill(df: DataFrame, limit_ms: int, clean: Column) -> DataFrame:
    """Carries each vital forward within (t - limit, t], flagging what was filled.

    Only rows where `clean` holds give values: the others (duplicates, rows that break a rule) stay
    in the frame, so the job needs no second pass, but are never a source of a filled value, which
    is what filling over the clean rows alone gives. The window excludes a value exactly `limit`
    old, matching the feature op `last` (window ffill).

    Computed as the last clean value at or before t and its time, over a growing frame (O(1) per
    row), kept when that time is within the limit: the same value as the last non-null of the
    bounded frame (t - limit, t], which is a suffix of the growing one in the same order, without
    re-scanning that frame for every row. All vitals share one window operator.
    """
    w = Window.partitionBy("patient_id").orderBy(F.col("_ms")).rangeBetween(Window.unboundedPreceding, 0)
    out = df.withColumn("_ms", F.unix_millis("event_time"))
    last = []
    for v in FFILL_VITALS:
        src = clean & F.col(v).isNotNull()
        last += [
            F.last(F.when(src, F.col(v)), ignorenulls=True).over(w).alias(f"_fv_{v}"),
            F.last(F.when(src, F.col("_ms")), ignorenulls=True).over(w).alias(f"_ft_{v}"),
        ]
    out = out.select("*", *last)
    cols: dict[str, Column] = {}
    for v in FFILL_VITALS:
        filled = F.when(F.col(f"_ft_{v}") > F.col("_ms") - limit_ms, F.col(f"_fv_{v}"))
        cols[f"{v}_imputed"] = F.col(v).isNull() & filled.isNotNull()
        cols[v] = filled
    out = out.withColumns(cols)
    return out.drop("_ms", *[f"_f{k}_{v}" for v in FFILL_VITALS for k in "vt"])


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
    """Per topic: one shuffle (by patient), one cached pass, one aggregate for the report, one write.

    Bronze is hash-partitioned by patient_id once; de-duplication (a window by patient_id + the
    dedupe keys) and forward-fill (a window by patient_id) both run on that partitioning, so neither
    shuffles again. Duplicates and rejected rows stay in the cached frame, marked, so every count of
    the report comes from one aggregation over it instead of one job per count; the write reads
    the clean rows from the cache. The four topics run as concurrent jobs. docs/silver.md
    ("Performance") has the measurements.
    """
    dates = window.dates()
    report = QualityReport(
        window={"since": window.since.isoformat(), "until": window.until.isoformat()},
        processing_time=processing_time.isoformat(),
    )
    enrollment = read_enrollment(spark, lake, jdbc_url).select(
        "patient_id", F.col("trial_id").alias("_e_trial_id"), F.col("site_id").alias("_e_site_id")
    )
    job = _TopicJob(
        spark=spark,
        lake=lake,
        dates=dates,
        enrollment=enrollment,
        now=F.lit(processing_time.astimezone(UTC).replace(tzinfo=None)).cast("timestamp"),
        ranges={k: (r.min, r.max) for k, r in params.silver.ranges.items()},
        units=units,
        ffill_ms=duration_ms(fs.settings.ffill_limit),
    )
    # The topics are independent jobs: run concurrently, one topic's planning and small stages fill
    # the cores while another's run (inheritable threads keep the caller's job group/description).
    results: dict[str, tuple[dict[str, int], list[dict[str, Any]]] | None] = {}
    errors: list[BaseException] = []

    def work(topic: str) -> None:
        try:
            results[topic] = job.run(topic)
        except BaseException as e:  # re-raised on the calling thread below
            errors.append(e)

    threads = [InheritableThread(target=work, args=(t,), name=f"silver-{t}") for t in bronze.TOPICS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    for topic in bronze.TOPICS:
        res = results.get(topic)
        if res is not None:
            report.topics[topic], rules = res
            report.rules += rules
    return report


@dataclass(frozen=True)
class _TopicJob:
    spark: SparkSession
    lake: str
    dates: list[date]
    enrollment: DataFrame
    now: Column
    ranges: dict[str, tuple[float, float]]
    units: UnitsTable
    ffill_ms: int

    def run(self, topic: str) -> tuple[dict[str, int], list[dict[str, Any]]] | None:
        """Silver for one topic; returns its counts and rule rows, None when it has no bronze."""
        raw = _read_bronze(self.spark, self.lake, topic, self.dates)
        if raw is None:
            return None
        keep_dates = [str(d) for d in self.dates]
        df = _prepare(self.spark, topic, raw).repartition("patient_id")
        df = df.withColumn("_rn", _dedupe_rank(df, topic))
        if topic == "patient-vitals":
            df, topic_checks = _vitals(df, self.units, self.ranges)
        elif topic == "lab-results":
            df, topic_checks = _labs(self.spark, df, self.units)
        else:
            df, topic_checks = df, []
        df = df.join(F.broadcast(self.enrollment), "patient_id", "left")
        checks = [
            ("missing_patient_id", F.col("patient_id").isNull() | (F.trim(F.col("patient_id")) == "")),
            ("unknown_patient", F.col("_e_site_id").isNull()),
            ("future_timestamp", (F.col("event_time") > self.now) | (F.col("arrival_time") > self.now)),
            *topic_checks,
        ]
        rules = [name for name, _ in checks]
        assert len(rules) < 31, "the rule mask is an int"
        # The rules a row breaks as bits of one int (bit i: rules[i]), cheaper to compute and to
        # cache than an array of names; a NULL condition breaks nothing, as before.
        mask = reduce(
            lambda a, b: a.bitwiseOR(b),
            [F.when(cond, F.lit(1 << i)).otherwise(F.lit(0)) for i, (_, cond) in enumerate(checks)],
        )
        df = _site_column(df).withColumn("_dq", mask)
        df = df.withColumn("_clean", (F.col("_rn") == 1) & (F.col("_dq") == 0))
        if topic == "patient-vitals":
            df = _ffill(df, self.ffill_ms, F.col("_clean"))
        if topic == "medications":
            df = df.withColumn("drug_name", F.lower(F.trim("drug_name")))
        # Only what the report and silver need is cached.
        df = (
            df.withColumn("_in", F.col("date").isin(keep_dates))
            .drop(
                "_e_trial_id", "_e_site_id", "_unit_bad", *[c for c in raw.columns if c.startswith("_kafka")]
            )
            .persist(StorageLevel.MEMORY_AND_DISK)
        )
        try:
            counts, found = _count(df, topic, rules)
            out = df.where(F.col("_in") & F.col("_clean")).drop("_rn", "_dq", "_clean", "_in")
            out = out.withColumn("date", F.date_format("event_time", "yyyy-MM-dd"))
            # Sorted by the partition columns first, the writer needs no sort of its own (which would
            # drop this one); inside a file rows are by patient and time, cheap to read, stable output.
            out = out.repartition("date", "trial_site_id").sortWithinPartitions(
                "date", "trial_site_id", "patient_id", "event_time"
            )
            out.write.mode("overwrite").partitionBy("date", "trial_site_id").parquet(
                f"{self.lake}/silver/{topic}"
            )
        finally:
            df.unpersist()
        return counts, found


def _count(df: DataFrame, topic: str, rules: list[str]) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Every count of the report in one aggregation over the window's rows, by site.

    rows_in counts every copy; a duplicate is counted once, as a duplicate, and never against a rule.
    """
    kept = F.col("_rn") == 1
    bad = kept & (F.col("_dq") != 0)
    aggs = [
        F.count(F.lit(1)).alias("rows_in"),
        F.count(F.when(kept, 1)).alias("kept"),
        F.count(F.when(bad, 1)).alias("rejected"),
        *[
            F.count(F.when(kept & ((F.col("_dq").bitwiseAND(1 << i)) != 0), 1)).alias(f"r_{i}")
            for i in range(len(rules))
        ],
    ]
    rows = df.where(F.col("_in")).groupBy("trial_site_id").agg(*aggs).collect()
    rows_in = sum(int(r["rows_in"]) for r in rows)
    kept_n = sum(int(r["kept"]) for r in rows)
    rejected = sum(int(r["rejected"]) for r in rows)
    counts = {
        "rows_in": rows_in,
        "duplicates_removed": rows_in - kept_n,
        "rows_rejected": rejected,
        "rows_out": kept_n - rejected,
    }
    found = [
        {"topic": topic, "site": r["trial_site_id"], "rule": rule, "rows": int(r[f"r_{i}"])}
        for r in rows
        for i, rule in enumerate(rules)
        if r[f"r_{i}"]
    ]
    # The order of the report's rules list: by rule, then site (byte order, as Spark sorts strings).
    return counts, sorted(found, key=lambda x: (x["rule"].encode(), x["site"].encode()))


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
