"""Training reads the offline feature store (issue 5) and stamps the definition's hash on the model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from ml import onnx_export
from ml.params import load_params
from ml.recipe import FlagError, TrainConfig, validate_config
from ml.train import Options, train
from pipelines import feature_store
from pipelines.featureset import default_feature_set


def _store(root: Path, n_patients: int = 120, days: int = 8) -> None:
    fs = default_feature_set()
    rng = np.random.default_rng(0)
    rows = n_patients * days
    t0 = pd.Timestamp("2026-01-01", tz="UTC")
    times = pd.DatetimeIndex([t0 + pd.Timedelta(days=d) for _ in range(n_patients) for d in range(days)])
    data: dict[str, object] = {
        "patient_id": [f"P{i:04d}" for i in range(n_patients) for _ in range(days)],
        # epoch milliseconds: the store's canonical_table reads the column as ms
        "snapshot_time": pa.array(times.as_unit("ms").asi8, type=pa.int64()),
    }
    x = rng.normal(size=(rows, len(fs.names)))
    for j, f in enumerate(fs.features):
        data[f.name] = x[:, j].round() if f.dtype == "int32" else x[:, j]
    risk = 1 / (1 + np.exp(-(-2.5 + 1.5 * x[:, 0])))
    data["label"] = (rng.random(rows) < risk).astype(np.int32)
    data["label_complete"] = np.ones(rows, dtype=np.int32)
    data["date"] = [str(t.date()) for t in times]
    table = feature_store.canonical_table(pa.table(data), fs)
    feature_store.write(root, table, fs)


def test_train_from_the_feature_store_carries_its_hash(tmp_path: Path) -> None:
    _store(tmp_path / "store")
    cfg = TrainConfig(
        data=None,
        out_dir=tmp_path / "run",
        params=load_params(),
        device="cpu",
        max_epochs=2,
        feature_store=tmp_path / "store",
        start="2026-01-01",
        end="2026-02-01",
    )
    validate_config(cfg, mlflow_enabled=False, register=False)
    summary = train(cfg, Options(mlflow=False))
    fs = default_feature_set()
    assert summary["feature_set_hash"] == fs.hash
    meta = onnx_export.read_metadata(tmp_path / "run" / "model" / "model.onnx")
    assert meta["feature_set_hash"] == fs.hash
    assert json.loads(meta["feature_names"]) == list(fs.names)


def test_data_and_feature_store_are_exclusive(tmp_path: Path) -> None:
    cfg = TrainConfig(
        data=tmp_path / "x.parquet", out_dir=tmp_path, params=load_params(), feature_store=tmp_path
    )
    with pytest.raises(FlagError, match=r"--data.*--feature-store"):
        validate_config(cfg, mlflow_enabled=False, register=False)
