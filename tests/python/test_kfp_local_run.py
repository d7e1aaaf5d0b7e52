"""The whole Kubeflow pipeline runs locally (kfp.local.SubprocessRunner, issue 10) on a tiny simulated
trial: every component executes, and the run yields a model, an evaluation report, a decision, the DVC
data version and the git commit. MLflow is the embedded SQLite store in a temporary folder."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from pipelines.kubeflow.__main__ import run_local

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (ROOT / "dist" / "cli" / "main.js").exists(),
    reason="the simulator needs node and a built CLI (make build)",
)


def test_pipeline_runs_end_to_end_locally(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("AEPRED_LOCAL_DIR", str(tmp_path / "local"))
    monkeypatch.setenv("AEPRED_SPARK_MASTER", "local[2]")
    out = run_local(
        {
            "start_date": "2024-01-01T00:00:00Z",
            "end_date": "2024-01-22T00:00:00Z",
            "source": "simulate",
            "params": {
                "pipeline": {"simulate": {"patients": 16, "days": 21, "seed": 7}},
                "training": {"max_epochs": 5},
            },
        },
        tmp_path / "root",
    )
    assert set(out) == {
        "model",
        "evaluation_report",
        "decision",
        "dvc_data_version",
        "git_commit",
        "registered_version",
    }
    model_dir = Path(out["model"]["uri"])
    assert (model_dir / "model" / "model.onnx").stat().st_size > 0
    assert out["model"]["metadata"]["mlflow_run_id"]
    report = json.loads(Path(out["evaluation_report"]["uri"]).read_text())
    assert 0.0 <= report["test"]["test_auroc"] <= 1.0
    assert out["decision"] in {"promote", "reject"}
    assert report["promote"] == (out["decision"] == "promote")
    # A rejected model never reaches the registry; a promoted one holds `staging`.
    if out["decision"] == "reject":
        assert out["registered_version"] == ""
    else:
        assert out["registered_version"].isdigit()
    assert re.fullmatch(r"[0-9a-f]{32}\.dir", out["dvc_data_version"])
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?", out["git_commit"])
    # The validation report carries the source Kafka offsets of the snapshot.
    reports = list((tmp_path / "root").rglob("validate-data/report"))
    assert len(reports) == 1
    validation = json.loads(reports[0].read_text())
    assert validation["passed"] and validation["patients"] == 16
    assert validation["kafka_offsets"]["patient-vitals"]["0"]["rows"] == validation["rows"]["patient-vitals"]
