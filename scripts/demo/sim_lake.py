"""A simulated trial of one scenario straight into a bronze lake (no Kafka): the closed-loop test and
demo need a site-drift or concept-drift trial in a lake of their own.

    python scripts/demo/sim_lake.py --out LAKE --scenario site-drift --patients 40 --days 20 --seed 7
        --start 2025-01-06

Uses the same conversion as the DVC/Kubeflow `raw` step (pipelines/kubeflow/steps.py), with the
simulator's `--scenario`; also keeps the NDJSON (`LAKE/sim/`) and the ground-truth manifest.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from ml.paths import REPO_ROOT
from pipelines import bronze
from pipelines.kubeflow.steps import _ndjson_table
from pipelines.testing.synth import write_topic


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="sim_lake")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--scenario", default="baseline")
    p.add_argument("--patients", type=int, required=True)
    p.add_argument("--days", type=int, required=True)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--start", required=True)
    a = p.parse_args(argv)
    sim = a.out / "sim"
    for owned in ("bronze", "enrollment", "silver", "features", "sim"):
        shutil.rmtree(a.out / owned, ignore_errors=True)
    sim.mkdir(parents=True)
    flags = {"--patients": a.patients, "--days": a.days, "--seed": a.seed, "--start": a.start}
    args = [str(v) for kv in flags.items() for v in kv]
    to = ["--to", "dir", str(sim)]
    subprocess.run(
        ["node", str(REPO_ROOT / "bin" / "aepred.js"), "simulate", *args, "--scenario", a.scenario, *to],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    )
    rows = {}
    for topic in bronze.TOPICS:
        src = sim / f"{topic}.ndjson"
        if src.exists():
            rows[topic] = write_topic(a.out, topic, _ndjson_table(topic, src))
    (a.out / "enrollment").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(sim / "enrollment.ndjson", a.out / "enrollment" / "enrollment.ndjson")
    print(json.dumps({"lake": str(a.out), "scenario": a.scenario, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
