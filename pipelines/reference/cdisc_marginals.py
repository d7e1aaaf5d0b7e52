"""Derive the simulator's reference marginals from the CDISC SDTM pilot (cdiscpilot01).

The trial simulator draws each patient's baseline vitals and labs from these marginals (by sex and
age band), and a test compares the simulator's output with them. Baseline records only
(VSBLFL/LBBLFL == "Y"; for HEIGHT, never flagged, each subject's first record), treated and screened
subjects alike. Vitals in standard units (VSSTRESN: mmHg, beats/min, C, kg, cm); labs in the
original conventional units (LBORRES, e.g. mg/dL) with the SI factor measured from the pilot's own
standardized values (LBSTRESN / LBORRES), and the reference ranges per sex (the most frequent
range). Run:

    .venv/bin/python -m pipelines.reference.cdisc_marginals [--data DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "cdiscpilot01" / "sdtm-parquet"
DEFAULT_OUT = ROOT / "src" / "sim" / "reference" / "cdisc-marginals.json"

AGE_BANDS = [(0, 65), (65, 75), (75, 85), (85, 200)]
VITALS = ["SYSBP", "DIABP", "PULSE", "TEMP", "WEIGHT", "HEIGHT"]
LABS = ["ALT", "AST", "BILI", "ALP", "CREAT", "BUN", "K", "SODIUM", "WBC", "HGB", "PLAT", "GLUC"]


def band(age: float) -> str:
    for lo, hi in AGE_BANDS:
        if lo <= age < hi:
            return f"{lo}-{hi - 1}"
    raise ValueError(age)


def stats(x: pd.Series) -> dict[str, float]:
    x = x.dropna().astype(float)
    pos = x[x > 0]
    logs = pos.map(math.log)
    return {
        "n": len(x),
        "mean": round(float(x.mean()), 4),
        "sd": round(float(x.std(ddof=1)), 4) if len(x) > 1 else 0.0,
        "log_mean": round(float(logs.mean()), 5),
        "log_sd": round(float(logs.std(ddof=1)), 5) if len(logs) > 1 else 0.0,
    }


def grouped(df: pd.DataFrame, value: str) -> dict[str, Any]:
    out: dict[str, Any] = {"all": stats(df[value])}
    for sex, g in df.groupby("SEX"):
        out[str(sex)] = stats(g[value])
        for b, gb in g.groupby("BAND"):
            out[f"{sex}|{b}"] = stats(gb[value])
    return out


def mode(s: pd.Series) -> float | None:
    s = pd.to_numeric(s, errors="coerce").dropna()
    return None if s.empty else round(float(s.mode().iloc[0]), 4)


def derive(data: Path) -> dict[str, Any]:
    dm = pd.read_parquet(data / "dm.parquet")[["USUBJID", "AGE", "SEX"]]
    dm["BAND"] = dm["AGE"].map(band)
    vs = pd.read_parquet(data / "vs.parquet")
    lb = pd.read_parquet(data / "lb.parquet")

    vs = vs[vs["VSSTRESN"].notna()].merge(dm, on="USUBJID")
    vitals: dict[str, Any] = {}
    for test in VITALS:
        v = vs[vs["VSTESTCD"] == test]
        if (v["VSBLFL"] == "Y").any():
            v = v[v["VSBLFL"] == "Y"]
        else:  # HEIGHT is measured once at screening and never flagged: each subject's first record
            v = v.sort_values(["USUBJID", "VISITNUM"]).groupby("USUBJID").head(1)
        if test in ("SYSBP", "DIABP", "PULSE") and (v["VSPOS"] == "SUPINE").any():
            v = v[v["VSPOS"] == "SUPINE"]  # the monitor reads a lying patient
        vitals[test] = {"unit": str(v["VSSTRESU"].mode().iloc[0]), "by": grouped(v, "VSSTRESN")}

    lb = lb[lb["LBBLFL"] == "Y"].merge(dm, on="USUBJID")
    lb["ORRES"] = pd.to_numeric(lb["LBORRES"], errors="coerce")
    labs: dict[str, Any] = {}
    for test in LABS:
        t = lb[(lb["LBTESTCD"] == test) & lb["ORRES"].notna()]
        ratio = (t["LBSTRESN"] / t["ORRES"]).replace([math.inf], math.nan).dropna()
        ranges: dict[str, Any] = {}
        for sex, g in t.groupby("SEX"):
            ranges[str(sex)] = {
                "conventional": [mode(g["LBORNRLO"]), mode(g["LBORNRHI"])],
                "si": [mode(g["LBSTNRLO"]), mode(g["LBSTNRHI"])],
            }
        labs[test] = {
            "name": str(t["LBTEST"].mode().iloc[0]),
            "unit_conventional": str(t["LBORRESU"].mode().iloc[0]),
            "unit_si": str(t["LBSTRESU"].mode().iloc[0]),
            "si_factor": round(float(ratio.median()), 5),
            "reference_range": ranges,
            "by": grouped(t, "ORRES"),
        }

    return {
        "source": "cdiscpilot01 SDTM (Parquet); baseline records (VSBLFL/LBBLFL == 'Y'); derived by "
        "pipelines/reference/cdisc_marginals.py",
        "age_bands": [f"{lo}-{hi - 1}" for lo, hi in AGE_BANDS],
        "demographics": {
            "n": len(dm),
            "female_fraction": round(float((dm["SEX"] == "F").mean()), 4),
            "age": {str(s): sorted(int(a) for a in g["AGE"]) for s, g in dm.groupby("SEX")},
        },
        "vitals": vitals,
        "labs": labs,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()
    out = derive(args.data)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
