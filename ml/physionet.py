"""PhysioNet/CinC 2019 through the product's own chain, for the real-data benchmark.

`chain_frame(psv_dir, work, spark, ...)` runs what a deployment runs on this data:

1. import: `aepred import physionet2019 <dir> --to dir` (the TypeScript importer, contract checks
   included; docs/importers.md) writes one NDJSON file per topic plus the enrollment table;
2. bronze: each topic's NDJSON becomes contract-exact bronze Parquet
   (`pipelines.kubeflow.steps.ndjson_table` + `pipelines.testing.synth.write_topic`, the path the
   DVC raw stage uses for the simulator; the Kafka ingester is the other producer of the same files);
3. silver: `pipelines.silver.run_silver` (de-dup, units, data-quality rules, forward-fill);
4. features: `pipelines.features.run_features` at an hourly cadence: the contract's feature set
   (contracts/features.yaml), the same definition the actors serve;
5. a training frame: the feature store's rows, labels from the sepsis adverse events in silver
   (below), subgroup columns (age, sex, ICU unit as `site`), and the NEWS2-style baseline score from
   the same features.

Labels (the challenge's, so numbers compare with the literature): the importer writes one `sepsis`
adverse event per positive stay at onset = first SepsisLabel hour + 6 h, so
- ``label`` (6 h) = 1 from onset - 6 h onward (the challenge's SepsisLabel);
- ``label_24h`` = 1 from onset - 24 h onward.
A snapshot at t is the hour anchor + t; stays are anchored at 2019-01-01T00:00Z = ICULOS 0, so
`days_since_enrollment` is ICULOS / 24.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ml.paths import REPO_ROOT

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from ml.params import Params
    from pipelines.featureset import FeatureSet

HOUR_MS = 3_600_000
LABEL_HOURS = {"label": 6, "label_24h": 24}
SUBGROUP_COLUMNS = ("sex", "site")


class ChainError(RuntimeError):
    """A step of the import -> bronze -> silver -> features chain failed; the message names it."""


def news2(
    resp: NDArray[np.float64],
    spo2: NDArray[np.float64],
    sbp: NDArray[np.float64],
    hr: NDArray[np.float64],
    temp: NDArray[np.float64],
    fio2: NDArray[np.float64],
) -> NDArray[np.float64]:
    """NEWS2 (Royal College of Physicians, 2017) from the last observed values; a missing vital scores
    0 (as a ward chart without it would), consciousness is not recorded here and scores 0, and
    supplemental oxygen is FiO2 > 0.21."""

    def bands(x: NDArray[np.float64], edges: list[float], points: list[int]) -> NDArray[np.float64]:
        # edges are upper bounds (inclusive) of each band but the last
        score = np.asarray(points, dtype=np.float64)[np.searchsorted(np.asarray(edges), x, side="left")]
        return np.where(np.isnan(x), 0.0, score)

    s = bands(resp, [8, 11, 20, 24], [3, 1, 0, 2, 3])
    s += bands(spo2, [91, 93, 95], [3, 2, 1, 0])
    s += np.where(fio2 > 0.21, 2.0, 0.0)
    s += bands(sbp, [90, 100, 110, 219], [3, 2, 1, 0, 3])
    s += bands(hr, [40, 50, 90, 110, 130], [3, 1, 0, 1, 2, 3])
    s += bands(temp, [35.0, 36.0, 38.0, 39.0], [3, 1, 0, 1, 2])
    return s


def _news2_from_features(frame: pd.DataFrame) -> NDArray[np.float64]:
    """NEWS2 from the contract's last-value features (observed within the 2 h forward-fill limit).
    Supplemental oxygen: the last FiO2 (canonical unit %, contracts/units.yaml) measured within 24 h;
    an older or absent FiO2 scores 0."""

    def col(name: str) -> NDArray[np.float64]:
        return np.asarray(frame[name].to_numpy(dtype=np.float64, na_value=np.nan))

    recent = col("fio2_missing_24h") == 0.0
    fio2 = np.where(recent, col("fio2_last") / 100.0, np.nan)
    return news2(col("rr_last"), col("spo2_last"), col("sbp_last"), col("hr_last"), col("temp_last"), fio2)


def import_psv(psv_dir: Path, out: Path, *, node: str = "node") -> dict[str, Any]:
    """Step 1: the TypeScript importer to NDJSON; returns its summary (counts)."""
    cli = REPO_ROOT / "bin" / "aepred.js"
    if not (REPO_ROOT / "dist" / "cli" / "main.js").exists():
        raise ChainError("dist/cli/main.js is missing: build the CLI first (npx tsc -p tsconfig.build.json)")
    out.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [node, str(cli), "import", "physionet2019", str(psv_dir), "--to", "dir", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "AEPRED_ROOT": str(REPO_ROOT)},
    )
    if proc.returncode != 0:
        raise ChainError(
            f"aepred import physionet2019 {psv_dir} exited {proc.returncode}: {proc.stderr[-2000:]}"
        )
    text = proc.stdout.strip()
    try:
        return dict(json.loads(text[text.index("{") :]))
    except ValueError:
        return {"stdout": text[-500:]}


def ndjson_to_bronze(ndjson: Path, lake: Path) -> dict[str, int]:
    """Step 2: per topic NDJSON -> bronze Parquet; the enrollment table beside it. Returns rows per topic."""
    from pipelines import bronze
    from pipelines.kubeflow.steps import ndjson_table
    from pipelines.testing.synth import write_topic

    rows: dict[str, int] = {}
    for topic in bronze.TOPICS:
        src = ndjson / f"{topic}.ndjson"
        if src.exists() and src.stat().st_size:
            rows[topic] = write_topic(lake, topic, ndjson_table(topic, src))
    enr = ndjson / "enrollment.ndjson"
    if not enr.exists():
        raise ChainError(f"{ndjson}: the importer wrote no enrollment.ndjson")
    (lake / "enrollment").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(enr, lake / "enrollment" / "enrollment.ndjson")
    return rows


def _event_span(lake: Path) -> tuple[datetime, datetime]:
    """[since, until): midnight of the first bronze event date to midnight after the last."""
    dates = sorted(p.name.removeprefix("date=") for p in (lake / "bronze").glob("*/date=*") if p.is_dir())
    if not dates:
        raise ChainError(f"{lake}: no bronze partitions (did the import write any events?)")
    first = datetime.fromisoformat(dates[0]).replace(tzinfo=UTC)
    last = datetime.fromisoformat(dates[-1]).replace(tzinfo=UTC)
    return first, last + timedelta(days=1)


def _onsets(lake: Path) -> pd.Series:
    """Sepsis onset (event time, ms) per patient from silver's adverse events."""
    import pyarrow.dataset as ds

    root = lake / "silver" / "adverse-events"
    if not root.exists():
        return pd.Series(dtype=np.int64)
    t = ds.dataset(root, format="parquet", partitioning="hive").to_table(
        columns=["patient_id", "event_time", "event_type"]
    )
    df = t.to_pandas()
    df = df[df["event_type"] == "sepsis"]
    ms = df["event_time"].astype("datetime64[ms, UTC]").astype("int64")
    return pd.Series(ms.to_numpy(), index=df["patient_id"].to_numpy()).groupby(level=0).min()


