"""Against the stack's MLflow server: a run's artifacts land in the S3 object store (MinIO)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml

from ml import tracking
from ml.paths import REPO_ROOT

pytestmark = pytest.mark.integration


def _stack() -> dict[str, dict[str, object]]:
    cfg = yaml.safe_load((REPO_ROOT / "ops/local/stack.yaml").read_text())
    services: dict[str, dict[str, object]] = cfg["services"]
    return services


def test_run_artifacts_are_stored_in_s3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import boto3

    svc = _stack()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{svc['mlflow']['port']}")
    ids = tracking.smoke(f"py-stack-{uuid.uuid4()}", "stack", local_dir=tmp_path)
    assert ids["mode"] == "server"

    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{svc['minio']['port']}",
        aws_access_key_id=str(svc["minio"]["access_key"]),
        aws_secret_access_key=str(svc["minio"]["secret_key"]),
        region_name=str(svc["minio"]["region"]),
    )
    bucket = str(svc["mlflow"]["artifact_bucket"])
    keys = [
        o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []) if ids["run_id"] in o["Key"]
    ]
    assert any(k.endswith("feature_names.json") for k in keys), keys
