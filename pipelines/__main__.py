"""python -m pipelines silver|features ...: the batch jobs of issue 5 (docs/silver.md, docs/features.md).

Nothing below the CLI reads the wall clock: processing time is taken here once (or from --now) and
passed down, so a rerun with the same --now is reproducible.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from ml.paths import LOCAL_DIR


def _instant(text: str) -> datetime:
    d = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def _lake(text: str) -> str:
    if text.startswith("s3://"):
        return "s3a://" + text.removeprefix("s3://")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines")
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name in ("silver", "features"):
        p = sub.add_parser(name)
        p.add_argument("--since", type=_instant, required=True, help="ISO 8601 instant (UTC if no offset)")
        p.add_argument("--until", type=_instant, required=True, help="exclusive")
        p.add_argument(
            "--lake", type=_lake, default=str(LOCAL_DIR / "lake"), help="path or s3a://bucket/prefix"
        )
        p.add_argument("--master", default=None, help="Spark master (default local[*])")
        p.add_argument("--params", type=Path, default=None, help="params.yaml (default: the repository's)")
        p.add_argument(
            "--no-mlflow", action="store_true", help="skip MLflow logging (the report is still written)"
        )
    sub.choices["silver"].add_argument(
        "--now", type=_instant, default=None, help="processing time (default: now)"
    )
    for p in sub.choices.values():
        p.add_argument(
            "--jdbc-url",
            default=None,
            help="read enrollment from Postgres over JDBC, e.g. "
            "jdbc:postgresql://127.0.0.1:55432/aepred?user=aepred (default: <lake>/enrollment files; "
            "env AEPRED_ENROLLMENT_JDBC_URL)",
        )
    f = sub.choices["features"]
    f.add_argument("--cadence-hours", type=float, default=None, help="snapshot cadence (default params.yaml)")
    f.add_argument("--out", default=None, help="feature store root (default <lake>/features)")
    args = parser.parse_args(argv)
    if args.since >= args.until:
        parser.error(f"--since {args.since.isoformat()} must be before --until {args.until.isoformat()}")

    import os

    from ml.params import load_params
    from pipelines.featureset import default_feature_set
    from pipelines.spark import build_session

    jdbc_url = getattr(args, "jdbc_url", None) or os.environ.get("AEPRED_ENROLLMENT_JDBC_URL")
    spark = build_session(
        args.master, app=f"aepred-{args.cmd}", jdbc=bool(jdbc_url), s3a=args.lake.startswith("s3a://")
    )
    params = load_params(args.params)
    fs = default_feature_set()
    if args.cmd == "silver":
        from pipelines.silver import Window_, log_report, run_silver
        from pipelines.units import default_units

        report = run_silver(
            spark,
            args.lake,
            Window_(args.since, args.until),
            params=params,
            units=default_units(),
            fs=fs,
            processing_time=args.now or datetime.now(UTC),
            jdbc_url=jdbc_url,
        )
        run_id = None if args.no_mlflow else log_report(report, args.lake)
        print(json.dumps({"topics": report.topics, "rules": len(report.rules), "mlflow_run_id": run_id}))
        return 0
    from pipelines.features import run_features

    result = run_features(
        spark,
        args.lake,
        args.since,
        args.until,
        params=params,
        fs=fs,
        cadence_hours=args.cadence_hours,
        out=args.out,
        log_mlflow=not args.no_mlflow,
        created=datetime.now(UTC),
        jdbc_url=jdbc_url,
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
