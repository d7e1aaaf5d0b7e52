"""The steps of the training pipeline, shared by the DVC stages (`dvc.yaml`) and the Kubeflow
components (`pipeline.py`): one implementation, two orchestrators.

Each step calls the project's own jobs (`python -m pipelines silver|features`, `python -m ml
train|evaluate`, `ml.registry`) and adds only what an orchestrator needs around them: a raw snapshot
with its Kafka offsets, a data-validation report, content hashes (DVC's own directory hash, so a KFP
run and `dvc.lock` name the same data the same way), and the promote/reject decision.

Nothing reads the wall clock: processing time for silver is the window's end, the feature store's
"created" stamp is the window's end, so the same inputs give the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ml.paths import REPO_ROOT
from pipelines import bronze

SIMULATE = "simulate"


def instant(text: str) -> datetime:
    d = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def window(start_date: str, end_date: str, training_days: int) -> tuple[datetime, datetime]:
    """The data window of a run. A scheduled run passes only its scheduled time as end_date (KFP
    substitutes `[[ScheduledTime...]]`), so an empty start_date means end minus training_days; the
    end is floored to midnight UTC so that every run of one day sees the same window."""
    if "[[" in end_date:
        raise ValueError(f"end_date {end_date!r}: a schedule macro outside a KFP recurring run")
    end = instant(end_date)
    if not start_date:
        end = end.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return end - timedelta(days=training_days), end
    start = instant(start_date)
    if start >= end:
        raise ValueError(f"start_date {start_date} must be before end_date {end_date}")
    return start, end


def _iso(d: datetime) -> str:
    return d.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _run(cmd: list[str], **env: str) -> str:
    """Runs one of the project's CLIs; its last stdout line (a JSON object by their convention)."""
    proc = subprocess.run(
        cmd, cwd=REPO_ROOT, env={**os.environ, **env}, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


# --- raw snapshot ---------------------------------------------------------------------------------


def ndjson_table(topic: str, path: Path) -> pa.Table:
    """The simulator's `--to dir` NDJSON as a contract-exact bronze table (offsets = line numbers)."""
    sch = bronze.schema(topic)
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    cols: dict[str, list[Any]] = {f.name: [] for f in sch}
    ev_col = bronze.event_time_column(topic)
    for off, rec in enumerate(records):
        flat = dict(rec)
        rr = flat.pop("reference_range", None)
        if isinstance(rr, dict):
            flat["reference_range_low"], flat["reference_range_high"] = rr.get("low"), rr.get("high")
        flat |= {
            "_kafka_topic": topic,
            "_kafka_partition": 0,
            "_kafka_offset": off,
            "_kafka_key": rec["patient_id"],
        }
        flat["_kafka_timestamp"] = flat["_ingested_at"] = flat[ev_col]
        for f in sch:
            v = flat.get(f.name)
            if pa.types.is_timestamp(f.type) and isinstance(v, str):
                v = int(np.datetime64(v.removesuffix("Z"), "ms").astype(np.int64))
            cols[f.name].append(v)
    arrays = [
        pa.array(cols[f.name], type=pa.int64()).cast(f.type)
        if pa.types.is_timestamp(f.type)
        else pa.array(cols[f.name], type=f.type)
        for f in sch
    ]
    return pa.Table.from_arrays(arrays, schema=sch)


_ndjson_table = ndjson_table  # the name scripts/demo/sim_lake.py imports


def _simulate(out: Path, start: datetime, patients: int, days: int, seed: int) -> None:
    from pipelines.testing.synth import write_topic

    with tempfile.TemporaryDirectory(prefix="aepred-sim-") as tmp:
        _run(
            [
                "node",
                str(REPO_ROOT / "bin" / "aepred.js"),
                "simulate",
                "--patients",
                str(patients),
                "--days",
                str(days),
                "--seed",
                str(seed),
                "--start",
                start.date().isoformat(),
                "--to",
                "dir",
                tmp,
            ],
            # This repository's parameters, also when dist/ is shared with another checkout.
            AEPRED_ROOT=str(REPO_ROOT),
            AEPRED_PARAMS=str(REPO_ROOT / "params.yaml"),
        )
        for topic in bronze.TOPICS:
            src = Path(tmp) / f"{topic}.ndjson"
            if src.exists():
                write_topic(out, topic, ndjson_table(topic, src))
        (out / "enrollment").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(tmp) / "enrollment.ndjson", out / "enrollment" / "enrollment.ndjson")


