"""S3 lifecycle rules (issue 10) on the stack's MinIO: PutBucketLifecycleConfiguration, read back."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from ml.params import load_params
from pipelines import retention

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


@pytest.fixture
def s3() -> Any:
    import boto3

    svc = yaml.safe_load((ROOT / "ops/local/stack.yaml").read_text())["services"]["minio"]
    return boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{svc['port']}",
        aws_access_key_id=str(svc["access_key"]),
        aws_secret_access_key=str(svc["secret_key"]),
        region_name=str(svc["region"]),
    )


@pytest.mark.parametrize("models_bucket", [False, True], ids=["lake", "models"])
def test_lifecycle_rules_are_stored_by_minio(s3: Any, models_bucket: bool) -> None:
    bucket = f"aepred-retention-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    try:
        r = load_params().retention
        cfg = retention.lifecycle_configuration(r, models_bucket=models_bucket)
        stored = retention.apply_s3(s3, bucket, cfg)
        # Read back independently of apply_s3's own check.
        back = {x["ID"]: x for x in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
        assert set(back) == {x["ID"] for x in cfg["Rules"]} == {x["ID"] for x in stored}
        for rule in cfg["Rules"]:
            got = back[rule["ID"]]
            assert got["Status"] == "Enabled"
            assert got["Expiration"]["Days"] == rule["Expiration"]["Days"]
            assert got["Filter"].get("Prefix", "") == rule["Filter"]["Prefix"]
        days = sorted({x["Expiration"]["Days"] for x in back.values()})
        assert days == ([r.models_days] if models_bucket else [r.models_days, r.raw_days])
    finally:
        s3.delete_bucket_lifecycle(Bucket=bucket)
        s3.delete_bucket(Bucket=bucket)
