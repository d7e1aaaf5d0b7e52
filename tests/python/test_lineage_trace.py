"""`aepred lineage <prediction-id>` (issue 10) from a real prediction, against the real stack.

A simulated trial of its own (a fresh trial id, so its patients are nobody else's) goes through Kafka;
the real ingester writes it into a bronze lake of this test; `dvc repro raw` snapshots that lake in a
clean clone of this repository (committed dvc.lock, manifest with the Kafka offsets); a real ONNX model
(the committed fixture generator, stamped with the model_version `ml train` writes:
"<registered model>@<commit12>") is logged to the stack's MLflow in a run tagged as the pipeline tags
it (data_version = DVC's md5 of the snapshot, git_commit) and registered as `production`; the real
service (`aepred serve --registry-model`) loads it from the registry and its actors consume the same
Kafka events; POST /predict answers, and its x-prediction-id is traced with `aepred lineage`:

    prediction -> audit row -> model version -> MLflow run -> git commit + DVC data version
    -> raw snapshot manifest -> Kafka offsets, which include the offsets the prediction used
    -> the bronze files holding those offsets (rows of this patient).

What is not real: the model is not trained on the snapshot (training needs the Spark stages, which
test_dvc_repro.py covers); its data_version tag names the raw snapshot, the DVC output it would have
been trained from."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest
import yaml
from conftest import ROOT, VENV_BIN, clean_clone, commit, sh, tool_env

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not (ROOT / "dist" / "cli" / "main.js").exists(), reason="needs make build"),
]
TOPICS = ("patient-vitals", "lab-results", "medications", "adverse-events")
STACK = yaml.safe_load((ROOT / "ops/local/stack.yaml").read_text())
MLFLOW = f"http://127.0.0.1:{STACK['services']['mlflow']['port']}"

# Consumer groups of this test only: "end" commits each group's offsets at the topics' current end
# (so the ingester and the service read only what is produced afterwards, not the shared backlog),
# "delete" removes them afterwards. kafkajs from node_modules, the stack's broker from stack.yaml.
KAFKA_GROUPS_JS = """
import { loadStackConfig } from './dist/stack/config.js';
import { stackKafka } from './dist/stack/kafka-topics.js';
const [action, ...groups] = process.argv.slice(1);
const admin = stackKafka(loadStackConfig(), 'aepred-lineage-test').admin();
await admin.connect();
try {
  for (const groupId of groups) {
    if (action === 'delete') { await admin.deleteGroups([groupId]).catch(() => undefined); continue; }
    for (const topic of %s) {
      const ends = await admin.fetchTopicOffsets(topic);
      const partitions = ends.map((p) => ({ partition: p.partition, offset: p.high }));
      await admin.setOffsets({ groupId, topic, partitions });
    }
  }
} finally { await admin.disconnect(); }
""" % json.dumps(list(TOPICS))  # noqa: UP031


def _kafka_groups(env: dict[str, str], action: str, *groups: str) -> None:
    sh(ROOT, env, "node", "--input-type=module", "-e", KAFKA_GROUPS_JS, action, *groups, timeout=120)


@contextmanager
def _process(log: Path, env: dict[str, str], *cmd: str) -> Iterator[subprocess.Popen[bytes]]:
    """A long-running command of this test, stopped with SIGTERM (then SIGKILL) by its own pid."""
    with log.open("wb") as out:
        p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield p
        finally:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(
    url: str, key: str | None = None, body: dict[str, Any] | None = None
) -> tuple[int, dict[str, str], Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    req.add_header("content-type", "application/json")
    if key is not None:
        req.add_header("authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read() or b"null")


def _patient_offsets(lake: Path, patient: str) -> dict[str, set[int]]:
    """Every Kafka offset of this patient's rows in the bronze lake, per "topic:partition"."""
    out: dict[str, set[int]] = {}
    for topic in TOPICS:
        if not (lake / "bronze" / topic).exists():
            continue
        t = ds.dataset(lake / "bronze" / topic, format="parquet", partitioning="hive").to_table(
            columns=["patient_id", "_kafka_partition", "_kafka_offset"],
            filter=pc.field("patient_id") == patient,
        )
        for part, off in zip(t["_kafka_partition"].to_pylist(), t["_kafka_offset"].to_pylist(), strict=True):
            out.setdefault(f"{topic}:{part}", set()).add(int(off))
    return out


