"""`aepred lineage <prediction-id>` (issue 10) against real stores: a prediction.served row in the
stack's Postgres audit trail, a registered model version in MLflow (embedded store), a DVC-tracked
raw snapshot produced by `dvc repro raw` (the simulator) and committed in a git clone, whose manifest
DVC reads back for the Kafka offsets.

The model here is registered from a run tagged as the pipeline tags it (data_version = DVC's md5,
git_commit), not trained: training needs the Spark stages, which test_dvc_repro.py covers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not (ROOT / "dist" / "cli" / "main.js").exists(), reason="needs make build"),
]


def _env(local: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"MLFLOW_TRACKING_URI", "AEPRED_ROOT"}}
    env["PATH"] = f"{VENV_BIN}:{env['PATH']}"
    env["AEPRED_LOCAL_DIR"] = str(local)
    return env


def _sh(cwd: Path, env: dict[str, str], *cmd: str) -> str:
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert r.returncode == 0, f"{' '.join(cmd)}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout


def _clone(dst: Path, env: dict[str, str]) -> Path:
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for f in filter(None, files):
        src = ROOT / f.decode()
        if src.is_file():
            (dst / f.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / f.decode())
    for link in ("dist", "node_modules"):
        (dst / link).symlink_to(ROOT / link)
    shutil.rmtree(dst / ".dvc" / "cache", ignore_errors=True)
    _sh(dst, env, "git", "init", "-q")
    _sh(dst, env, "git", "add", "-A")
    _sh(dst, env, "git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "clone")
    return dst


def _register(local: Path, data_version: str, commit: str) -> tuple[str, str]:
    """A run tagged as ml.train tags it, with a model/ folder, registered as a version."""
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    os.environ["AEPRED_LOCAL_DIR"] = str(local)
    import mlflow
    from mlflow.tracking import MlflowClient

    from ml import registry, tracking
    from ml.params import load_params

    target = tracking.configure(local)
    exp = tracking.ensure_experiment(tracking.EXPERIMENT, target)
    model_dir = local / "model"
    model_dir.mkdir(parents=True)
    (model_dir / "feature_names.json").write_text("[]")
    with mlflow.start_run(experiment_id=exp, run_name="lineage-test") as run:
        mlflow.set_tags({"data_version": data_version, "git_commit": commit})
        mlflow.log_artifacts(str(model_dir), "model")
        artifact_uri = run.info.artifact_uri
        run_id = run.info.run_id
    client = MlflowClient(tracking_uri=target.tracking_uri)
    version = registry.register_candidate(
        client,
        load_params().training.registered_model,
        run_id,
        str(artifact_uri),
        {"feature_set_hash": "test", "data_version": data_version},
    )
    return run_id, version


def _audit_prediction(model_version: str) -> int:
    import psycopg2

    stack = yaml.safe_load((ROOT / "ops/local/stack.yaml").read_text())["services"]["postgres"]
    dsn = f"postgresql://{stack['user']}:{stack['password']}@127.0.0.1:{stack['port']}/{stack['database']}"
    # As src/api/predicting.ts writes it: source_offsets is the actor's applied offsets when it scored.
    payload = {
        "feature_set_hash": "test",
        "probability": 0.42,
        "risk_level": "watch",
        "source_offsets": {"patient-vitals:0": "150"},
    }
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        # The columns the service's PgAuditLog writes; the database assigns seq, time and hash.
        cur.execute(
            "INSERT INTO audit_log (actor, action, subject, model_version, input_hash, correlation_id,"
            " payload) VALUES (%s, 'prediction.served', %s, %s, %s, %s, %s) RETURNING seq",
            (
                "key:lineage-test",
                "AEPSIM01-S01-0001",
                model_version,
                "ab" * 32,
                "lineage-test",
                json.dumps(payload, sort_keys=True, separators=(",", ":")),
            ),
        )
        row = cur.fetchone()
    assert row is not None
    return int(row[0])


def test_lineage_from_a_prediction_to_kafka_offsets(tmp_path: Path) -> None:
    local = tmp_path / "local"
    env = _env(local)
    _sh(ROOT, env, "node", "bin/aepred.js", "db", "migrate")
    repo = _clone(tmp_path / "repo", env)
    _sh(repo, env, "dvc", "repro", "raw")
    _sh(repo, env, "git", "add", "dvc.lock")
    # dvc.lock is unchanged when the committed lock already records these bytes (reproduced).
    _sh(
        repo, env, "git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "--allow-empty", "-qm", "raw"
    )
    commit = _sh(repo, env, "git", "rev-parse", "HEAD").strip()
    lock_commit = _sh(repo, env, "git", "log", "-1", "--format=%H", "--", "dvc.lock").strip()
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    md5 = next(o["md5"] for o in lock["stages"]["raw"]["outs"] if o["path"] == "data/lake/bronze")
    manifest = json.loads((repo / "data/lake/bronze/manifest.json").read_text())

    run_id, version = _register(local, md5, commit)
    seq = _audit_prediction(version)

    lake = tmp_path / "lake"
    bronze = lake / "bronze" / "patient-vitals" / "date=2024-06-01"
    bronze.mkdir(parents=True)
    for first, last in ((0, 99), (100, 199)):
        (bronze / f"part-p000-o{first:020d}-{last:020d}.parquet").touch()

    out = json.loads(
        _sh(ROOT, env, "node", "bin/aepred.js", "lineage", str(seq), "--repo", str(repo), "--lake", str(lake))
    )
    assert out["prediction"]["seq"] == seq
    assert out["prediction"]["subject"] == "AEPSIM01-S01-0001"
    assert out["model"]["version"] == version
    assert out["mlflow_run"]["run_id"] == run_id
    assert out["dvc"] == {
        "commit": lock_commit,
        "stage": "raw",
        "path": "data/lake/bronze",
        "md5": md5,
        "raw_snapshot": {"path": "data/lake/bronze", "md5": md5},
    }
    assert out["git_commit"] == commit
    assert out["training_data"]["kafka_offsets"] == manifest["kafka_offsets"]
    assert out["training_data"]["kafka_offsets"]["patient-vitals"]["0"]["rows"] > 0
    # The prediction's own events: its offsets resolved to the bronze file that holds them.
    assert out["sources"] == [
        {
            "topic": "patient-vitals",
            "partition": 0,
            "offset": "150",
            "files": [str(bronze / f"part-p000-o{100:020d}-{199:020d}.parquet")],
        }
    ]
    assert not any("kafka offsets of the events behind this prediction" in m for m in out["missing"])

    # The same prediction against a lake on the stack's MinIO (issue 8: --lake s3://bucket/prefix).
    from pipelines.lineage import stack_s3_client

    s3 = stack_s3_client()
    prefix = f"test-lineage-{seq}-{os.getpid()}"
    keys = [
        f"{prefix}/bronze/patient-vitals/date=2024-06-01/part-p000-o{a:020d}-{b:020d}.parquet"
        for a, b in ((0, 99), (100, 199))
    ]
    for k in keys:
        s3.put_object(Bucket="lake", Key=k, Body=b"")
    try:
        on_s3 = json.loads(
            _sh(
                ROOT,
                env,
                "node",
                "bin/aepred.js",
                "lineage",
                str(seq),
                "--repo",
                str(repo),
                "--lake",
                f"s3://lake/{prefix}",
            )
        )
    finally:
        s3.delete_objects(Bucket="lake", Delete={"Objects": [{"Key": k} for k in keys]})
    assert on_s3["sources"] == [
        {"topic": "patient-vitals", "partition": 0, "offset": "150", "files": [f"s3://lake/{keys[1]}"]}
    ]

    # Unknown ids are a clean error, not a trace.
    r = subprocess.run(
        ["node", "bin/aepred.js", "lineage", str(10**12)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert r.returncode == 1 and "no audit row" in r.stderr
