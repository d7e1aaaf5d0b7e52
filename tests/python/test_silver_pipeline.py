"""Silver and features end to end on a synthetic bronze lake with injected faults (Spark local[2]).

One lake is built and processed once per module; each test asserts one rule on the result.
"""

from __future__ import annotations

import json
import math
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import yaml
from pyspark.sql import SparkSession

from ml.params import Params
from ml.paths import REPO_ROOT
from pipelines.feature_store import get_training_frame, read_metadata
from pipelines.features import compute_frame, run_features
from pipelines.featureset import default_feature_set
from pipelines.silver import QualityReport, Window_, run_silver
from pipelines.testing.spark_session import spark  # noqa: F401  (session fixture)
from pipelines.testing.synth import synthesize
from pipelines.units import default_units

SINCE = datetime(2024, 1, 1, tzinfo=UTC)
UNTIL = datetime(2024, 1, 5, tzinfo=UTC)
NOW = datetime(2024, 2, 1, tzinfo=UTC)


def _params() -> Params:
    # The sections this pipeline reads, from the repository's params.yaml (other sections are other
    # components' business and may be mid-edit).
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    return Params.model_construct(
        **{k: v for k, v in Params.model_validate({**_minimal(raw)}).__dict__.items()}
    )


def _minimal(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: raw[k] for k in Params.model_fields if k in raw}


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory, spark: SparkSession) -> dict[str, Any]:  # noqa: F811
    root = tmp_path_factory.mktemp("lake")
    fixture = synthesize(root, patients=12, days=4, seed=11, faults=True)
    report = run_silver(
        spark,
        str(root),
        Window_(SINCE, UNTIL),
        params=_params(),
        units=default_units(),
        fs=default_feature_set(),
        processing_time=NOW,
    )
    result = run_features(
        spark,
        str(root),
        SINCE,
        UNTIL,
        params=_params(),
        fs=default_feature_set(),
        cadence_hours=6,
        log_mlflow=False,
    )
    return {"root": root, "fixture": fixture, "report": report, "result": result}


def _silver(root: Path, topic: str) -> pa.Table:
    return ds.dataset(root / "silver" / topic, format="parquet", partitioning="hive").to_table()


def _rule(report: QualityReport, topic: str, rule: str) -> int:
    return sum(r["rows"] for r in report.rules if r["topic"] == topic and r["rule"] == rule)


def test_duplicates_are_removed_once(lake: dict[str, Any]) -> None:
    vit = _silver(lake["root"], "patient-vitals").to_pandas()
    assert lake["report"].topics["patient-vitals"]["duplicates_removed"] == 50
    assert not vit.duplicated(["patient_id", "event_time", "source"]).any()


def test_range_rule_counts_and_excludes(lake: dict[str, Any]) -> None:
    vit = _silver(lake["root"], "patient-vitals").to_pandas()
    # The fault injector sets heart rate 250 on the first n // 500 vitals of day 0 (12 patients x 288).
    assert _rule(lake["report"], "patient-vitals", "range_heart_rate") == 12 * 288 // 500
    assert vit["heart_rate"].max() <= 200


def test_unknown_patient_is_kept_out(lake: dict[str, Any]) -> None:
    vit = _silver(lake["root"], "patient-vitals").to_pandas()
    assert _rule(lake["report"], "patient-vitals", "unknown_patient") == 1
    assert "GHOST1" not in set(vit["patient_id"])


def test_future_timestamp_rule(spark: SparkSession, tmp_path: Path) -> None:  # noqa: F811
    # Processing time before the data: every row is in the future.
    synthesize(tmp_path, patients=2, days=1, seed=3)
    report = run_silver(
        spark,
        str(tmp_path),
        Window_(SINCE, datetime(2024, 1, 2, tzinfo=UTC)),
        params=_params(),
        units=default_units(),
        fs=default_feature_set(),
        processing_time=datetime(2024, 1, 1, 12, tzinfo=UTC),
    )
    vit = report.topics["patient-vitals"]
    ts = ds.dataset(tmp_path / "bronze" / "patient-vitals", format="parquet", partitioning="hive").to_table()
    late = int((ts.column("timestamp").cast(pa.int64()).to_numpy() > 1704110400000).sum())  # 12:00Z
    assert late > 0 and _rule(report, "patient-vitals", "future_timestamp") == late
    assert vit["rows_out"] == vit["rows_in"] - vit["rows_rejected"]


def test_units_standardized(lake: dict[str, Any]) -> None:
    vit = _silver(lake["root"], "patient-vitals").to_pandas()
    assert vit["temperature"].between(34, 41).all()  # Fahrenheit devices converted
    assert set(vit["temperature_unit"].dropna()) == {"C"}
    labs = _silver(lake["root"], "lab-results").to_pandas()
    creat = labs[labs["test_code"] == "CREAT"]
    assert set(creat["unit"]) == {"mg/dL"}
    assert set(creat["original_unit"]) == {"mg/dL", "umol/L"}
    assert creat["value"].between(0.2, 3).all()


def test_forward_fill_flags(lake: dict[str, Any]) -> None:
    vit = _silver(lake["root"], "patient-vitals").to_pandas()
    filled = vit[vit["heart_rate_imputed"]]
    assert len(filled) > 0 and filled["heart_rate"].notna().all()
    assert (vit["heart_rate"].isna() == ~vit["heart_rate_imputed"] & vit["heart_rate"].isna()).all()


def test_partitioned_by_date_and_site(lake: dict[str, Any]) -> None:
    parts = {
        p.parent.name
        for p in (lake["root"] / "silver" / "patient-vitals").glob("date=*/trial_site_id=*/*.parquet")
    }
    assert parts == {"trial_site_id=SIM01__S01", "trial_site_id=SIM01__S02", "trial_site_id=SIM01__S03"}


