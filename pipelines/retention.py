"""Retention (PRD 4.5, issue 10): raw data 7 years, models 2 years (params.yaml `retention`).

Two enforcements of one policy:
- S3 lifecycle rules (`lifecycle_configuration`), applied with PutBucketLifecycleConfiguration to the
  lake bucket (bronze, DLQ, silver, raw snapshots: raw_days) and to the model bucket (MLflow artifacts
  and data/models: models_days); `apply-s3` reads them back and fails if the store did not keep them.
- `cleanup` for a local lake (the embedded mode): date partitions (`date=YYYY-MM-DD`) older than
  raw_days are deleted by their event date, model folders older than models_days by their newest
  file, against an injected "now", with --dry-run.

The clock is an argument (`--now`, default the current time only at the CLI), so a test drives it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from ml.params import Retention

# Lake prefixes holding raw data (and data derived row by row from it) under the 7-year rule.
RAW_PREFIXES = ("bronze/", "dlq/", "silver/", "features/", "raw/")
MODEL_PREFIXES = ("models/",)


def lifecycle_configuration(r: Retention, *, models_bucket: bool = False) -> dict[str, Any]:
    """The LifecycleConfiguration for the lake bucket or (models_bucket) the model bucket."""
    rules: list[dict[str, Any]] = []
    if models_bucket:
        rules.append(_expire("models-2y", "", r.models_days))
    else:
        rules += [_expire(f"raw-7y-{p.rstrip('/')}", p, r.raw_days) for p in RAW_PREFIXES]
        rules += [_expire(f"models-2y-{p.rstrip('/')}", p, r.models_days) for p in MODEL_PREFIXES]
    return {"Rules": rules}


def _expire(rule_id: str, prefix: str, days: int) -> dict[str, Any]:
    return {
        "ID": rule_id,
        "Filter": {"Prefix": prefix},
        "Status": "Enabled",
        "Expiration": {"Days": days},
        # Versioned buckets: old versions go the same day the current one would.
        "NoncurrentVersionExpiration": {"NoncurrentDays": days},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
    }


def apply_s3(client: Any, bucket: str, config: dict[str, Any]) -> list[dict[str, Any]]:
    """PutBucketLifecycleConfiguration, then GetBucketLifecycleConfiguration; returns the stored rules
    and raises if a rule did not come back as sent."""
    client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=config)
    stored: list[dict[str, Any]] = client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    got = {r["ID"]: r for r in stored}
    for rule in config["Rules"]:
        back = got.get(rule["ID"])
        if back is None or back["Expiration"].get("Days") != rule["Expiration"]["Days"]:
            raise RuntimeError(f"{bucket}: lifecycle rule {rule['ID']} was not stored as sent: {back}")
        if back.get("Filter", {}).get("Prefix", "") != rule["Filter"]["Prefix"]:
            raise RuntimeError(f"{bucket}: rule {rule['ID']} prefix changed: {back.get('Filter')}")
    return stored


@dataclass
class CleanupReport:
    now: str
    raw_cutoff: str
    models_cutoff: str
    dry_run: bool
    deleted: list[str] = field(default_factory=list)
    kept: int = 0
    bytes_freed: int = 0


def _size(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) if p.is_dir() else p.stat().st_size


def _newest_mtime(p: Path) -> float:
    files = [f for f in p.rglob("*") if f.is_file()] if p.is_dir() else [p]
    return max((f.stat().st_mtime for f in files), default=p.stat().st_mtime)


def cleanup(
    lake: Path, now: datetime, r: Retention, *, models: Path | None = None, dry_run: bool = False
) -> CleanupReport:
    """Deletes raw partitions whose date is before now - raw_days and model folders (children of
    `models`) whose newest file is older than now - models_days. A partition of exactly the cutoff
    date is kept: retention is at least raw_days."""
    raw_cutoff = (now - timedelta(days=r.raw_days)).date()
    models_cutoff = now - timedelta(days=r.models_days)
    report = CleanupReport(now.isoformat(), raw_cutoff.isoformat(), models_cutoff.isoformat(), dry_run)
    victims: list[Path] = []
    for prefix in RAW_PREFIXES:
        root = lake / prefix.rstrip("/")
        for part in sorted(root.rglob("date=*")) if root.is_dir() else []:
            if not part.is_dir():
                continue
            try:
                d = date.fromisoformat(part.name.removeprefix("date="))
            except ValueError:
                continue  # not a date partition: never guessed at
            if d < raw_cutoff:
                victims.append(part)
            else:
                report.kept += 1
    if models is not None and models.is_dir():
        for child in sorted(models.iterdir()):
            if datetime.fromtimestamp(_newest_mtime(child), UTC) < models_cutoff:
                victims.append(child)
            else:
                report.kept += 1
    for v in victims:
        report.bytes_freed += _size(v)
        report.deleted.append(str(v))
        if not dry_run:
            shutil.rmtree(v) if v.is_dir() else v.unlink()
    return report


def _s3_client(endpoint: str | None) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=endpoint)


def main(argv: list[str] | None = None) -> int:
    from ml.params import load_params

    p = argparse.ArgumentParser(prog="python -m pipelines.retention")
    p.add_argument("--params", type=Path)
    sub = p.add_subparsers(dest="cmd", required=True)
    rules = sub.add_parser("rules", help="print the lifecycle configuration")
    rules.add_argument("--models-bucket", action="store_true")
    a = sub.add_parser("apply-s3", help="put the lifecycle rules on a bucket and read them back")
    a.add_argument("--bucket", required=True)
    a.add_argument("--models-bucket", action="store_true", help="the model bucket's single 2-year rule")
    a.add_argument("--endpoint-url", default=None, help="S3 endpoint (MinIO: http://127.0.0.1:59000)")
    c = sub.add_parser("cleanup", help="delete local lake partitions and model folders past retention")
    c.add_argument("--lake", type=Path, required=True)
    c.add_argument("--models", type=Path, help="folder whose children are model versions")
    c.add_argument("--now", help="ISO 8601 (default: the current time)")
    c.add_argument("--dry-run", action="store_true")
    args = p.parse_args(argv)
    r = load_params(args.params).retention
    if args.cmd == "rules":
        print(json.dumps(lifecycle_configuration(r, models_bucket=args.models_bucket), indent=1))
    elif args.cmd == "apply-s3":
        cfg = lifecycle_configuration(r, models_bucket=args.models_bucket)
        stored = apply_s3(_s3_client(args.endpoint_url), args.bucket, cfg)
        print(json.dumps({"bucket": args.bucket, "rules": stored}, default=str))
    else:
        now = (
            datetime.fromisoformat(args.now.replace("Z", "+00:00")) if args.now else datetime.now(UTC)
        ).astimezone(UTC)
        rep = cleanup(args.lake, now, r, models=args.models, dry_run=args.dry_run)
        print(json.dumps(rep.__dict__))
    return 0


if __name__ == "__main__":
    sys.exit(main())
