"""The drift reference shipped beside a model: ``drift_reference.json`` (docs/monitoring.md).

The service compares live feature values with the training split's distribution
(``src/monitoring/drift.ts``). Both sides must bin the same way, so this is a line-for-line port of
``buildFeatureReference``: edges are the distinct training quantiles at k/bins taken as
``sorted[floor(k*n/bins)]``, then the training max if it is larger than the last quantile; a value
``v`` falls in bin ``#edges < v`` (``searchsorted(..., side="left")``); proportions are the share of
non-missing values per bin. A feature with no value at all in the training split has no
distribution to compare with and is left out (the schema needs one bin at least); it is named in
the result so that the caller can log it.

``python -m ml.drift_reference --model-dir OUT/model (--data F | --feature-store S --start A --end B)
[--run-id RUN]`` rebuilds the training split exactly as the recipe does (same patient split, same
seed), writes ``OUT/model/drift_reference.json`` and, with ``--run-id``, logs it to that MLflow run
as ``model/drift_reference.json`` beside ``model.onnx``.

Segments (``monitoring.segment_by: site_id``, docs/monitoring.md "Site-level drift"): with
``--lake`` the file also holds one reference per site, built from **every** patient of that site in
the window, every snapshot (labelled or not), not only the training split: a trial's site is a
fixed cohort that the service sees again, and leaving a third of a 15-patient site out of its
reference reads their between-patient differences as drift. It is restricted to the features the
drift rule counts (``monitoring.drift_rule_exclude``). Sites come from the enrollment table: PostgreSQL when
``AEPRED_ENROLLMENT_JDBC_URL`` is set (as the Spark jobs do), else ``<lake>/enrollment``. A site
with fewer than ``monitoring.segment_min_patients`` patients gets no reference (named in the result).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ml.data import DataError, load_feature_store, load_frame, split_by_patient
from ml.params import Params, ParamsError, load_params

SCHEMA_VERSION = 1
FILE_NAME = "drift_reference.json"


class FeatureReference(TypedDict):
    name: str
    min: float
    max: float
    missing_rate: float
    edges: list[float]
    proportions: list[float]


def feature_reference(name: str, values: NDArray[np.float64], bins: int = 100) -> FeatureReference | None:
    """One feature's reference, or None when every value is missing."""
    v = np.asarray(values, dtype=np.float64)
    present = np.sort(v[~np.isnan(v)])
    n = len(present)
    if n == 0:
        return None
    edges: list[float] = []
    for k in range(1, bins):
        q = float(present[min(n - 1, (k * n) // bins)])
        if not edges or q > edges[-1]:
            edges.append(q)
    top = float(present[-1])
    if not edges or top > edges[-1]:
        edges.append(top)
    idx = np.searchsorted(np.asarray(edges), present, side="left")
    counts = np.bincount(idx, minlength=len(edges) + 1)
    return {
        "name": name,
        "min": float(present[0]),
        "max": top,
        "missing_rate": (len(v) - n) / len(v),
        "edges": edges,
        "proportions": [int(c) / n for c in counts],
    }


def training_reference(
    frame: pd.DataFrame, names: list[str], feature_set_hash: str, bins: int = 100
) -> tuple[dict[str, Any], list[str]]:
    """(the reference document, the features left out because they had no value)."""
    features: list[FeatureReference] = []
    empty: list[str] = []
    for name in names:
        ref = feature_reference(name, _column(frame, name), bins)
        if ref is None:
            empty.append(name)
        else:
            features.append(ref)
    if not features:
        raise DataError("no feature has a value in the training split: nothing to build a reference from")
    doc = {
        "schema_version": SCHEMA_VERSION,
        "feature_set_hash": feature_set_hash,
        "rows": len(frame),
        "features": features,
    }
    return doc, empty


def monitored(names: list[str], exclude: tuple[str, ...] | list[str]) -> list[str]:
    """The features the drift rule counts: those matching none of the fnmatch patterns."""
    return [n for n in names if not any(fnmatch.fnmatchcase(n, p) for p in exclude)]


def read_sites(lake: Path) -> dict[str, str]:
    """patient_id -> site_id from the enrollment table (PostgreSQL over the JDBC URL, else the lake)."""
    url = os.environ.get("AEPRED_ENROLLMENT_JDBC_URL")
    if url:
        m = re.match(r"jdbc:postgresql://([^:/?]+)(?::(\d+))?/([^?]+)(?:\?(.*))?$", url)
        if not m:
            raise DataError(f"AEPRED_ENROLLMENT_JDBC_URL is not a jdbc:postgresql URL: {url}")
        q = dict(kv.split("=", 1) for kv in (m.group(4) or "").split("&") if "=" in kv)
        import psycopg2

        with (
            psycopg2.connect(
                host=m.group(1),
                port=int(m.group(2) or 5432),
                dbname=m.group(3),
                user=q.get("user", "aepred"),
                password=q.get("password"),
            ) as conn,
            conn.cursor() as cur,
        ):
            cur.execute("SELECT patient_id, site_id FROM enrollment")
            return {str(p): str(s) for p, s in cur.fetchall()}
    folder = lake / "enrollment"
    files = sorted([*folder.glob("*.ndjson"), *folder.glob("*.json")]) if folder.is_dir() else []
    if not files:
        raise DataError(f"{folder}: no enrollment files (needed for per-site drift references)")
    sites: dict[str, str] = {}
    for f in files:
        for i, line in enumerate(f.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                sites[str(row["patient_id"])] = str(row["site_id"])
            except (ValueError, KeyError, TypeError) as e:
                raise DataError(f"{f}:{i}: not an enrollment row with patient_id and site_id ({e})") from e
    return sites


def segment_references(
    frame: pd.DataFrame,
    names: list[str],
    sites: dict[str, str],
    min_patients: int,
    bins: int = 100,
) -> tuple[dict[str, Any], list[str]]:
    """({"by": "site_id", "groups": [...]}, the sites left out for too few patients or no values)."""
    site = frame["patient_id"].astype(str).map(sites)
    unknown = int(site.isna().sum())
    if unknown:
        missing = sorted(set(frame.loc[site.isna(), "patient_id"].astype(str)))[:5]
        raise DataError(f"{unknown} feature rows have no site in the enrollment table (e.g. {missing})")
    groups: list[dict[str, Any]] = []
    left_out: list[str] = []
    for key, rows in frame.groupby(site, sort=True):
        patients = int(rows["patient_id"].nunique())
        if patients < min_patients:
            left_out.append(f"{key} ({patients} patients)")
            continue
        feats = [r for n in names if (r := feature_reference(n, _column(rows, n), bins)) is not None]
        if not feats:
            left_out.append(f"{key} (no values)")
            continue
        groups.append({"key": str(key), "patients": patients, "rows": len(rows), "features": feats})
    return {"by": "site_id", "groups": groups}, left_out


def _column(frame: pd.DataFrame, name: str) -> NDArray[np.float64]:
    col = frame[name] if name in frame.columns else pd.Series(np.nan, index=frame.index)
    out: NDArray[np.float64] = col.to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def training_split(frame: pd.DataFrame, params: Params, seed: int, label: str = "label") -> pd.DataFrame:
    """The rows the recipe trains on (ml/recipe.py: the same stratified patient split and seed)."""
    sp = params.training.split
    split = split_by_patient(
        frame["patient_id"].to_numpy(), frame[label].to_numpy(), (sp.train, sp.val, sp.test), seed
    )
    return frame[split.train].reset_index(drop=True)


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml.drift_reference")
    parser.add_argument("--model-dir", type=Path, required=True, help="training output's model/ folder")
    parser.add_argument("--data", type=Path)
    parser.add_argument("--feature-store", type=Path)
    parser.add_argument("--start")
    parser.add_argument("--end")
    parser.add_argument("--label", default="label")
    parser.add_argument("--seed", type=int, help="the training seed (default: params.yaml's)")
    parser.add_argument("--params", type=Path)
    parser.add_argument("--run-id", help="log the file to this MLflow run as model/drift_reference.json")
    parser.add_argument(
        "--lake",
        type=Path,
        help="with monitoring.segment_by: per-site references from <lake>/features (enrollment: here)",
    )
    parser.add_argument(
        "--segments-start",
        help="per-site references from here (default --start); a drift-triggered model: its trigger",
    )
    args = parser.parse_args(argv)
    try:
        if (args.data is None) == (args.feature_store is None):
            raise DataError("give exactly one of --data and --feature-store")
        params = load_params(args.params)
        meta = json.loads((args.model_dir / "feature_names.json").read_text())
        if args.feature_store is not None:
            if not (args.start and args.end):
                raise DataError("--feature-store needs --start and --end")
            frame, _ = load_feature_store(args.feature_store, args.start, args.end)
        else:
            frame = load_frame(args.data)
        seed = params.seed if args.seed is None else args.seed
        train = training_split(frame, params, seed, args.label)
        doc, empty = training_reference(
            train,
            list(meta["feature_names"]),
            str(meta["feature_set_hash"]),
            params.monitoring.reference_bins,
        )
        segments_left_out: list[str] = []
        mon = params.monitoring
        if mon.segment_by is not None and args.lake is not None:
            names = monitored(list(meta["feature_names"]), mon.drift_rule_exclude)
            # every snapshot of every patient in the window, from the feature store whatever the
            # training data was (a comparison hold-out's training frame holds 70 % of the patients),
            # and not only those whose label horizon has elapsed: the window's last day is the one
            # closest to what the service sees next (measured: without it a site's undrifted days
            # showed 6-13 features over the segment threshold instead of 0-7)
            if not args.end:
                raise DataError("--lake (per-site references) needs --end")
            seg_start = args.segments_start or args.start
            if not seg_start:
                raise DataError("--lake (per-site references) needs --start or --segments-start")
            whole, _ = load_feature_store(args.lake / "features", seg_start, args.end, complete_only=False)
            doc["segments"], segments_left_out = segment_references(
                whole, names, read_sites(args.lake), mon.segment_min_patients, mon.reference_bins
            )
    except (DataError, ParamsError, OSError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = args.model_dir / FILE_NAME
    out.write_text(json.dumps(doc, allow_nan=False) + "\n")
    if args.run_id:
        import mlflow

        from ml.tracking import configure

        configure()
        with mlflow.start_run(run_id=args.run_id):
            mlflow.log_artifact(str(out), "model")
    print(
        json.dumps(
            {
                "path": str(out),
                "rows": doc["rows"],
                "features": len(doc["features"]),
                "left_out": empty,
                "segments": len(doc["segments"]["groups"]) if "segments" in doc else 0,
                "segments_left_out": segments_left_out,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(_main())
