"""Against the stack's MLflow (Postgres + S3): train a tiny model, register it as `staging`, promote
it to `production`, read it back through the alias, and check that the next candidate is compared
with it on the same test set."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest
import yaml

from ml import onnx_export, registry
from ml.data import synthetic_frame
from ml.params import load_params
from ml.paths import REPO_ROOT
from ml.recipe import TrainConfig
from ml.train import Options, train

pytestmark = pytest.mark.integration


def test_candidate_staging_production_round_trip(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    svc = yaml.safe_load((REPO_ROOT / "ops/local/stack.yaml").read_text())["services"]
    uri = f"http://127.0.0.1:{svc['mlflow']['port']}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    data = tmp_path / "frame.parquet"
    synthetic_frame(n_patients=300, hours=12, n_features=6, seed=11).to_parquet(data)
    base = load_params()
    name = f"aepred-test-{uuid.uuid4().hex[:8]}"
    # gates loosened for a 2-epoch toy model; the gate logic itself is tested in test_gates_logic.py
    params = base.model_copy(
        update={
            "training": base.training.model_copy(update={"registered_model": name}),
            "gates": base.gates.model_copy(
                update={"min_auroc": 0.5, "max_ece": 0.5, "max_subgroup_auroc_gap": 0.9}
            ),
        }
    )
    cfg = TrainConfig(data=data, out_dir=tmp_path / "a", params=params, device="cpu", max_epochs=2)
    first = train(cfg, Options(register=True, run_name="registry-roundtrip"))
    assert first["registered_version"] is not None, first["decision"]

    client = MlflowClient(tracking_uri=uri)
    staged = registry.aliased(client, name, registry.STAGING, tmp_path / "dl")
    assert staged is not None and staged.version == first["registered_version"]
    assert staged.feature_set_hash == first["feature_set_hash"]
    assert onnx_export.read_metadata(staged.onnx_path)["feature_set_hash"] == first["feature_set_hash"]

    registry.promote(client, name, staged.version)
    prod = registry.aliased(client, name, registry.PRODUCTION, tmp_path / "dl2")
    assert prod is not None and prod.version == staged.version

    # the same data and seed again: no 2-point AUROC gain over production, so not staged
    second = train(
        TrainConfig(data=data, out_dir=tmp_path / "b", params=params, device="cpu", max_epochs=2),
        Options(register=True),
    )
    decision = second["decision"]
    assert decision["production_auroc"] is not None
    assert np.isclose(decision["production_auroc"], first["metrics"]["test_auroc"], atol=1e-6)
    assert decision["promote"] is False and second["registered_version"] is None
    run = client.get_run(second["run_id"])
    assert run.data.tags["candidate"] == "false"
    assert {"git_commit", "data_version", "training_duration"} <= set(run.data.tags)
    assert "test_ece" in run.data.metrics and "production_test_auroc" in run.data.metrics
