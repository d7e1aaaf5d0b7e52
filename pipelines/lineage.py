"""Lineage of one prediction (issue 10, `aepred lineage <prediction-id>`, docs/pipelines.md):

    prediction id (audit_log.seq, action prediction.served; issue 8's hash-chained audit trail)
      -> model version (the row's model_version: a registry version, or the ONNX metadata's
         "<registered model>@<commit12>" that `ml train` writes) -> MLflow registry version -> run
      -> the run's data_version tag (DVC's md5 of the training features) and git_commit tag
      -> the git commit whose dvc.lock records that md5 (the DVC data version), its stage and path
      -> that commit's raw snapshot (data/lake/bronze) and its manifest: the source Kafka offsets
         (per topic and partition) the training data was read from.

The prediction's own inputs are named by the audit row's input_hash (the feature-vector hash),
correlation_id and payload.source_offsets: the patient actor's highest applied Kafka offset per
"topic:partition" when it scored. Each is resolved to the bronze file(s) of a lake whose name's
[first, last] offset range holds it (contracts/bronze.md), reported under `sources`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from ml.paths import LOCAL_DIR, REPO_ROOT

RAW_PATH = "data/lake/bronze"
MANIFEST = "manifest.json"


class LineageError(LookupError):
    """A link of the chain is missing; the message says which."""


# contracts/bronze.md: bronze/<topic>/date=YYYY-MM-DD/part-p<PPP>-o<first>-<last>.parquet
BRONZE_FILE = re.compile(r"part-p(?P<partition>\d+)-o(?P<first>\d+)-(?P<last>\d+)\.parquet")


Lake = Path | str
"""A local lake root, or an `s3://bucket[/prefix]` (`s3a://` too) URI on the stack's object store."""


def is_s3(lake: Lake) -> bool:
    return isinstance(lake, str) and lake.startswith(("s3://", "s3a://"))


def as_lake(text: str) -> Lake:
    """`--lake`: an s3:// or s3a:// URI stays a URI, anything else is a local path."""
    return text if is_s3(text) else Path(text)


def _split_s3(uri: str) -> tuple[str, str]:
    rest = uri.split("://", 1)[1].strip("/")
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise LineageError(f"lake {uri!r}: no bucket (expected s3://bucket[/prefix])")
    return bucket, prefix.strip("/")


def stack_s3_client() -> Any:
    """An S3 client for the stack's object store with the settings the ingester's lake uses
    (src/stack/s3-buckets.ts stackS3Client): endpoint, region and credentials from
    ops/local/stack.yaml (AEPRED_STACK_CONFIG), path-style addressing."""
    import boto3
    from botocore.config import Config

    path = Path(os.environ.get("AEPRED_STACK_CONFIG", REPO_ROOT / "ops" / "local" / "stack.yaml"))
    stack = yaml.safe_load(path.read_text())
    minio = stack["services"]["minio"]
    return boto3.client(
        "s3",
        endpoint_url=f"http://{stack['host']}:{minio['port']}",
        region_name=minio["region"],
        aws_access_key_id=minio["access_key"],
        aws_secret_access_key=minio["secret_key"],
        config=Config(s3={"addressing_style": "path"}),
    )


def _s3_day_files(uri: str, topic: str, client: Any) -> list[tuple[str, str, str]]:
    """(date folder, file name, s3:// URI) of every object under <prefix>/bronze/<topic>/date=*/."""
    bucket, prefix = _split_s3(uri)
    base = f"{prefix}/bronze/{topic}/" if prefix else f"bronze/{topic}/"
    out: list[tuple[str, str, str]] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=base):
        for obj in page.get("Contents", []):
            day, _, name = obj["Key"][len(base) :].partition("/")
            if day.startswith("date=") and name and "/" not in name:
                out.append((day, name, f"s3://{bucket}/{obj['Key']}"))
    return out


def bronze_files(lake: Lake, topic: str, partition: int, offset: int, s3: Any = None) -> list[Path | str]:
    """The bronze files of topic/partition whose [first, last] offset range holds offset, by name only.

    One micro-batch spanning two event dates is two files of the same name (one per `date=` folder),
    so this may return several; none when that offset is not in the lake (yet). Names starting with
    `.` or `_` (in-flight temporaries) are ignored, as every bronze reader does. On an s3:// lake the
    objects are listed (client `s3`, default the stack's) and named by their s3:// URI."""
    entries: list[tuple[str, str, Path | str]] = []
    if is_s3(lake):
        entries = list(_s3_day_files(str(lake), topic, s3 if s3 is not None else stack_s3_client()))
    else:
        for day in (Path(lake) / "bronze" / topic).glob("date=*"):
            if day.is_dir():
                entries += [(day.name, f.name, f) for f in day.iterdir()]
    found: list[Path | str] = []
    for _day, name, ref in sorted(entries, key=lambda e: (e[0], e[1])):
        m = BRONZE_FILE.fullmatch(name)
        if m is not None and int(m["partition"]) == partition and int(m["first"]) <= offset <= int(m["last"]):
            found.append(ref)
    return found