def _copy_window(src: Path, out: Path, start: datetime, end: datetime) -> None:
    """Copies the bronze date partitions that overlap [start, end) and the enrollment table."""
    first, last = start.date().isoformat(), end.date().isoformat()
    for topic in bronze.TOPICS:
        for part in sorted((src / "bronze" / topic).glob("date=*")):
            date = part.name.removeprefix("date=")
            if first <= date <= last:
                shutil.copytree(part, out / "bronze" / topic / part.name)
    shutil.copytree(src / "enrollment", out / "enrollment")


def offsets(lake: Path) -> dict[str, dict[str, dict[str, int]]]:
    """Per topic and partition: the first and last Kafka offset and the rows in the snapshot (from the
    bronze files' metadata and columns): the lineage from a feature row back to the broker."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for topic in bronze.TOPICS:
        for f in sorted((lake / "bronze" / topic).rglob("*.parquet")):
            t = pq.read_table(f, columns=["_kafka_partition", "_kafka_offset"])
            parts = t.column("_kafka_partition").to_numpy()
            offs = t.column("_kafka_offset").to_numpy()
            for p in np.unique(parts):
                sel = offs[parts == p]
                cur = out.setdefault(topic, {}).setdefault(
                    str(int(p)), {"first": 1 << 62, "last": -1, "rows": 0}
                )
                cur["first"] = min(cur["first"], int(sel.min()))
                cur["last"] = max(cur["last"], int(sel.max()))
                cur["rows"] += len(sel)
    return out


def snapshot_raw(
    source: str, out: Path, start: datetime, end: datetime, *, patients: int, days: int, seed: int
) -> dict[str, Any]:
    """A raw snapshot of [start, end): the bronze files of a lake (a path), or, with source
    `simulate`, a deterministic simulated trial. Writes `<out>/bronze/manifest.json` (window,
    snapshot name, Kafka offsets per topic and partition)."""
    # Only what this step owns: silver (the next stage's output) may live beside it.
    for owned in ("bronze", "enrollment"):
        shutil.rmtree(out / owned, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    if source == SIMULATE:
        _simulate(out, start, patients, days, seed)
    else:
        _copy_window(Path(source), out, start, end)
    manifest = {
        "source": source,
        "window": {"start": _iso(start), "end": _iso(end)},
        "snapshot": f"patients_{end.strftime('%Y%m%d')}",
        "kafka_offsets": offsets(out),
    }
    (out / "bronze" / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


# --- data validation ------------------------------------------------------------------------------


def validate_raw(lake: Path, start: datetime, end: datetime) -> dict[str, Any]:
    """Every bronze file has the contract's schema; every topic has rows; event times fall in the
    window's dates; enrollment is present and covers every patient. Raises on the first failure."""
    problems: list[str] = []
    rows: dict[str, int] = {}
    patients: set[str] = set()
    for topic in bronze.TOPICS:
        expected = bronze.schema(topic)
        files = sorted((lake / "bronze" / topic).rglob("*.parquet"))
        rows[topic] = 0
        for f in files:
            t = pq.read_table(f)
            if not t.schema.remove_metadata().equals(expected.remove_metadata()):
                problems.append(f"{f.relative_to(lake)}: schema differs from contracts/bronze.md")
                continue
            rows[topic] += t.num_rows
            patients.update(t.column("patient_id").to_pylist())
        if topic != "adverse-events" and rows[topic] == 0:
            problems.append(f"{topic}: no rows")
    enr = lake / "enrollment" / "enrollment.ndjson"
    enrolled = (
        {json.loads(ln)["patient_id"] for ln in enr.read_text().splitlines() if ln.strip()}
        if enr.exists()
        else set()
    )
    if not enrolled:
        problems.append("enrollment: missing or empty")
    unknown = sorted(patients - enrolled)
    if unknown:
        problems.append(f"{len(unknown)} patients not enrolled, e.g. {unknown[:3]}")
    report = {
        "passed": not problems,
        "problems": problems,
        "rows": rows,
        "patients": len(patients),
        "window": {"start": _iso(start), "end": _iso(end)},
    }
    if problems:
        raise ValueError("data validation failed: " + "; ".join(problems))
    return report


