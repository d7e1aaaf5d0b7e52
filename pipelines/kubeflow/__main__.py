"""python -m pipelines.kubeflow compile|run|schedule (docs/pipelines.md)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.kubeflow.schedule import (
    EXPERIMENT,
    PIPELINE_YAML,
    REASONS,
    create_weekly,
    run_arguments,
    schedule_definition,
)


def compile_pipeline(out: Path = PIPELINE_YAML) -> Path:
    from kfp import compiler

    from pipelines.kubeflow.pipeline import training_pipeline

    compiler.Compiler().compile(training_pipeline, str(out))
    return out


def run_local(arguments: dict[str, Any], pipeline_root: Path) -> dict[str, Any]:
    """The whole pipeline in this virtual environment, one subprocess per component."""
    from kfp import local

    from pipelines.kubeflow.pipeline import training_pipeline

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(pipeline_root))
    task = training_pipeline(**arguments)
    out: dict[str, Any] = {}
    for k, v in task.outputs.items():
        out[k] = {"uri": v.uri, "metadata": v.metadata} if hasattr(v, "uri") else v
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pipelines.kubeflow")
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("compile", help="write pipeline.yaml")
    c.add_argument("--out", type=Path, default=PIPELINE_YAML)
    r = sub.add_parser("run", help="one run: on a KFP endpoint (--host) or locally (--local)")
    where = r.add_mutually_exclusive_group(required=True)
    where.add_argument("--host", help="KFP API endpoint")
    where.add_argument("--local", type=Path, metavar="PIPELINE_ROOT", help="run here with SubprocessRunner")
    r.add_argument("--reason", choices=REASONS, default="manual")
    r.add_argument("--start-date")
    r.add_argument("--end-date")
    r.add_argument("--now", help="the caller's clock (ISO 8601) for the default window")
    r.add_argument("--source", default="s3a://aepred-lake/")
    r.add_argument("--baseline-model-id", default="")
    r.add_argument("--service-url", default="")
    r.add_argument("--params-json", default="{}", help="params.yaml overrides as JSON")
    s = sub.add_parser("schedule", help="create the weekly recurring run on a KFP endpoint")
    s.add_argument("--host", required=True)
    s.add_argument("--source", default="s3a://aepred-lake/")
    s.add_argument("--service-url", default="")
    s.add_argument("--dry-run", action="store_true", help="print the recurring-run definition only")
    args = p.parse_args(argv)

    from ml.params import load_params

    cfg = load_params().pipeline
    if args.cmd == "compile":
        print(json.dumps({"compiled": str(compile_pipeline(args.out))}))
        return 0
    if args.cmd == "schedule":
        if args.dry_run:
            print(
                json.dumps(
                    schedule_definition(cfg, source=args.source, service_url=args.service_url), indent=1
                )
            )
            return 0
        import kfp

        job = create_weekly(kfp.Client(host=args.host), cfg, source=args.source, service_url=args.service_url)
        print(
            json.dumps(
                {
                    "recurring_run_id": job.recurring_run_id,
                    "cron": cfg.schedule_cron,
                    "controller_timezone": cfg.schedule_timezone,
                }
            )
        )
        return 0
    if args.start_date and args.end_date:
        name = f"{args.reason}-{args.start_date}-{args.end_date}"
        arguments: dict[str, Any] = {
            "start_date": args.start_date,
            "end_date": args.end_date,
            "source": args.source,
            "baseline_model_id": args.baseline_model_id,
            "service_url": args.service_url,
        }
    else:
        if not args.now:
            p.error("give --start-date and --end-date, or --now for the last pipeline.training_days days")
        now = datetime.fromisoformat(args.now.replace("Z", "+00:00")).astimezone(UTC)
        name, arguments = run_arguments(
            args.reason,
            now,
            cfg.training_days,
            source=args.source,
            baseline_model_id=args.baseline_model_id,
            service_url=args.service_url,
        )
    arguments["params"] = json.loads(args.params_json)
    if args.local:
        print(json.dumps(run_local(arguments, args.local), default=str))
        return 0
    import kfp

    client = kfp.Client(host=args.host)
    run = client.create_run_from_pipeline_package(
        str(PIPELINE_YAML), arguments=arguments, run_name=name, experiment_name=EXPERIMENT
    )
    print(json.dumps({"run_id": run.run_id, "run_name": name}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
