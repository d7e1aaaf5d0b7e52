"""The embedded MLflow mode (SQLite + local artifacts) is a real mode: log a run and read it back."""

from pathlib import Path

import pytest

from ml import tracking


def test_embedded_mode_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    target = tracking.resolve_target(tmp_path)
    assert target.mode == "embedded"
    assert target.tracking_uri == f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"

    ids = tracking.smoke("embedded-test", "r1", local_dir=tmp_path)

    from mlflow.tracking import MlflowClient

    run = MlflowClient(tracking_uri=target.tracking_uri).get_run(ids["run_id"])
    assert run.data.params["learning_rate"] == "0.001"
    assert run.data.metrics["val_auroc"] == pytest.approx(0.81)
    assert run.data.tags["aepred.smoke"] == "true"
    assert (tmp_path / "mlflow" / "artifacts").exists()
    assert ids["mode"] == "embedded"


def test_server_mode_when_env_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:55000")
    target = tracking.resolve_target()
    assert (target.mode, target.tracking_uri) == ("server", "http://127.0.0.1:55000")