def prediction_sources(lake: Lake, offsets: dict[str, Any], s3: Any = None) -> list[dict[str, Any]]:
    """Each "topic:partition" -> highest applied offset of the audit row, with its bronze file(s)."""
    out: list[dict[str, Any]] = []
    if is_s3(lake) and s3 is None:
        s3 = stack_s3_client()
    for key in sorted(offsets):
        topic, _, partition = key.rpartition(":")
        offset = int(offsets[key])
        files = bronze_files(lake, topic, int(partition), offset, s3)
        out.append(
            {
                "topic": topic,
                "partition": int(partition),
                "offset": str(offset),
                "files": [str(f) for f in files],
            }
        )
    return out


def audit_row(dsn: str, prediction_id: int) -> dict[str, Any]:
    import psycopg2

    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT seq, at, actor, action, subject, model_version, input_hash, correlation_id, payload,"
            " encode(hash, 'hex') FROM audit_log WHERE seq = %s",
            (prediction_id,),
        )
        row = cur.fetchone()
    if row is None:
        raise LineageError(f"prediction {prediction_id}: no audit row with that seq")
    keys = ("seq", "at", "actor", "action", "subject", "model_version", "input_hash", "correlation_id")
    out: dict[str, Any] = dict(zip(keys, row[:8], strict=True))
    out["at"] = out["at"].isoformat()
    out["payload"] = json.loads(row[8])
    out["hash"] = row[9]
    if out["action"] != "prediction.served":
        raise LineageError(f"audit row {prediction_id} is {out['action']!r}, not a prediction")
    return out


def _registry_version(
    client: Any, registered_model: str, model_version: str, before_ms: int | None
) -> tuple[Any, list[str]]:
    """The registry version an audit row's model_version names, and what was ambiguous about it.

    Three forms reach the audit trail: a registry version ("3"), a model URI ("models:/name/3"),
    and the ONNX metadata model_version that `ml train` writes, "<registered model>@<first 12 hex of
    the git commit>" (the service audits the ONNX metadata's version). The last names a commit, not
    a version: it resolves to the versions whose run's git_commit tag starts with it; when several
    (retrained from one commit) match, the newest registered before the prediction is chosen and
    the others are reported."""
    ref = model_version.removeprefix("models:/")
    if "@" not in ref:
        name, _, version = ref.rpartition("/")
        return client.get_model_version(name or registered_model, version), []
    name, _, commit = ref.partition("@")
    name = name or registered_model
    if not re.fullmatch(r"[0-9a-f]{7,40}", commit):
        raise LineageError(f"model_version {model_version!r}: {commit!r} is not a git commit")
    matched = [
        mv
        for mv in client.search_model_versions(f"name = '{name}'")
        if str(client.get_run(mv.run_id).data.tags.get("git_commit", "")).startswith(commit)
    ]
    if before_ms is not None:
        matched = [mv for mv in matched if int(mv.creation_timestamp) <= before_ms]
    if not matched:
        raise LineageError(
            f"model_version {model_version!r}: no version of registered model {name!r} has a run"
            f" with git_commit {commit}... registered before the prediction"
        )
    matched.sort(key=lambda mv: int(mv.version))
    # search_model_versions leaves `aliases` empty on MLflow's SQL store (mlflow/mlflow#9783: only
    # get_model_version / get_model_version_by_alias fill them in), so the chosen version is read
    # again on its own: its aliases (`production`, `staging`) are part of the lineage.
    chosen = client.get_model_version(matched[-1].name, matched[-1].version)
    notes = (
        [
            f"model_version {model_version!r} matches versions {[str(m.version) for m in matched]} of"
            f" {name} (one commit); chose {chosen.version}, the newest registered before the prediction"
        ]
        if len(matched) > 1
        else []
    )
    return chosen, notes