def _register(
    env: dict[str, str], tmp: Path, name: str, data_version: str, commit_sha: str
) -> tuple[str, str]:
    """The fixture ONNX model, stamped as `ml train` stamps it, in a run tagged as the pipeline tags
    it, registered and made `production` in the stack's MLflow. Runs in a subprocess: the stack's
    tracking URI must not leak into this test process's mlflow client."""
    model_dir = tmp / "model" / "model"
    model_dir.mkdir(parents=True)
    stamped = f"{name}@{commit_sha[:12]}"
    sh(
        ROOT,
        env,
        str(VENV_BIN / "python"),
        "tests/fixtures/models/tiny_model.py",
        str(model_dir / "model.onnx"),
        stamped,
        "3",
    )
    script = """
import json, sys
import mlflow
from mlflow.tracking import MlflowClient
from ml import registry, tracking
name, data_version, commit, model_dir = sys.argv[1:5]
target = tracking.configure()
exp = tracking.ensure_experiment(tracking.EXPERIMENT, target)
with mlflow.start_run(experiment_id=exp, run_name="lineage-test") as run:
    mlflow.set_tags({"data_version": data_version, "git_commit": commit})
    mlflow.log_artifacts(model_dir, "model")
client = MlflowClient(tracking_uri=target.tracking_uri)
version = registry.register_candidate(
    client, name, run.info.run_id, run.info.artifact_uri, {"data_version": data_version}
)
registry.promote(client, name, version)
print(json.dumps({"run_id": run.info.run_id, "version": version}))
"""
    out = json.loads(
        sh(
            ROOT, env, str(VENV_BIN / "python"), "-c", script, name, data_version, commit_sha, str(model_dir)
        ).splitlines()[-1]
    )
    return str(out["run_id"]), str(out["version"])


def _drop_registered_model(env: dict[str, str], name: str) -> None:
    script = "import sys\nfrom mlflow.tracking import MlflowClient\n"
    script += "MlflowClient().delete_registered_model(sys.argv[1])"
    subprocess.run(
        [str(VENV_BIN / "python"), "-c", script, name], cwd=ROOT, env=env, capture_output=True, check=False
    )