def test_feature_store_rows_metadata_and_asof(lake: dict[str, Any]) -> None:
    fs = default_feature_set()
    df = get_training_frame(SINCE, UNTIL, root=lake["root"] / "features")
    assert list(df.columns[2 : 2 + len(fs.names)]) == fs.names
    assert df["patient_id"].nunique() == 12 and len(df) == lake["result"]["rows"]
    meta = read_metadata(lake["root"] / "features")
    assert meta["feature_set_hash"] == fs.hash
    assert {"min", "max", "mean", "std", "missing_pct"} <= set(meta["features"][0]["statistics"])
    t = df["snapshot_time"].iloc[-1]
    ent = df[["patient_id"]].iloc[[-1]].assign(timestamp=t + np.timedelta64(3, "h"))
    joined = get_training_frame(SINCE, UNTIL, root=lake["root"] / "features", entities=ent)
    assert joined["snapshot_time"].iloc[0] == t  # latest snapshot at or before, never after


def test_point_in_time_changing_the_future_does_not_move_features(
    lake: dict[str, Any],
    spark: SparkSession,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Rewrite every event after t for sampled patients; their feature rows at <= t must not change."""
    fs = default_feature_set()
    cut = np.datetime64("2024-01-03T00:00:00", "ms")
    copy = tmp_path / "lake"
    shutil.copytree(lake["root"], copy)
    for crc in copy.rglob(".*.crc"):  # Hadoop checksums of the files rewritten below
        crc.unlink()
    sampled = {"P00001", "P00004", "P00007"}
    for topic in ("patient-vitals", "lab-results", "adverse-events", "medications"):
        for f in (copy / "silver" / topic).rglob("*.parquet"):
            t = pq.read_table(f)
            pid = np.isin(t.column("patient_id").to_numpy(zero_copy_only=False), list(sampled))
            ev = t.column("event_time").cast(pa.int64()).to_numpy() > cut.astype(np.int64)
            arrival = t.column("arrival_time").cast(pa.int64()).to_numpy() > cut.astype(np.int64)
            hit = pid & (ev | arrival)
            if not hit.any():
                continue
            cols = {}
            for name in t.column_names:
                col = t.column(name)
                if name in ("heart_rate", "blood_pressure_systolic", "value", "temperature"):
                    x = col.to_numpy(zero_copy_only=False).astype(float)
                    cols[name] = pa.array(np.where(hit, x * 1.7 + 3, x), type=col.type)
                else:
                    cols[name] = col
            pq.write_table(pa.table(cols, schema=t.schema), f)
    before = compute_frame(
        spark, str(lake["root"]), SINCE, UNTIL, params=_params(), fs=fs, cadence_hours=6
    ).to_pandas()
    after = compute_frame(
        spark, str(copy), SINCE, UNTIL, params=_params(), fs=fs, cadence_hours=6
    ).to_pandas()
    cut_ts = pd.Timestamp(cut, tz="UTC")

    def sel(d: pd.DataFrame) -> pd.DataFrame:
        return d[d["patient_id"].isin(sampled) & (d["snapshot_time"] <= cut_ts)]

    b, a = sel(before), sel(after)
    assert len(b) > 10
    assert b[fs.names].reset_index(drop=True).equals(a[fs.names].reset_index(drop=True))
    later_b = before[before["patient_id"].isin(sampled)][fs.names]
    later_a = after[after["patient_id"].isin(sampled)][fs.names]
    assert not later_b.reset_index(drop=True).equals(later_a.reset_index(drop=True))  # the change was real


def test_same_silver_gives_byte_identical_feature_files(
    lake: dict[str, Any],
    spark: SparkSession,  # noqa: F811
    tmp_path: Path,
) -> None:
    first = sorted((lake["root"] / "features").rglob("*.parquet"))
    run_features(
        spark,
        str(lake["root"]),
        SINCE,
        UNTIL,
        params=_params(),
        fs=default_feature_set(),
        cadence_hours=6,
        log_mlflow=False,
        out=str(tmp_path / "again"),
    )
    second = sorted((tmp_path / "again").rglob("*.parquet"))
    assert [p.name for p in first] == [p.name for p in second] and len(first) == 4
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second, strict=True))


def test_chunked_collect_gives_the_same_files_and_statistics(
    lake: dict[str, Any],
    spark: SparkSession,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Above the collect limit rows reach the driver one date (and patient-hash bucket) at a time; the
    files must not depend on it (forced here with a limit of three rows)."""
    from pipelines.features import _row_bytes

    fs = default_feature_set()
    first = sorted((lake["root"] / "features").rglob("*.parquet"))
    result = run_features(
        spark,
        str(lake["root"]),
        SINCE,
        UNTIL,
        params=_params(),
        fs=fs,
        cadence_hours=6,
        log_mlflow=False,
        out=str(tmp_path / "chunked"),
        collect_limit_bytes=3 * _row_bytes(fs),
    )
    second = sorted((tmp_path / "chunked").rglob("*.parquet"))
    assert result["rows"] > 3 and len(second) == 4
    assert [p.name for p in first] == [p.name for p in second]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second, strict=True))
    meta_a = json.loads(next((lake["root"] / "features").rglob("_feature_set.json")).read_text())
    meta_b = json.loads(next((tmp_path / "chunked").rglob("_feature_set.json")).read_text())
    for fa, fb in zip(meta_a["features"], meta_b["features"], strict=True):
        for key, va in fa["statistics"].items():
            vb = fb["statistics"][key]
            assert (va is None and vb is None) or math.isclose(va, vb, rel_tol=1e-12, abs_tol=1e-12), (
                fa["name"],
                key,
                va,
                vb,
            )