def _enrollment(lake: Path) -> pd.DataFrame:
    rows = [json.loads(x) for x in (lake / "enrollment" / "enrollment.ndjson").read_text().splitlines() if x]
    return pd.DataFrame(rows).set_index("patient_id")


def site_group(site_id: object) -> str:
    s = str(site_id or "").lower()
    return "MICU" if s.endswith("-micu") else "SICU" if s.endswith("-sicu") else "unknown"


def training_frame(lake: Path, fs: FeatureSet, since: datetime, until: datetime) -> pd.DataFrame:
    """Step 5: feature-store rows (patient, time order) + challenge labels + subgroups + NEWS2."""
    from pipelines.feature_store import get_training_frame

    frame = get_training_frame(since, until, root=lake / "features", fs=fs)
    if frame.empty:
        raise ChainError(f"{lake}: the feature store holds no rows in [{since}, {until})")
    frame = frame.sort_values(["patient_id", "snapshot_time"], kind="stable").reset_index(drop=True)
    t = frame["snapshot_time"].astype("datetime64[ms, UTC]").astype("int64").to_numpy()
    onset = frame["patient_id"].map(_onsets(lake)).to_numpy(dtype=np.float64, na_value=np.nan)
    store_label = frame["label"].to_numpy()
    frame = frame.drop(columns=["label", "label_complete"])
    for col, hours in LABEL_HOURS.items():
        frame[col] = (~np.isnan(onset) & (t >= onset - hours * HOUR_MS)).astype(np.int64)
    # The store's own label (an adverse event in (t, t + params horizon]) is kept for reference.
    frame["label_store"] = store_label.astype(np.int64)
    enr = _enrollment(lake)
    frame["sex"] = frame["patient_id"].map(enr["sex"]).fillna("U").to_numpy()
    frame["site"] = [site_group(s) for s in frame["patient_id"].map(enr["site_id"])]
    # hours since the first bronze day (= ICULOS with the importer's midnight anchor); not a feature
    frame["iculos"] = (t - int(since.timestamp() * 1000)) // HOUR_MS
    frame["news2"] = _news2_from_features(frame)
    return frame


