"""The offline feature store: Parquet partitioned by snapshot date, one folder per feature-set hash.

Layout (docs/features.md#store):
    <root>/<hash[:16]>/date=YYYY-MM-DD/part-00000.parquet   rows sorted by (snapshot_time, patient_id)
    <root>/<hash[:16]>/_feature_set.json                    name, dtype, unit, description per feature,
                                                            hash, created, statistics
A model trained on one folder can never silently read features of another definition.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from ml.paths import LOCAL_DIR
from pipelines.featureset import FeatureSet, default_feature_set

TS = pa.timestamp("ms", tz="UTC")


def folder(root: str | Path, fs: FeatureSet) -> Path:
    return Path(root) / fs.hash[:16]


def arrow_schema(fs: FeatureSet) -> pa.Schema:
    fields = [pa.field("patient_id", pa.string(), False), pa.field("snapshot_time", TS, False)]
    fields += [pa.field(f.name, pa.int32() if f.dtype == "int32" else pa.float64()) for f in fs.features]
    fields += [pa.field("label", pa.int32(), False), pa.field("label_complete", pa.int32(), False)]
    return pa.schema(fields, metadata={"aepred.feature_set_hash": fs.hash})


def canonical_table(table: pa.Table, fs: FeatureSet) -> pa.Table:
    """Typed per the definition (NaN -> null), sorted by (snapshot_time, patient_id), date column kept."""
    sch = arrow_schema(fs)
    cols = []
    for f in sch:
        col = table.column(f.name)
        if f.name == "snapshot_time":
            col = pc.cast(col, pa.int64()).cast(TS)
        elif pa.types.is_floating(f.type) or pa.types.is_integer(f.type):
            arr = col.to_numpy(zero_copy_only=False).astype(np.float64)
            mask = ~np.isfinite(arr) if f.name not in ("label", "label_complete") else None
            if pa.types.is_integer(f.type):
                col = pa.array(np.nan_to_num(arr).astype(np.int32), mask=mask)
            else:
                col = pa.array(arr, mask=mask)
        cols.append(col)
    out = pa.Table.from_arrays(cols, schema=sch)
    out = out.append_column("date", table.column("date"))
    return out.sort_by([("snapshot_time", "ascending"), ("patient_id", "ascending")])


def write(root: str | Path, table: pa.Table, fs: FeatureSet) -> list[str]:
    """One file per date, replacing that date's previous file; returns the written paths."""
    base = folder(root, fs)
    written = []
    dates = table.column("date").to_numpy(zero_copy_only=False)
    body = table.drop(["date"])
    for d in sorted(set(dates.tolist())):
        part = body.filter(pa.array(dates == d))
        out = base / f"date={d}"
        out.mkdir(parents=True, exist_ok=True)
        for old in out.glob("*.parquet"):
            old.unlink()
        path = out / "part-00000.parquet"
        # Fixed writer options: same rows -> same bytes (no timestamps or random ids in the file).
        pq.write_table(part, path, compression="zstd", row_group_size=1 << 20, write_statistics=True)
        written.append(str(path))
    return written


def statistics(table: pa.Table, fs: FeatureSet) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {}
    n = table.num_rows
    for f in fs.features:
        arr = table.column(f.name).to_numpy(zero_copy_only=False).astype(np.float64)
        ok = arr[np.isfinite(arr)]

        def val(x: float) -> float | None:
            return None if math.isnan(x) else float(x)

        out[f.name] = {
            "min": val(float(ok.min())) if ok.size else None,
            "max": val(float(ok.max())) if ok.size else None,
            "mean": val(float(ok.mean())) if ok.size else None,
            "std": val(float(ok.std(ddof=1))) if ok.size > 1 else None,
            "missing_pct": (100.0 * (n - ok.size) / n) if n else 0.0,
        }
    return out


