"""Bronze -> silver -> features with Spark local: writes bench/results/features.json.

    .venv/bin/python bench/features.bench.py [--patients 1000 --days 90 --runs 1]

The target size of issue 5 is 1,000 patients x 90 days (about 18 M events at a 7-minute vital
interval). Synthetic bronze comes from pipelines.testing.synth (contract-exact Parquet); the timed part
is the two Spark jobs. Scaling across sizes is recorded in `extra` so a smaller run can be extrapolated.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=int(os.environ.get("BENCH_PATIENTS", "1000")))
    ap.add_argument("--days", type=int, default=int(os.environ.get("BENCH_DAYS", "90")))
    ap.add_argument("--vital-interval-min", type=int, default=7)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--master", default="local[*]")
    ap.add_argument("--notes", default="")
    args = ap.parse_args()

    import yaml

    from ml.params import Params
    from pipelines.features import run_features
    from pipelines.featureset import default_feature_set
    from pipelines.silver import Window_, run_silver
    from pipelines.spark import build_session
    from pipelines.testing.synth import synthesize
    from pipelines.units import default_units

    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    params = Params.model_validate({k: raw[k] for k in Params.model_fields if k in raw})
    fs = default_feature_set()
    since = datetime(2024, 1, 1, tzinfo=UTC)
    until = since + timedelta(days=args.days)
    spark = build_session(args.master, app="aepred-bench-features")
    samples, phases = [], []
    events = 0
    for _ in range(args.runs):
        lake = Path(tempfile.mkdtemp(prefix="aepred-bench-"))
        try:
            fx = synthesize(
                lake, patients=args.patients, days=args.days, vital_interval_min=args.vital_interval_min
            )
            events = sum(v for k, v in fx.rows.items() if k != "faults")
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
            res = run_features(
                spark, str(lake), since, until, params=params, fs=fs, log_mlflow=False, created=until
            )
            t2 = time.perf_counter()
            samples.append(t2 - t0)
            phases.append({"silver_s": t1 - t0, "features_s": t2 - t1, "feature_rows": res["rows"]})
        finally:
            shutil.rmtree(lake, ignore_errors=True)
    spark.stop()
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    out = {
        "name": "features",
        "metric": (
            f"seconds, bronze -> silver -> features+labels, {args.patients} patients x {args.days} days, "
            f"Spark {args.master}"
        ),
        "unit": "s",
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "runs": len(samples),
        "samples": samples,
        "git_commit": commit,
        "machine_cores": os.cpu_count(),
        "recorded_at": datetime.now(UTC).isoformat(),
        "notes": args.notes,
        "extra": {
            "events": events,
            "events_per_s": events / statistics.median(samples),
            "phases": phases,
            "features": len(fs.features),
            "load_average_1m": os.getloadavg()[0],
        },
    }
    dest = ROOT / "bench" / "results" / "features.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
