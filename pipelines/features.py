"""Silver -> point-in-time feature rows and labels, written to the feature store.

Spark does the I/O and the shuffle by patient; each patient's history then goes through
`pipelines.ops.compute`, the single implementation of every op (applyInPandas). The (small) result is
collected, sorted and written with pyarrow, so the same silver always gives byte-identical files:
Spark's part names and task order never reach the store.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ml.params import Params
from pipelines import feature_store
from pipelines.featureset import FeatureSet
from pipelines.ops import DAY_MS, HOUR_MS, MedEvent, Patient, Series, compute, labels
from pipelines.silver import FFILL_VITALS

KIND_VITAL, KIND_LAB, KIND_MED, KIND_AE = 0, 1, 2, 3
EVENTS_SCHEMA = (
    "patient_id string, kind int, signal string, ev long, arr long, value double, end long, action string"
)


def _ms(d: datetime) -> int:
    return int(d.timestamp() * 1000)


def _read(spark: SparkSession, lake: str, topic: str, until_date: str) -> DataFrame | None:
    root = f"{lake}/silver/{topic}"
    try:
        df = spark.read.option("basePath", root).parquet(root)
    except Exception as e:  # an absent topic (e.g. no medications in PhysioNet) is an empty input
        if "PATH_NOT_FOUND" in str(e) or "does not exist" in str(e):
            return None
        raise
    return df.where(F.col("date") <= until_date)


def events_frame(spark: SparkSession, lake: str, until: datetime, horizon_ms: int) -> DataFrame:
    """All silver history up to `until` (labels: up to until + horizon) as one long event frame."""
    until_date = str((until - timedelta(milliseconds=1)).date())
    label_date = str((until + timedelta(milliseconds=horizon_ms)).date())
    parts: list[DataFrame] = []
    vit = _read(spark, lake, "patient-vitals", until_date)
    if vit is not None:
        # Only observed values: forward-filled ones are silver's convenience, and would shrink std.
        cells = F.array(
            *[
                F.struct(
                    F.lit(v).alias("signal"), F.col(v).alias("value"), F.col(f"{v}_imputed").alias("imp")
                )
                for v in FFILL_VITALS
            ]
        )
        parts.append(
            vit.select("patient_id", F.unix_millis("event_time").alias("ev"), F.explode(cells).alias("c"))
            .where(F.col("c.value").isNotNull() & ~F.col("c.imp"))
            .select(
                "patient_id",
                F.lit(KIND_VITAL).alias("kind"),
                F.col("c.signal").alias("signal"),
                "ev",
                F.col("ev").alias("arr"),
                F.col("c.value").alias("value"),
                F.lit(None).cast("long").alias("end"),
                F.lit(None).cast("string").alias("action"),
            )
        )
    lab = _read(spark, lake, "lab-results", until_date)
    if lab is not None:
        parts.append(
            lab.select(
                "patient_id",
                F.lit(KIND_LAB).alias("kind"),
                F.col("test_code").alias("signal"),
                F.unix_millis("event_time").alias("ev"),
                F.unix_millis("arrival_time").alias("arr"),
                "value",
                F.lit(None).cast("long").alias("end"),
                F.lit(None).cast("string").alias("action"),
            )
        )
    med = _read(spark, lake, "medications", until_date)
    if med is not None:
        parts.append(
            med.select(
                "patient_id",
                F.lit(KIND_MED).alias("kind"),
                F.col("drug_name").alias("signal"),
                F.unix_millis("event_time").alias("ev"),
                F.unix_millis("event_time").alias("arr"),
                F.lit(None).cast("double").alias("value"),
                F.unix_millis("end_timestamp").alias("end"),
                F.coalesce(F.col("action"), F.lit("start")).alias("action"),
            )
        )
    ae = _read(spark, lake, "adverse-events", label_date)
    if ae is not None:
        parts.append(
            ae.select(
                "patient_id",
                F.lit(KIND_AE).alias("kind"),
                F.col("event_type").alias("signal"),
                F.unix_millis("event_time").alias("ev"),
                F.unix_millis("arrival_time").alias("arr"),
                F.lit(None).cast("double").alias("value"),
                F.lit(None).cast("long").alias("end"),
                F.lit(None).cast("string").alias("action"),
            )
        )
    if not parts:
        return spark.createDataFrame([], EVENTS_SCHEMA)
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out


def patient_from_frame(pid: str, pdf: pd.DataFrame, context: Mapping[str, object]) -> Patient:
    kind = pdf["kind"].to_numpy(np.int64)
    ev = pdf["ev"].to_numpy(np.int64)
    arr = pdf["arr"].to_numpy(np.int64)
    val = pdf["value"].to_numpy(np.float64, na_value=np.nan)
    # One hash pass over the signal names and one sort for every series, by (kind, signal, event),
    # then (arrival, value) within equal events: the order Series.build gives. A mask per signal over
    # the string column cost a quarter of a second for a 90-day patient (130k rows), more than the ops.
    code, uniq = pd.factorize(pdf["signal"], use_na_sentinel=False)
    names = np.asarray(uniq, dtype=object)
    key = kind * (len(names) + 1) + code
    order = _series_order(key, ev, arr, val)
    key_s, ev_s, arr_s, val_s = key[order], ev[order], arr[order], val[order]
    series: dict[int, dict[str, Series]] = {KIND_VITAL: {}, KIND_LAB: {}}
    if key_s.size:
        cuts = (np.flatnonzero(np.diff(key_s)) + 1).tolist()
        for a, b in zip([0, *cuts], [*cuts, key_s.size], strict=True):
            k, c = divmod(int(key_s[a]), len(names) + 1)
            if k in series:
                series[k][str(names[c])] = Series(ev_s[a:b], arr_s[a:b], val_s[a:b])
    mm = kind == KIND_MED
    meds = tuple(
        MedEvent(int(e), str(d), str(a), None if pd.isna(x) else int(x))
        for e, d, a, x in zip(
            ev[mm],
            names[code[mm]],
            pdf["action"][mm].to_numpy(object),
            pdf["end"][mm].to_numpy(object),
            strict=True,
        )
    )
    am = kind == KIND_AE
    return Patient(
        patient_id=pid,
        vitals=series[KIND_VITAL],
        labs=series[KIND_LAB],
        meds=meds,
        ae_event=ev[am],
        ae_report=arr[am],
        ae_type=tuple(str(x) for x in names[code[am]]),
        context=context,
    )


def _series_order(key: np.ndarray, ev: np.ndarray, arr: np.ndarray, val: np.ndarray) -> np.ndarray:
    """The permutation sorting rows by (key, event, arrival, value), like np.lexsort((val, arr, ev, key)).

    One unstable int64 argsort on key and event packed into one number (10x faster than the lexsort
    here); the rare runs of equal (key, event) are then ordered by (arrival, value) with a lexsort.
    """
    if not key.size:
        return np.zeros(0, dtype=np.int64)
    span = int(ev.max()) - int(ev.min())
    if span >= 1 << 44 or int(key.max()) >= 1 << 18 or int(key.min()) < 0:
        return np.lexsort((val, arr, ev, key))
    comp = (key << 44) | (ev - ev.min())
    order = np.argsort(comp)
    cs = comp[order]
    tie = cs[1:] == cs[:-1]
    if tie.any():
        pos = np.flatnonzero(np.concatenate([tie, [False]]) | np.concatenate([[False], tie]))
        sub = order[pos]
        order[pos] = sub[np.lexsort((val[sub], arr[sub], comp[sub]))]
    return order


def snapshot_grid(first_ms: int, last_ms: int, since_ms: int, until_ms: int, cadence_ms: int) -> np.ndarray:
    """Epoch-aligned multiples of the cadence in [since, until) within the patient's observed span."""
    lo = max(since_ms, first_ms)
    hi = min(until_ms - 1, last_ms)
    start = -(-lo // cadence_ms) * cadence_ms
    if start > hi:
        return np.zeros(0, np.int64)
    return np.arange(start, hi + 1, cadence_ms, dtype=np.int64)


def output_columns(fs: FeatureSet) -> list[tuple[str, str]]:
    cols = [("patient_id", "string"), ("snapshot_time", "long")]
    cols += [(f.name, "double") for f in fs.features]
    return [*cols, ("label", "int"), ("label_complete", "int"), ("date", "string")]


def make_kernel(
    fs: FeatureSet,
    contexts: Mapping[str, Mapping[str, object]],
    since_ms: int,
    until_ms: int,
    cadence_ms: int,
    horizon_ms: int,
) -> Any:
    names = fs.names
    empty = pd.DataFrame({n: pd.Series(dtype="float64") for n, _ in output_columns(fs)})
    empty = empty.astype(
        {
            "patient_id": "object",
            "snapshot_time": "int64",
            "label": "int32",
            "label_complete": "int32",
            "date": "object",
        }
    )

    def kernel(pdf: pd.DataFrame) -> pd.DataFrame:
        pid = str(pdf["patient_id"].iloc[0])
        # The observed span: from the first to the last non-AE event (AEs alone do not make a patient
        # observable); a patient with only AEs gets no snapshots.
        obs = pdf["kind"].to_numpy() != KIND_AE
        if not obs.any():
            return empty
        first = int(pdf["ev"].to_numpy(np.int64)[obs].min())
        last = int(pdf["arr"].to_numpy(np.int64)[obs].max())
        snaps = snapshot_grid(first, last, since_ms, until_ms, cadence_ms)
        if not snaps.size:
            return empty
        patient = patient_from_frame(pid, pdf, contexts.get(pid, {}))
        values = compute(fs, patient, snaps)
        label, complete = labels(patient, snaps, horizon_ms, last)
        days = snaps.astype("datetime64[ms]").astype("datetime64[D]").astype(str).astype(object)
        # The features as one float block (a DataFrame from 150 separate arrays cost 4 ms a patient).
        block = np.empty((snaps.size, len(names)))
        for j, n in enumerate(names):
            block[:, j] = values[n]
        head = pd.DataFrame({"patient_id": np.full(snaps.size, pid, dtype=object), "snapshot_time": snaps})
        tail = pd.DataFrame(
            {"label": label.astype(np.int32), "label_complete": complete.astype(np.int32), "date": days}
        )
        return pd.concat([head, pd.DataFrame(block, columns=names), tail], axis=1)

    return kernel


def _contexts(spark: SparkSession, lake: str, jdbc_url: str | None = None) -> dict[str, dict[str, object]]:
    from pipelines.silver import read_enrollment

    rows = read_enrollment(spark, lake, jdbc_url).collect()
    return {r["patient_id"]: r.asDict() for r in rows}


# Feature rows reach the driver (to be sorted and written with pyarrow, deterministically) in chunks of
# at most this many bytes: Spark refuses a result above spark.driver.maxResultSize (1 GiB), and all of
# PhysioNet setA is 1.2 GB of feature rows. Below it, one collect; above it, one date at a time, split
# further by a hash of the patient id when a single date is larger.
COLLECT_LIMIT_BYTES = 256 << 20


def _row_bytes(fs: FeatureSet) -> int:
    return 8 * (len(fs.features) + 4) + 48  # doubles + ids/times/labels, with Arrow's overheads


def feature_rows(
    spark: SparkSession,
    lake: str,
    since: datetime,
    until: datetime,
    *,
    params: Params,
    fs: FeatureSet,
    cadence_hours: float | None = None,
    jdbc_url: str | None = None,
) -> DataFrame:
    """The distributed feature rows (one per patient snapshot), not yet collected."""
    cadence_ms = int((cadence_hours or params.features.snapshot_cadence_hours) * HOUR_MS)
    horizon_ms = int(params.labels.horizon_hours * HOUR_MS)
    events = events_frame(spark, lake, until, horizon_ms)
    kernel = make_kernel(fs, _contexts(spark, lake, jdbc_url), _ms(since), _ms(until), cadence_ms, horizon_ms)
    schema = ", ".join(f"{n} {t}" for n, t in output_columns(fs))
    return events.groupBy("patient_id").applyInPandas(kernel, schema=schema)


def compute_by_date(
    spark: SparkSession,
    lake: str,
    since: datetime,
    until: datetime,
    *,
    params: Params,
    fs: FeatureSet,
    cadence_hours: float | None = None,
    jdbc_url: str | None = None,
    collect_limit_bytes: int = COLLECT_LIMIT_BYTES,
) -> Iterator[pa.Table]:
    """Canonical feature tables, one per snapshot date in date order, each collected within the limit.

    The same rows give the same tables whatever the chunking (each table is sorted canonically), so the
    files written from them are byte-identical to a single collect's.
    """
    from pyspark import StorageLevel

    rows = feature_rows(
        spark, lake, since, until, params=params, fs=fs, cadence_hours=cadence_hours, jdbc_url=jdbc_url
    ).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        counts = {str(r["date"]): int(r["count"]) for r in rows.groupBy("date").count().collect()}
        row_bytes = _row_bytes(fs)
        if sum(counts.values()) * row_bytes <= collect_limit_bytes:
            table = feature_store.canonical_table(rows.toArrow(), fs)
            dates = table.column("date").to_numpy(zero_copy_only=False)
            for d in sorted(counts):
                yield table.filter(pa.array(dates == d))
            return
        for d in sorted(counts):
            part = rows.where(F.col("date") == d)
            buckets = max(1, -(-counts[d] * row_bytes // collect_limit_bytes))
            if buckets == 1:
                chunks = [part.toArrow()]
            else:
                bucket = F.pmod(F.xxhash64("patient_id"), F.lit(buckets))
                chunks = [part.where(bucket == i).toArrow() for i in range(buckets)]
            yield feature_store.canonical_table(pa.concat_tables(chunks), fs)
    finally:
        rows.unpersist()


def compute_frame(
    spark: SparkSession,
    lake: str,
    since: datetime,
    until: datetime,
    *,
    params: Params,
    fs: FeatureSet,
    cadence_hours: float | None = None,
    jdbc_url: str | None = None,
) -> pa.Table:
    """All feature rows as one canonical table (for sizes that fit in the driver: tests, benchmarks)."""
    rows = feature_rows(
        spark, lake, since, until, params=params, fs=fs, cadence_hours=cadence_hours, jdbc_url=jdbc_url
    )
    return feature_store.canonical_table(rows.toArrow(), fs)


def run_features(
    spark: SparkSession,
    lake: str,
    since: datetime,
    until: datetime,
    *,
    params: Params,
    fs: FeatureSet,
    cadence_hours: float | None = None,
    out: str | None = None,
    log_mlflow: bool = True,
    created: datetime | None = None,
    jdbc_url: str | None = None,
    collect_limit_bytes: int = COLLECT_LIMIT_BYTES,
) -> dict[str, Any]:
    root = out or f"{lake}/features"
    written: list[str] = []
    acc = feature_store.StatisticsAccumulator(fs)
    patients: set[str] = set()
    positives = 0
    for table in compute_by_date(
        spark,
        lake,
        since,
        until,
        params=params,
        fs=fs,
        cadence_hours=cadence_hours,
        jdbc_url=jdbc_url,
        collect_limit_bytes=collect_limit_bytes,
    ):
        written += feature_store.write(root, table, fs)
        acc.add(table)
        patients.update(table.column("patient_id").to_pylist())
        positives += int(np.sum(table.column("label").to_numpy()))
    stats = acc.result()
    feature_store.write_metadata(root, fs, stats, created=created or since)
    run_id = None
    if log_mlflow:
        from pipelines.validation import log_statistics

        run_id = log_statistics(
            stats, fs, {"since": since.isoformat(), "until": until.isoformat(), "lake": lake}
        )
    return {
        "rows": acc.rows,
        "patients": len(patients),
        "positives": positives,
        "files": written,
        "feature_set_hash": fs.hash,
        "mlflow_run_id": run_id,
        "days": (until - since) / timedelta(milliseconds=DAY_MS),
    }