# --- silver and features (Spark) ------------------------------------------------------------------


def process_data(lake: Path, start: datetime, end: datetime, params: Path | None = None) -> dict[str, Any]:
    """Bronze -> silver with `python -m pipelines silver`, processing time = the window's end."""
    cmd = [sys.executable, "-m", "pipelines", "silver", "--lake", str(lake), "--since", _iso(start)]
    cmd += ["--until", _iso(end), "--now", _iso(end), "--no-mlflow"]
    cmd += ["--params", str(params)] if params else []
    result: dict[str, Any] = json.loads(_run(cmd))
    return result


def build_features(
    lake: Path,
    start: datetime,
    end: datetime,
    out: Path,
    params: Path | None = None,
    master: str | None = None,
) -> dict[str, Any]:
    """Silver -> point-in-time features and labels (the feature store), created = the window's end so
    the metadata is reproducible too."""
    from ml.params import load_params
    from pipelines.features import run_features
    from pipelines.featureset import default_feature_set
    from pipelines.spark import build_session

    spark = build_session(master, app="aepred-features")
    try:
        result = run_features(
            spark,
            str(lake),
            start,
            end,
            params=load_params(params),
            fs=default_feature_set(),
            out=str(out),
            log_mlflow=False,
            created=end,
        )
    finally:
        spark.stop()
    result["files"] = [str(Path(f).relative_to(out)) for f in result["files"]]
    return result


# --- hashes ---------------------------------------------------------------------------------------


def dvc_hash(path: Path) -> str:
    """DVC's own content hash of a file or directory (the `md5` that `dvc.lock` records; a directory's
    ends in `.dir`), so a Kubeflow run names its data the way DVC does."""
    from dvc_data.hashfile.build import build
    from dvc_data.hashfile.db import HashFileDB
    from dvc_objects.fs.local import LocalFileSystem

    fs = LocalFileSystem()  # type: ignore[no-untyped-call]
    with tempfile.TemporaryDirectory(prefix="aepred-dvc-odb-") as tmp:
        odb = HashFileDB(fs, tmp)
        _, _, obj = build(odb, str(path), fs, "md5", ignore=None)
        return str(obj.hash_info.value)


def git_commit(repo: Path = REPO_ROOT) -> str:
    """HEAD of the repository, with `-dirty` when tracked files differ from it. In a container (no
    .git) the commit the image was built from: AEPRED_GIT_COMMIT, set by the training Dockerfile."""
    if os.environ.get("AEPRED_GIT_COMMIT"):
        return os.environ["AEPRED_GIT_COMMIT"]
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "diff", "--quiet", "HEAD", "--"], cwd=repo, capture_output=True, check=False
        ).returncode
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("-dirty" if dirty else "")


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- training, evaluation, registration, deployment -----------------------------------------------


def train(
    features: Path,
    out: Path,
    *,
    data_version: str,
    params: Path | None = None,
    seed: int | None = None,
    device: str = "auto",
    mlflow: bool = False,
    run_name: str | None = None,
) -> dict[str, Any]:
    """`python -m ml train` on the feature store folder; returns its summary.json."""
    from pipelines.feature_store import folder
    from pipelines.featureset import default_feature_set

    data = folder(features, default_feature_set())
    cmd = [sys.executable, "-m", "ml", "train", "--data", str(data), "--out", str(out)]
    cmd += ["--data-version", data_version, "--device", device]
    cmd += ["--params", str(params)] if params else []
    cmd += ["--seed", str(seed)] if seed is not None else []
    # Bit-identical on CPU; on a GPU the recipe is seeded but cuDNN kernels may differ in the last bits.
    cmd += ["--deterministic", "--threads", "1"] if device == "cpu" else []
    cmd += [] if mlflow else ["--no-mlflow"]
    cmd += ["--run-name", run_name] if run_name else []
    _run(cmd)
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text())
    return summary


