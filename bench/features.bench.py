"""Bronze -> silver -> features with Spark local: writes bench/results/features.json.

    .venv/bin/python bench/features.bench.py [--patients 1000 --days 90 --runs 1]

The target size of issue 5 is 1,000 patients x 90 days (about 18 M events at a 7-minute vital
interval). Synthetic bronze comes from pipelines.testing.synth (contract-exact Parquet); the timed part
is silver (run_silver), the feature computation (compute_frame: read silver, shuffle by patient, the
per-patient kernel, collect) and the feature-store write (pyarrow on the driver), i.e. what
run_features does, timed piece by piece. Spark's event log gives the per-stage breakdown of each
phase (bench/spark_profile.py): read, shuffle (de-dup, ffill windows, joins), python (the feature
kernel's windows), write, driver.

The result is merged into bench/results/features.json under `sizes["<patients>x<days>"]`; the
top-level median is the run named by --headline (default: this run), so a smaller measured size and
the full size can live in one file.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _session(master: str, evdir: Path) -> Any:
    """The project's session (pipelines.spark.build_session) with Spark's event log switched on."""
    from bench.spark_profile import event_log_conf

    conf = " ".join(f"--conf {k}={v}" for k, v in event_log_conf(evdir).items())
    os.environ["PYSPARK_SUBMIT_ARGS"] = f"{conf} pyspark-shell"
    from pipelines.spark import build_session

    return build_session(master, app="aepred-bench-features")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=int(os.environ.get("BENCH_PATIENTS", "1000")))
    ap.add_argument("--days", type=int, default=int(os.environ.get("BENCH_DAYS", "90")))
    ap.add_argument("--vital-interval-min", type=int, default=7)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--master", default="local[*]")
    ap.add_argument("--notes", default="")
    ap.add_argument(
        "--append",
        action="store_true",
        help="add this invocation's runs to the size's recorded samples (median over all), not replace them",
    )
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "features.json")
    ap.add_argument(
        "--headline",
        default=None,
        help="size key (e.g. 1000x90) whose median is the file's top-level median (default: this run)",
    )
    args = ap.parse_args()
    if args.patients < 1 or args.days < 1 or args.runs < 1:
        ap.error("--patients, --days and --runs must be positive")

    import yaml

    from bench.spark_profile import profile
    from ml.params import Params
    from pipelines import feature_store
    from pipelines.features import compute_frame
    from pipelines.featureset import default_feature_set
    from pipelines.silver import Window_, run_silver
    from pipelines.testing.synth import synthesize
    from pipelines.units import default_units

    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    params = Params.model_validate({k: raw[k] for k in Params.model_fields if k in raw})
    fs = default_feature_set()
    since = datetime(2024, 1, 1, tzinfo=UTC)
    until = since + timedelta(days=args.days)
    samples, phases = [], []
    events: dict[str, int] = {}
    for _ in range(args.runs):
        lake = Path(tempfile.mkdtemp(prefix="aepred-bench-"))
        evdir = lake / "_eventlog"
        spark = _session(args.master, evdir)
        sc = spark.sparkContext
        try:
            s0 = time.perf_counter()
            fx = synthesize(
                lake, patients=args.patients, days=args.days, vital_interval_min=args.vital_interval_min
            )
            synth_s = time.perf_counter() - s0
            events = {k: v for k, v in fx.rows.items() if k != "faults"}
            bronze_bytes = sum(f.stat().st_size for f in (lake / "bronze").rglob("*.parquet"))
            sc.setJobDescription("silver")
            t0 = time.perf_counter()
            run_silver(
                spark,
                str(lake),
                Window_(since, until),
                params=params,
                units=default_units(),
                fs=fs,
                processing_time=until + timedelta(days=1),
            )
            t1 = time.perf_counter()
            sc.setJobDescription("features")
            table = compute_frame(spark, str(lake), since, until, params=params, fs=fs)
            t2 = time.perf_counter()
            root = lake / "features"
            feature_store.write(root, table, fs)
            stats = feature_store.statistics(table, fs)
            feature_store.write_metadata(root, fs, stats, created=until)
            t3 = time.perf_counter()
            sc.setJobDescription(None)  # type: ignore[arg-type]
            samples.append(t3 - t0)
            walls = {"silver": t1 - t0, "features": t2 - t1}
            spark.stop()
            prof = profile(evdir, walls)
            phases.append(
                {
                    "synthesize_s": round(synth_s, 2),
                    "silver_s": round(t1 - t0, 2),
                    "features_compute_s": round(t2 - t1, 2),
                    "features_store_write_s": round(t3 - t2, 2),
                    "feature_rows": table.num_rows,
                    "bronze_mb": round(bronze_bytes / 1e6, 1),
                    "spark_stages": prof,
                }
            )
        finally:
            spark.stop()
            shutil.rmtree(lake, ignore_errors=True)
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    n_events = sum(events.values())
    key = f"{args.patients}x{args.days}"
    dest = args.out
    prev = json.loads(dest.read_text()) if dest.exists() else {}
    for ph in phases:
        ph["git_commit"] = commit
    if args.append and key in prev.get("extra", {}).get("sizes", {}):
        before = prev["extra"]["sizes"][key]
        if before.get("events") != n_events:
            ap.error(f"--append: recorded {key} had {before.get('events')} events, this run {n_events}")
        for ph in before["phases"]:
            ph.setdefault("git_commit", before.get("git_commit"))
        samples = [*before["samples"], *samples]
        phases = [*before["phases"], *phases]
    med = statistics.median(samples)
    run = {
        "patients": args.patients,
        "days": args.days,
        "vital_interval_min": args.vital_interval_min,
        "events": n_events,
        "events_by_topic": events,
        "median": med,
        "min": min(samples),
        "max": max(samples),
        "runs": len(samples),
        "samples": samples,
        "events_per_s": n_events / med,
        "phases": phases,
        "git_commit": commit,
        "recorded_at": datetime.now(UTC).isoformat(),
        "load_average_1m": os.getloadavg()[0],
        "notes": args.notes,
    }
    sizes = dict(prev.get("extra", {}).get("sizes", {}))
    sizes[key] = run
    head_key = args.headline or key
    if head_key not in sizes:
        ap.error(f"--headline {head_key}: no such size recorded (have {sorted(sizes)})")
    head = sizes[head_key]
    out = {
        "name": "features",
        "metric": (
            f"seconds, bronze -> silver -> features+labels (daily snapshots), {head['patients']} patients x "
            f"{head['days']} days ({head['events']:,} events), Spark {args.master}"
        ),
        "unit": "s",
        "median": head["median"],
        "min": head["min"],
        "max": head["max"],
        "runs": head["runs"],
        "samples": head["samples"],
        "git_commit": head["git_commit"],
        "machine_cores": os.cpu_count(),
        "recorded_at": head["recorded_at"],
        "notes": head["notes"],
        "extra": {
            **{k: v for k, v in prev.get("extra", {}).items() if k != "sizes"},
            "events": head["events"],
            "events_per_s": head["events_per_s"],
            "features": len(fs.features),
            "target_s": 600,
            "sizes": sizes,
        },
    }
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(out, indent=2) + "\n")
    print(
        json.dumps(
            {"size": key, **{k: run[k] for k in ("median", "events", "events_per_s")}, "phases": phases}
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