class StatisticsAccumulator:
    """`statistics` over a table given in parts (one per date): count, min, max, mean and the sum of
    squared deviations merged with Chan et al.'s parallel formula, in the order the parts come."""

    def __init__(self, fs: FeatureSet) -> None:
        self.fs = fs
        self.rows = 0
        self._n = {f.name: 0 for f in fs.features}
        self._min = {f.name: math.inf for f in fs.features}
        self._max = {f.name: -math.inf for f in fs.features}
        self._mean = {f.name: 0.0 for f in fs.features}
        self._m2 = {f.name: 0.0 for f in fs.features}

    def add(self, table: pa.Table) -> None:
        self.rows += table.num_rows
        for f in self.fs.features:
            arr = table.column(f.name).to_numpy(zero_copy_only=False).astype(np.float64)
            ok = arr[np.isfinite(arr)]
            if not ok.size:
                continue
            n_b, mean_b = int(ok.size), float(ok.mean())
            m2_b = float(np.sum((ok - mean_b) ** 2))
            n_a, mean_a = self._n[f.name], self._mean[f.name]
            n = n_a + n_b
            delta = mean_b - mean_a
            self._mean[f.name] = mean_a + delta * n_b / n
            self._m2[f.name] += m2_b + delta * delta * n_a * n_b / n
            self._n[f.name] = n
            self._min[f.name] = min(self._min[f.name], float(ok.min()))
            self._max[f.name] = max(self._max[f.name], float(ok.max()))

    def result(self) -> dict[str, dict[str, float | None]]:
        out: dict[str, dict[str, float | None]] = {}
        for f in self.fs.features:
            k = self._n[f.name]
            out[f.name] = {
                "min": self._min[f.name] if k else None,
                "max": self._max[f.name] if k else None,
                "mean": self._mean[f.name] if k else None,
                "std": math.sqrt(self._m2[f.name] / (k - 1)) if k > 1 else None,
                "missing_pct": (100.0 * (self.rows - k) / self.rows) if self.rows else 0.0,
            }
        return out


def write_metadata(
    root: str | Path, fs: FeatureSet, stats: dict[str, dict[str, float | None]], created: datetime
) -> Path:
    meta = {
        "feature_set_hash": fs.hash,
        "feature_set_version": fs.version,
        "created": created.astimezone(UTC).isoformat(),
        "features": [
            {
                "name": f.name,
                "dtype": f.dtype,
                "unit": f.unit,
                "description": f.description,
                "statistics": stats[f.name],
            }
            for f in fs.features
        ],
    }
    path = folder(root, fs) / "_feature_set.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(meta, indent=2) + "\n")
    return path


def read_metadata(root: str | Path, fs: FeatureSet | None = None) -> dict[str, Any]:
    fs = fs or default_feature_set()
    data: dict[str, Any] = json.loads((folder(root, fs) / "_feature_set.json").read_text())
    return data


def get_training_frame(
    start: datetime | str,
    end: datetime | str,
    *,
    root: str | Path | None = None,
    fs: FeatureSet | None = None,
    entities: pd.DataFrame | None = None,
    complete_only: bool = False,
) -> pd.DataFrame:
    """Feature rows with snapshot_time in [start, end), in the definition's column order.

    With `entities` (columns patient_id, timestamp), an as-of join instead: for each entity row the
    latest snapshot at or before its timestamp (never after: no future leaks), NaN where none exists.
    """
    fs = fs or default_feature_set()
    base = folder(root or LOCAL_DIR / "lake" / "features", fs)
    lo, hi = (
        pd.Timestamp(start, tz="UTC") if isinstance(start, str) else pd.Timestamp(start),
        pd.Timestamp(end),
    )
    if hi.tzinfo is None:
        hi = hi.tz_localize("UTC")
    if lo.tzinfo is None:
        lo = lo.tz_localize("UTC")
    dataset = ds.dataset(base, format="parquet", partitioning="hive")
    flt = (ds.field("date") >= str(lo.date())) & (ds.field("date") <= str(hi.date()))
    table = dataset.to_table(filter=flt)
    df = table.to_pandas().drop(columns=["date"], errors="ignore")
    df = df[(df["snapshot_time"] >= lo) & (df["snapshot_time"] < hi)]
    if complete_only:
        df = df[df["label_complete"] == 1]
    df = df.sort_values(["snapshot_time", "patient_id"], kind="stable").reset_index(drop=True)
    if entities is None:
        return df
    ent = entities.copy()
    ent["timestamp"] = pd.to_datetime(ent["timestamp"], utc=True).astype(df["snapshot_time"].dtype)
    ent = ent.sort_values("timestamp", kind="stable")
    joined = pd.merge_asof(
        ent,
        df.sort_values("snapshot_time"),
        left_on="timestamp",
        right_on="snapshot_time",
        by="patient_id",
        direction="backward",
    )
    return joined.sort_index()