def _score(model: Path, data: Path, params: Path | None) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "ml", "evaluate", "--model", str(model), "--data", str(data)]
    cmd += ["--params", str(params)] if params else []
    result: dict[str, Any] = json.loads(_run(cmd))
    return result


def evaluate(
    model_dir: Path,
    features: Path,
    *,
    baseline_onnx: Path | None = None,
    baseline_id: str = "",
    params: Path | None = None,
) -> dict[str, Any]:
    """The evaluation report and the promote/reject decision.

    The held-out test metrics and the gates come from training (`summary.json`: the patient-level
    test split). With a baseline model the candidate and the baseline are both scored by
    `python -m ml evaluate` on the same frame (this run's features) and the promotion rule of
    `ml.gates.compare_with_production` decides; without one, training's own decision (against
    whoever holds `production`) stands."""
    from ml.gates import GateResult, compare_with_production
    from ml.params import load_params
    from pipelines.feature_store import folder
    from pipelines.featureset import default_feature_set

    summary = json.loads((model_dir / "summary.json").read_text())
    gates = summary["gates"]
    data = folder(features, default_feature_set())
    candidate = _score(model_dir / "model" / "model.onnx", data, params)
    report: dict[str, Any] = {
        "test": {k: summary["metrics"][k] for k in sorted(summary["metrics"]) if k.startswith("test_")},
        "gates": gates,
        "frame": candidate["metrics"],
        "feature_set_hash": candidate.get("feature_set_hash"),
        "baseline_id": baseline_id,
    }
    if baseline_onnx is not None:
        base = _score(baseline_onnx, data, params)
        gate_result = GateResult(passed=bool(gates["passed"]), reasons=tuple(gates["reasons"]), checks={})
        decision = compare_with_production(
            load_params(params).gates,
            gate_result,
            float(candidate["metrics"]["auroc"]),
            float(base["metrics"]["auroc"]),
        )
        report["baseline_frame"] = base["metrics"]
        report["decision"] = asdict(decision)
    elif summary.get("decision"):
        report["decision"] = summary["decision"]
    else:
        gate_result = GateResult(passed=bool(gates["passed"]), reasons=tuple(gates["reasons"]), checks={})
        decision = compare_with_production(
            load_params(params).gates, gate_result, float(summary["metrics"]["test_auroc"]), None
        )
        report["decision"] = asdict(decision)
    report["promote"] = bool(report["decision"]["promote"])
    return report


def register(
    run_id: str, promote: bool, *, feature_set_hash: str, data_version: str, test_auroc: float
) -> str:
    """Registers the run's model as a new version holding `staging` when the decision is promote;
    returns the version, or "" when rejected. `production` moves only after the canary (issue 9)."""
    if not promote:
        return ""
    from mlflow.tracking import MlflowClient

    from ml import registry
    from ml.params import load_params
    from ml.tracking import configure

    target = configure()
    client = MlflowClient(tracking_uri=target.tracking_uri)
    run = client.get_run(run_id)
    return registry.register_candidate(
        client,
        load_params().training.registered_model,
        run_id,
        str(run.info.artifact_uri),
        {
            "feature_set_hash": feature_set_hash,
            "test_auroc": f"{test_auroc:.6f}",
            "data_version": data_version,
        },
    )


def deploy(version: str, service_url: str, share: float | None = None) -> dict[str, Any]:
    """Starts the canary of a new `staging` version on the running service (issue 8's
    `PUT /models/canary {version, share}`, share = params `canary.share`); the closed loop (issue 9)
    promotes or rolls back. The API key comes from AEPRED_API_KEY (a key with models.write). No
    version: nothing to deploy; no service URL: the version waits in the registry."""
    if not version:
        return {"action": "none", "reason": "rejected: no new version"}
    if not service_url:
        return {"action": "registered", "version": version, "reason": "no service URL given"}
    import requests

    from ml.params import load_params

    share = load_params().canary.share if share is None else share
    headers = {"x-api-key": os.environ["AEPRED_API_KEY"]} if os.environ.get("AEPRED_API_KEY") else {}
    r = requests.put(
        f"{service_url.rstrip('/')}/models/canary",
        json={"version": version, "share": share},
        headers=headers,
        timeout=30,
    )
    return {
        "action": "canary-started" if r.ok else "canary-refused",
        "version": version,
        "share": share,
        "status": r.status_code,
        "body": r.text[:2000],
    }


