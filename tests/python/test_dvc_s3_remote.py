"""The `s3` DVC remote of .dvc/config (issue 10) against the stack's MinIO: push from one repository,
pull into a clone, bytes equal. Uses the committed remote definition, credentials from stack.yaml."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DVC = str(ROOT / ".venv" / "bin" / "dvc")
pytestmark = pytest.mark.integration


def _sh(cwd: Path, env: dict[str, str], *cmd: str) -> str:
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert r.returncode == 0, f"{' '.join(cmd)}:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
    return r.stdout


def test_push_and_pull_through_the_stack_s3_remote(tmp_path: Path) -> None:
    import boto3

    minio = yaml.safe_load((ROOT / "ops/local/stack.yaml").read_text())["services"]["minio"]
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": str(minio["access_key"]),
        "AWS_SECRET_ACCESS_KEY": str(minio["secret_key"]),
    }
    config = (ROOT / ".dvc" / "config").read_text()
    assert f"endpointurl = http://127.0.0.1:{minio['port']}" in config
    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{minio['port']}",
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=str(minio["region"]),
    )
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket="aepred-dvc")

    a = tmp_path / "a"
    a.mkdir()
    _sh(a, env, "git", "init", "-q")
    _sh(a, env, DVC, "init", "-q")
    shutil.copyfile(ROOT / ".dvc" / "config", a / ".dvc" / "config")
    # A run-unique prefix inside the configured bucket, so tests never share objects.
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    _sh(a, env, DVC, "remote", "modify", "--local", "s3", "url", f"s3://aepred-dvc/{prefix}")
    (a / "data").mkdir()
    payload = os.urandom(4096)
    (a / "data" / "snapshot.bin").write_bytes(payload)
    _sh(a, env, DVC, "add", "data/snapshot.bin")
    _sh(a, env, "git", "add", "-A")
    _sh(a, env, "git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "data")
    _sh(a, env, DVC, "push", "-r", "s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="aepred-dvc", Prefix=prefix).get("Contents", [])]
    assert keys, "nothing reached MinIO"

    b = tmp_path / "b"
    _sh(tmp_path, env, "git", "clone", "-q", str(a), str(b))
    _sh(b, env, DVC, "remote", "modify", "--local", "s3", "url", f"s3://aepred-dvc/{prefix}")
    _sh(b, env, DVC, "pull", "-r", "s3")
    assert (b / "data" / "snapshot.bin").read_bytes() == payload
    for k in keys:
        s3.delete_object(Bucket="aepred-dvc", Key=k)
