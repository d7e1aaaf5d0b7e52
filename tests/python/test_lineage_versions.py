"""Lineage's first link (issue 10): the model_version an audit row carries -> the MLflow registry
version, on a real MLflow store (the embedded SQLite one, in a temporary folder).

The service audits the ONNX metadata's model_version; a model trained by `ml train` carries
"<registered model>@<commit12>" there, not a registry number, so lineage resolves it through the
runs' git_commit tags; registry numbers and models:/ URIs still resolve directly."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pipelines.lineage import LineageError, model_and_run


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    from mlflow.tracking import MlflowClient

    from ml import tracking

    target = tracking.configure(tmp_path)
    return MlflowClient(tracking_uri=target.tracking_uri), tracking.ensure_experiment("lineage", target)


def _version(client, exp: str, name: str, commit: str) -> str:  # type: ignore[no-untyped-def]
    from ml import registry

    run = client.create_run(exp, tags={"git_commit": commit, "data_version": "abc.dir"})
    client.set_terminated(run.info.run_id)
    return registry.register_candidate(client, name, run.info.run_id, run.info.artifact_uri, {})


def test_registry_numbers_and_uris_resolve_directly(client) -> None:  # type: ignore[no-untyped-def]
    c, exp = client
    v = _version(c, exp, "m", "a" * 40)
    assert model_and_run(c, "m", v)["model"]["version"] == v
    assert model_and_run(c, "other-default", f"models:/m/{v}")["model"]["name"] == "m"


def test_ml_train_stamp_resolves_through_the_runs_commit(client) -> None:  # type: ignore[no-untyped-def]
    c, exp = client
    other = _version(c, exp, "m", "b" * 40)
    mine = _version(c, exp, "m", "c" * 40)
    out = model_and_run(c, "m", f"m@{'c' * 12}")
    assert out["model"]["version"] == mine != other
    assert out["model"]["audited_as"] == f"m@{'c' * 12}"
    assert out["mlflow_run"]["git_commit"] == "c" * 40
    assert out["ambiguous"] == []
    # The version's aliases come with it (MLflow's search leaves them empty: mlflow/mlflow#9783).
    c.set_registered_model_alias("m", "production", mine)
    assert "production" in model_and_run(c, "m", f"m@{'c' * 12}")["model"]["aliases"]
    with pytest.raises(LineageError, match="no version of registered model 'm'"):
        model_and_run(c, "m", f"m@{'d' * 12}")
    with pytest.raises(LineageError, match="not a git commit"):
        model_and_run(c, "m", "m@main")


def test_one_commit_retrained_twice_picks_the_newest_before_the_prediction(client) -> None:  # type: ignore[no-untyped-def]
    c, exp = client
    first = _version(c, exp, "m", "e" * 40)
    time.sleep(0.01)
    between = int(time.time() * 1000)
    time.sleep(0.01)
    second = _version(c, exp, "m", "e" * 40)
    now = int(time.time() * 1000) + 1
    out = model_and_run(c, "m", f"m@{'e' * 12}", before_ms=now)
    assert out["model"]["version"] == second
    assert out["ambiguous"] and f"chose {second}" in out["ambiguous"][0]
    # A prediction made before the second registration was served by the first.
    early = model_and_run(c, "m", f"m@{'e' * 12}", before_ms=between)
    assert early["model"]["version"] == first and early["ambiguous"] == []