def model_and_run(
    client: Any, registered_model: str, model_version: str, before_ms: int | None = None
) -> dict[str, Any]:
    mv, notes = _registry_version(client, registered_model, model_version, before_ms)
    run = client.get_run(mv.run_id)
    tags = dict(run.data.tags)
    return {
        "model": {
            "name": mv.name,
            "version": str(mv.version),
            "audited_as": model_version,
            "aliases": list(getattr(mv, "aliases", []) or []),
            "source": mv.source,
            "feature_set_hash": (mv.tags or {}).get("feature_set_hash"),
        },
        "mlflow_run": {
            "run_id": run.info.run_id,
            "experiment_id": run.info.experiment_id,
            "artifact_uri": run.info.artifact_uri,
            "data_version": tags.get("data_version"),
            "git_commit": tags.get("git_commit"),
        },
        "ambiguous": notes,
    }


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


def dvc_version(repo: Path, md5: str) -> dict[str, Any]:
    """The newest commit whose dvc.lock has an output with this md5, and that commit's raw snapshot."""
    for commit in _git(repo, "log", "--format=%H", "--", "dvc.lock").split():
        lock = yaml.safe_load(_git(repo, "show", f"{commit}:dvc.lock"))
        outs = {
            o["path"]: (stage, o["md5"])
            for stage, spec in lock.get("stages", {}).items()
            for o in spec.get("outs", [])
        }
        for path, (stage, value) in outs.items():
            if value == md5:
                raw = outs.get(RAW_PATH)
                return {
                    "commit": commit,
                    "stage": stage,
                    "path": path,
                    "md5": md5,
                    "raw_snapshot": {"path": RAW_PATH, "md5": raw[1]} if raw else None,
                }
    raise LineageError(f"no commit of {repo}/dvc.lock records an output with md5 {md5}")


def source_offsets(repo: Path, commit: str) -> dict[str, Any]:
    """The raw snapshot's manifest at that commit, read through DVC (cache, else the remote)."""
    import dvc.api

    with dvc.api.open(f"{RAW_PATH}/{MANIFEST}", repo=str(repo), rev=commit) as f:
        manifest: dict[str, Any] = json.load(f)
    return manifest


def trace(
    prediction: dict[str, Any],
    client: Any,
    registered_model: str,
    repo: Path = REPO_ROOT,
    lake: Lake = LOCAL_DIR / "lake",
) -> dict[str, Any]:
    out: dict[str, Any] = {"prediction": prediction}
    at = prediction.get("at")
    before_ms = int(datetime.fromisoformat(at).timestamp() * 1000) if isinstance(at, str) else None
    out |= model_and_run(client, registered_model, str(prediction["model_version"]), before_ms)
    missing: list[str] = out.pop("ambiguous")
    offsets = (prediction.get("payload") or {}).get("source_offsets")
    if offsets:
        out["sources"] = prediction_sources(lake, offsets)
        missing += [
            f"bronze file of {s['topic']}:{s['partition']} offset {s['offset']}: none in {lake}"
            for s in out["sources"]
            if not s["files"]
        ]
    else:
        missing.append("kafka offsets of the events behind this prediction: not in the audit row (issue 8)")
    md5 = out["mlflow_run"]["data_version"]
    if md5 and str(md5).endswith(".dir"):
        out["dvc"] = dvc_version(repo, str(md5))
        manifest = source_offsets(repo, out["dvc"]["commit"])
        out["training_data"] = {
            "snapshot": manifest.get("snapshot"),
            "window": manifest.get("window"),
            "source": manifest.get("source"),
            "kafka_offsets": manifest.get("kafka_offsets"),
        }
    else:
        missing.append(f"the run's data_version {md5!r} is not a DVC directory hash (trained outside DVC)")
    out["git_commit"] = out["mlflow_run"]["git_commit"] or (out.get("dvc") or {}).get("commit")
    out["missing"] = missing
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pipelines.lineage")
    p.add_argument("prediction_id", type=int)
    p.add_argument(
        "--database-url",
        default=os.environ.get("AEPRED_DATABASE_URL", "postgresql://aepred:aepred@127.0.0.1:55432/aepred"),
    )
    p.add_argument("--repo", type=Path, default=REPO_ROOT, help="the git + DVC repository of the pipeline")
    p.add_argument(
        "--lake",
        type=as_lake,
        default=LOCAL_DIR / "lake",
        help="the lake whose bronze files the prediction's source offsets resolve to: a local path, or"
        " s3://bucket[/prefix] on the stack's object store (ops/local/stack.yaml, as the ingester)",
    )
    args = p.parse_args(argv)
    from mlflow.tracking import MlflowClient

    from ml.params import load_params
    from ml.tracking import configure

    try:
        row = audit_row(args.database_url, args.prediction_id)
        client = MlflowClient(tracking_uri=configure().tracking_uri)
        result = trace(row, client, load_params().training.registered_model, args.repo, args.lake)
    except LineageError as e:
        print(f"lineage: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