def _rule_totals(rules: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rules:
        key = f"{r['topic']}:{r['rule']}"
        out[key] = out.get(key, 0) + int(r["rows"])
    return dict(sorted(out.items()))


def chain_frame(
    psv_dir: Path,
    work: Path,
    spark: SparkSession,
    *,
    params: Params,
    fs: FeatureSet,
    label_spark_jobs: bool = True,
) -> tuple[Path, dict[str, Any]]:
    """Steps 1-5 for one folder of .psv files into `work` (replaced). Returns the frame's folder
    (frame.parquet + feature_names.json, the layout `python -m ml train --data` reads) and timings."""
    from pipelines.features import run_features
    from pipelines.silver import Window_, run_silver
    from pipelines.units import default_units

    if not psv_dir.is_dir() or not any(psv_dir.glob("*.psv")):
        raise ChainError(f"{psv_dir}: not a folder of PhysioNet .psv files")
    shutil.rmtree(work, ignore_errors=True)
    lake = work / "lake"
    info: dict[str, Any] = {"psv_dir": str(psv_dir)}
    sc = spark.sparkContext
    t0 = time.perf_counter()
    info["import_summary"] = import_psv(psv_dir, work / "ndjson")
    t1 = time.perf_counter()
    info["bronze_rows"] = ndjson_to_bronze(work / "ndjson", lake)
    shutil.rmtree(work / "ndjson", ignore_errors=True)
    t2 = time.perf_counter()
    since, until = _event_span(lake)
    if label_spark_jobs:
        sc.setJobDescription(f"silver:{psv_dir.name}")
    report = run_silver(
        spark,
        str(lake),
        Window_(since, until),
        params=params,
        units=default_units(),
        fs=fs,
        processing_time=until + timedelta(days=1),
    )
    t3 = time.perf_counter()
    if label_spark_jobs:
        sc.setJobDescription(f"features:{psv_dir.name}")
    res = run_features(
        spark, str(lake), since, until, params=params, fs=fs, cadence_hours=1, log_mlflow=False, created=until
    )
    t4 = time.perf_counter()
    if label_spark_jobs:
        sc.setJobDescription(None)  # type: ignore[arg-type]
    frame = training_frame(lake, fs, since, until)
    dst = work / "frame"
    dst.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(dst / "frame.parquet", index=False)
    (dst / "feature_names.json").write_text(
        json.dumps(
            {
                "feature_names": list(fs.names),
                "feature_set_hash": fs.hash,
                "feature_set_version": str(fs.version),
            }
        )
    )
    t5 = time.perf_counter()
    info.update(
        {
            "window": [since.isoformat(), until.isoformat()],
            "silver_topics": report.topics,
            "silver_rules": _rule_totals(report.rules),
            "feature_rows": res["rows"],
            "rows": len(frame),
            "patients": int(frame["patient_id"].nunique()),
            "positive_patients": int(frame.groupby("patient_id")["label"].max().sum()),
            "seconds": {
                "import": round(t1 - t0, 1),
                "bronze": round(t2 - t1, 1),
                "silver": round(t3 - t2, 1),
                "features": round(t4 - t3, 1),
                "frame": round(t5 - t4, 1),
                "total": round(t5 - t0, 1),
            },
        }
    )
    return dst, info