def write_params(overrides: dict[str, Any], dst: Path, base: Path = REPO_ROOT / "params.yaml") -> Path:
    """params.yaml with `overrides` merged in (nested dicts merge, values replace), validated the way
    every job validates it; the merged file is what each step's CLI gets as --params."""
    import yaml

    from ml.params import load_params

    def merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        out = dict(a)
        for k, v in b.items():
            out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
        return out

    merged = merge(yaml.safe_load(base.read_text()), overrides)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(yaml.safe_dump(merged, sort_keys=False))
    load_params(dst)
    return dst


def resolve_baseline(model_id: str, dst: Path) -> Path | None:
    """A baseline model id to a local ONNX file: a registry version (`7`), an alias (`@production`),
    `models:/<name>/<version>` or a local `.onnx` path; "" means none."""
    if not model_id:
        return None
    if model_id.endswith(".onnx"):
        return Path(model_id)
    from mlflow.tracking import MlflowClient

    from ml.params import load_params
    from ml.tracking import configure

    client = MlflowClient(tracking_uri=configure().tracking_uri)
    name = load_params().training.registered_model
    ref = model_id.removeprefix("models:/")
    if "/" in ref:
        name, ref = ref.split("/", 1)
    mv = (
        client.get_model_version_by_alias(name, ref.removeprefix("@"))
        if ref.startswith("@")
        else client.get_model_version(name, ref)
    )
    dst.mkdir(parents=True, exist_ok=True)
    return Path(client.download_artifacts(str(mv.run_id), "model/model.onnx", str(dst)))


# --- DVC stage entry points -----------------------------------------------------------------------


def _stage_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m pipelines.kubeflow.steps")
    sub = p.add_subparsers(dest="step", required=True)
    for name in ("raw", "process_data", "features", "train", "evaluate"):
        s = sub.add_parser(name)
        s.add_argument("--params", type=Path, default=REPO_ROOT / "params.yaml")
    raw = sub.choices["raw"]
    raw.add_argument("--out", type=Path, required=True)
    for name in ("process_data", "features"):
        sub.choices[name].add_argument("--lake", type=Path, required=True)
    sub.choices["features"].add_argument("--out", type=Path, required=True)
    t = sub.choices["train"]
    t.add_argument("--features", type=Path, required=True)
    t.add_argument("--out", type=Path, required=True)
    e = sub.choices["evaluate"]
    e.add_argument("--model", type=Path, required=True)
    e.add_argument("--features", type=Path, required=True)
    e.add_argument("--metrics", type=Path, required=True)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """The DVC stages: window, source and sizes come from params.yaml `pipeline`."""
    from ml.params import load_params

    args = _stage_args(argv)
    cfg = load_params(args.params).pipeline
    start, end = instant(cfg.start), instant(cfg.end)
    result: dict[str, Any]
    if args.step == "raw":
        sim = cfg.simulate
        result = snapshot_raw(
            cfg.source, args.out, start, end, patients=sim.patients, days=sim.days, seed=sim.seed
        )
        result = {**validate_raw(args.out, start, end), "snapshot": result["snapshot"]}
    elif args.step == "process_data":
        result = process_data(args.lake, start, end, args.params)
    elif args.step == "features":
        result = build_features(args.lake, start, end, args.out, args.params)
    elif args.step == "train":
        summary = train(
            args.features, args.out, data_version=dvc_hash(args.features), params=args.params, device="cpu"
        )
        result = {"test_auroc": summary["metrics"]["test_auroc"], "gates": summary["gates"]["passed"]}
    else:
        report = evaluate(args.model, args.features, params=args.params)
        args.metrics.parent.mkdir(parents=True, exist_ok=True)
        args.metrics.write_text(json.dumps(report, indent=1, sort_keys=True, default=float) + "\n")
        result = {"promote": report["promote"], "reason": report["decision"]["reason"]}
    print(json.dumps(result, sort_keys=True, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
