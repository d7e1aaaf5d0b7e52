"""How well the drift rule separates drifted from undrifted data on simulated trials.

For each lake (``aepred simulate`` + silver + features), the reference is the first
``--reference-days`` of the trial; every later day is compared with it, over the whole trial and
within each site (against the site's own reference of every patient of that site, as
``ml/drift_reference.py`` builds it). Printed and written as JSON: per day, the number of counted
features (``monitoring.drift_rule_exclude`` left out) whose two-sample KS exceeds the trial and the
segment thresholds of params.yaml. The measurement behind docs/monitoring.md "Site-level drift".

    .venv/bin/python scripts/analysis/drift_separation.py LAKE [LAKE ...] [--out FILE]

The KS here is the exact two-sample statistic; the service's is binned (within 1 / reference_bins).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

from ml.drift_reference import monitored, read_sites
from ml.params import load_params


def _ks(a: np.ndarray, b: np.ndarray) -> float | None:
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    return None if len(a) < 5 or len(b) < 5 else float(ks_2samp(a, b).statistic)


def _count(ref: pd.DataFrame, live: pd.DataFrame, names: list[str], threshold: float) -> int:
    n = 0
    for f in names:
        k = _ks(ref[f].to_numpy(np.float64, na_value=np.nan), live[f].to_numpy(np.float64, na_value=np.nan))
        n += k is not None and k > threshold
    return n


def lake_table(lake: Path, reference_days: int, params_path: Path | None) -> dict[str, object]:
    mon = load_params(params_path).monitoring
    frame = pd.concat(pd.read_parquet(f) for f in sorted(lake.glob("features/*/date=*/*.parquet")))
    frame["t"] = pd.to_datetime(frame["snapshot_time"], utc=True)
    frame["site"] = frame["patient_id"].map(read_sites(lake))
    meta = {"patient_id", "snapshot_time", "label", "label_complete", "t", "site"}
    names = monitored([c for c in frame.columns if c not in meta], mon.drift_rule_exclude)
    start = frame["t"].min().floor("D")
    cut = start + timedelta(days=reference_days)
    ref = frame[frame["t"] < cut]
    sites = sorted(s for s, g in ref.groupby("site") if g["patient_id"].nunique() >= mon.segment_min_patients)
    days = []
    day = cut
    while day < frame["t"].max():
        live = frame[(frame["t"] >= day) & (frame["t"] < day + timedelta(days=1))]
        days.append(
            {
                "day": str(day.date()),
                "trial": _count(ref, live, names, mon.ks_threshold),
                "sites": {
                    s: _count(ref[ref["site"] == s], live[live["site"] == s], names, mon.segment_ks_threshold)
                    for s in sites
                },
            }
        )
        day += timedelta(days=1)
    manifest = json.loads((lake / "sim" / "manifest.json").read_text())
    return {
        "lake": str(lake),
        "scenario": manifest["scenario"],
        "seed": manifest["args"]["seed"],
        "patients": manifest["args"]["patients"],
        "counted_features": len(names),
        "reference_days": reference_days,
        "thresholds": {
            "trial": [mon.ks_threshold, mon.max_drifted_features],
            "site": [mon.segment_ks_threshold, mon.segment_max_drifted_features],
        },
        "days": days,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="drift_separation.py")
    ap.add_argument("lakes", nargs="+", type=Path)
    ap.add_argument("--reference-days", type=int, default=6)
    ap.add_argument("--params", type=Path)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args(argv)
    tables = [lake_table(lake, a.reference_days, a.params) for lake in a.lakes]
    for t in tables:
        print(f"{t['scenario']['name']} seed {t['seed']} ({t['counted_features']} counted features)")
        for d in t["days"]:  # type: ignore[attr-defined]
            print(f"  {d['day']}  trial {d['trial']:3d}  sites {d['sites']}")
    if a.out:
        a.out.write_text(json.dumps({"lakes": tables}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