def test_lineage_from_a_real_prediction_to_its_kafka_offsets(tmp_path: Path) -> None:
    u = uuid.uuid4().hex[:8]
    trial, model_name = f"AEPLIN{u.upper()}", f"aepred-lineage-{u}"
    ingest_group, actors_group = f"aepred-lineage-ingest-{u}", f"aepred-lineage-actors-{u}"
    first_day, days = date(2023, 3, 6), 2
    window = (
        f"{first_day.isoformat()}T00:00:00+00:00",
        f"{(first_day + timedelta(days=days)).isoformat()}T00:00:00+00:00",
    )
    env = tool_env(MLFLOW_TRACKING_URI=MLFLOW)
    sh(ROOT, env, "node", "bin/aepred.js", "db", "migrate")

    # The trial: its own trial id (params override), into Kafka (enrollment into Postgres) and, with
    # the same seed (byte-identical), into a folder for the lake's enrollment table.
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["simulator"]["trial_id"] = trial
    sim_params = tmp_path / "sim-params.yaml"
    sim_params.write_text(yaml.safe_dump(params, sort_keys=False))
    sim_env = {**env, "AEPRED_PARAMS": str(sim_params)}
    simulate = (
        "node",
        "bin/aepred.js",
        "simulate",
        "--patients",
        "2",
        "--days",
        str(days),
        "--seed",
        "11",
        "--start",
        first_day.isoformat(),
    )
    _kafka_groups(env, "end", ingest_group, actors_group)
    try:
        sh(ROOT, sim_env, *simulate, "--to", "dir", str(tmp_path / "sim"))
        sh(ROOT, sim_env, *simulate, "--to", "kafka", "--manifest", str(tmp_path / "sim-kafka.json"))

        # The real ingester, on a group of its own, into this test's lake.
        lake = tmp_path / "lake"
        with _process(
            tmp_path / "ingest.log",
            env,
            "node",
            "bin/aepred.js",
            "ingest",
            "--group",
            ingest_group,
            "--lake",
            str(lake),
            "--log-level",
            "warn",
        ):
            sh(
                ROOT,
                env,
                "npx",
                "tsx",
                "scripts/demo/wait-ingested.ts",
                "--group",
                ingest_group,
                "--timeout",
                "300",
                timeout=400,
            )
        (lake / "enrollment").mkdir()
        shutil.copyfile(tmp_path / "sim" / "enrollment.ndjson", lake / "enrollment" / "enrollment.ndjson")
        enrolled = sorted(
            json.loads(ln)["patient_id"]
            for ln in (lake / "enrollment" / "enrollment.ndjson").read_text().splitlines()
            if ln.strip()
        )
        assert enrolled and all(p.startswith(trial) for p in enrolled)
        patient = max(enrolled, key=lambda p: sum(len(v) for v in _patient_offsets(lake, p).values()))
        bronze = _patient_offsets(lake, patient)
        assert any(k.startswith("patient-vitals:") for k in bronze), bronze

        # The DVC raw snapshot of that lake in a clean clone, committed.
        repo = clean_clone(
            tmp_path / "repo", env, {"pipeline": {"source": str(lake), "start": window[0], "end": window[1]}}
        )
        sh(repo, env, "dvc", "repro", "raw")
        commit_sha = commit(repo, env, "raw snapshot", "dvc.lock")
        lock_commit = sh(repo, env, "git", "log", "-1", "--format=%H", "--", "dvc.lock").strip()
        assert lock_commit == commit_sha
        lock = yaml.safe_load((repo / "dvc.lock").read_text())
        md5 = next(o["md5"] for o in lock["stages"]["raw"]["outs"] if o["path"] == "data/lake/bronze")
        manifest = json.loads((repo / "data/lake/bronze/manifest.json").read_text())

        # A real ONNX model in the registry, then the real service on it.
        run_id, version = _register(env, tmp_path, model_name, md5, commit_sha)
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        serve = (
            "node",
            "bin/aepred.js",
            "serve",
            "--registry-model",
            model_name,
            "--group",
            actors_group,
            "--port",
            str(port),
            "--insecure-http",
            "--lake",
            str(tmp_path / "audit-lake"),
            "--log-level",
            "warn",
        )
        with _process(tmp_path / "serve.log", env, *serve) as svc:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                assert svc.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
                try:
                    if _request(f"{url}/health/live")[0] == 200:
                        break
                except OSError:
                    pass
                time.sleep(1)
            key = (
                sh(
                    ROOT,
                    env,
                    "node",
                    "bin/aepred.js",
                    "apikey",
                    "create",
                    "--name",
                    f"lineage-{u}",
                    "--role",
                    "reader",
                )
                .splitlines()[0]
                .strip()
            )
            # Scored once the actor has applied this patient's last event in every partition.
            expected = {k: str(max(v)) for k, v in bronze.items()}
            as_of = f"{(first_day + timedelta(days=days)).isoformat()}T00:00:00Z"
            seen: Any = None
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                status, headers, body = _request(
                    f"{url}/predict", key, {"patient_id": patient, "timestamp": as_of}
                )
                seen = (status, body)
                if status == 200:
                    seq = int(headers["x-prediction-id"])
                    out = json.loads(
                        sh(
                            ROOT,
                            env,
                            "node",
                            "bin/aepred.js",
                            "lineage",
                            str(seq),
                            "--repo",
                            str(repo),
                            "--lake",
                            str(lake),
                        )
                    )
                    seen = out["prediction"]["payload"].get("source_offsets")
                    if seen == expected:
                        break
                time.sleep(3)
            else:
                pytest.fail(
                    f"the prediction never used this patient's last events: {seen} != {expected}\n"
                    + (tmp_path / "serve.log").read_text()[-3000:]
                )
    finally:
        _kafka_groups(env, "delete", ingest_group, actors_group)

    try:
        # prediction -> audit row
        assert out["prediction"]["seq"] == seq
        assert out["prediction"]["action"] == "prediction.served"
        assert out["prediction"]["subject"] == patient
        assert out["prediction"]["payload"]["probability"] == body["adverse_event_probability"]
        # -> model version (audited as ml train stamps it) -> MLflow run
        assert (
            body["model_version"] == out["prediction"]["model_version"] == f"{model_name}@{commit_sha[:12]}"
        )
        assert out["model"]["name"] == model_name
        assert out["model"]["version"] == version
        assert "production" in out["model"]["aliases"]
        assert out["mlflow_run"]["run_id"] == run_id
        # -> git commit + DVC data version -> raw snapshot manifest
        assert out["git_commit"] == commit_sha
        assert out["dvc"] == {
            "commit": lock_commit,
            "stage": "raw",
            "path": "data/lake/bronze",
            "md5": md5,
            "raw_snapshot": {"path": "data/lake/bronze", "md5": md5},
        }
        assert out["training_data"]["kafka_offsets"] == manifest["kafka_offsets"]
        assert out["training_data"]["source"] == str(lake)
        # -> Kafka offsets that include the offsets the prediction used
        used = out["prediction"]["payload"]["source_offsets"]
        for key_tp, offset in used.items():
            topic, _, part = key_tp.rpartition(":")
            span = manifest["kafka_offsets"][topic][part]
            assert span["first"] <= int(offset) <= span["last"], (key_tp, offset, span)
        # -> the bronze files that hold them: rows of this patient at exactly those offsets.
        assert {f"{s['topic']}:{s['partition']}": s["offset"] for s in out["sources"]} == used
        for s in out["sources"]:
            assert s["files"], s
            rows = ds.dataset([Path(f) for f in s["files"]], format="parquet").to_table(
                columns=["patient_id", "_kafka_offset"], filter=pc.field("_kafka_offset") == int(s["offset"])
            )
            assert rows["patient_id"].to_pylist() == [patient], (s, rows.to_pylist())
        assert out["missing"] == []

        # The same prediction against the same bronze files on the stack's MinIO (--lake s3://...).
        from pipelines.lineage import stack_s3_client

        s3 = stack_s3_client()
        prefix = f"test-lineage-{u}"
        keys = {
            f: f"{prefix}/{Path(f).relative_to(lake).as_posix()}" for s in out["sources"] for f in s["files"]
        }
        for f, k in keys.items():
            s3.put_object(Bucket="lake", Key=k, Body=Path(f).read_bytes())
        try:
            lineage = ("node", "bin/aepred.js", "lineage", str(seq), "--repo", str(repo))
            on_s3 = json.loads(sh(ROOT, env, *lineage, "--lake", f"s3://lake/{prefix}"))
        finally:
            s3.delete_objects(Bucket="lake", Delete={"Objects": [{"Key": k} for k in keys.values()]})
        assert on_s3["sources"] == [
            {**s, "files": [f"s3://lake/{keys[f]}" for f in s["files"]]} for s in out["sources"]
        ]
    finally:
        _drop_registered_model(env, model_name)

    # Unknown ids are a clean error, not a trace.
    r = subprocess.run(
        ["node", "bin/aepred.js", "lineage", str(10**12)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert r.returncode == 1 and "no audit row" in r.stderr
