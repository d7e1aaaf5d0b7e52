"""PhysioNet/CinC 2019 hourly features, labels and the NEWS2-style baseline, for the benchmark.

Why this module exists: the benchmark needs hourly features for 790k ICU hours now, and the Spark
feature store (issue 5) does not yet serve PhysioNet. Features here are computed directly from the
.psv files with vectorized numpy, named after contracts/features.yaml where a contract feature
means the same thing (hr_mean_6h, creat_last, ...). It is a stand-in, said so in the benchmark's
notes; it is not the served definition.

Every feature at hour t uses only rows <= t of the same stay (point-in-time). Labels:
- ``label`` (6 h): the challenge's own SepsisLabel (1 from 6 h before Sepsis-3 onset onward);
- ``label_24h``: 1 from 24 h before onset onward, i.e. from 18 h before the first SepsisLabel = 1.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ml.paths import LOCAL_DIR

# PhysioNet column -> contract signal prefix (contracts/features.yaml), where one exists.
VITALS = {
    "HR": "hr",
    "SBP": "sbp",
    "DBP": "dbp",
    "MAP": "map",
    "Temp": "temp",
    "O2Sat": "spo2",
    "Resp": "rr",
}
LABS = {
    "EtCO2": "etco2",
    "BaseExcess": "base_excess",
    "HCO3": "hco3",
    "FiO2": "fio2",
    "pH": "ph",
    "PaCO2": "paco2",
    "SaO2": "sao2",
    "AST": "ast",
    "BUN": "bun",
    "Alkalinephos": "alkphos",
    "Calcium": "calcium",
    "Chloride": "chloride",
    "Creatinine": "creat",
    "Bilirubin_direct": "bili_direct",
    "Glucose": "glucose",
    "Lactate": "lactate",
    "Magnesium": "magnesium",
    "Phosphate": "phosphate",
    "Potassium": "potassium",
    "Bilirubin_total": "bili",
    "TroponinI": "troponin",
    "Hct": "hct",
    "Hgb": "hgb",
    "PTT": "ptt",
    "WBC": "wbc",
    "Fibrinogen": "fibrinogen",
    "Platelets": "plat",
}
FFILL_LIMIT_H = 2  # contracts/features.yaml settings.ffill_limit: a vital older than this is missing


def _read_all(files: list[Path]) -> pd.DataFrame:
    """One CSV parse over the concatenated bodies: 20,000 small read_csv calls cost minutes."""
    import io

    header = files[0].open().readline()
    bodies: list[str] = []
    ids: list[str] = []
    counts: list[int] = []
    for f in files:
        text = f.read_text()
        head, _, body = text.partition("\n")
        if head + "\n" != header:
            raise ValueError(f"{f}: header differs from {files[0].name}")
        body = body if body.endswith("\n") or not body else body + "\n"
        bodies.append(body)
        ids.append(f.stem)
        counts.append(body.count("\n"))
    df = pd.read_csv(io.StringIO(header + "".join(bodies)), sep="|")
    df.insert(0, "patient_id", np.repeat(np.asarray(ids, dtype=object), counts))
    return df


def load_raw(directory: Path, cache: bool = True) -> pd.DataFrame:
    """All stays of a folder of .psv files, rows in (patient, hour) order; cached as Parquet keyed by
    the folder's listing so a rerun does not parse 20,000 files again."""
    files = sorted(directory.glob("*.psv"))
    if not files:
        raise FileNotFoundError(f"no .psv files in {directory}")
    key = hashlib.sha256("\n".join(f"{f.name}:{f.stat().st_size}" for f in files).encode()).hexdigest()[:16]
    cache_path = LOCAL_DIR / "cache" / "physionet" / f"{directory.name}-{key}.parquet"
    if cache and cache_path.exists():
        return pd.read_parquet(cache_path)
    raw = _read_all(files)
    if cache:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        raw.to_parquet(cache_path, index=False)
    return raw


class _Stays:
    """Row geometry of stays laid out contiguously: the start row of each row's stay and its hour."""

    def __init__(self, patient_id: NDArray[np.object_]) -> None:
        pid = np.asarray(patient_id)
        new = np.r_[True, pid[1:] != pid[:-1]]
        self.start = np.maximum.accumulate(np.where(new, np.arange(pid.size), 0))
        self.hour = np.arange(pid.size) - self.start
        self.n = pid.size

    def window_sum(self, v: NDArray[np.float64], w: int) -> NDArray[np.float64]:
        """Sum over the last w rows of the same stay (rows t-w+1..t), via a cumulative sum."""
        c = np.r_[0.0, np.cumsum(v)]
        lo = np.maximum(np.arange(self.n) - w + 1, self.start)
        return np.asarray(c[np.arange(self.n) + 1] - c[lo])

    def window_extreme(self, x: NDArray[np.float64], w: int, fn: np.ufunc) -> NDArray[np.float64]:
        out = x.copy()
        for k in range(1, w):
            shifted = np.full(self.n, np.nan)
            shifted[k:] = x[:-k]
            shifted[self.hour < k] = np.nan  # row k back belongs to another stay
            out = fn(out, shifted)
        return out

    def ffill(
        self, x: NDArray[np.float64], limit: int | None = None
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Last observed value within the stay and hours since it (NaN/inf when none or too old)."""
        idx = np.where(~np.isnan(x), np.arange(self.n), -1)
        last = np.maximum.accumulate(idx)
        ok = last >= self.start
        age = np.where(ok, np.arange(self.n) - last, np.inf)
        if limit is not None:
            ok &= age <= limit
        val = np.where(ok, x[np.clip(last, 0, None)], np.nan)
        return val, age

    def first(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """First observed value of the stay up to each row (the patient's baseline)."""
        idx = np.where(~np.isnan(x), np.arange(self.n), self.n)
        # first observed index per stay, known only once reached: a reverse-free running min per stay
        first_idx = pd.Series(idx).groupby(self.start).cummin().to_numpy()
        ok = first_idx < self.n
        return np.where(ok, x[np.clip(first_idx, 0, self.n - 1)], np.nan)

    def cumcount(self, observed: NDArray[np.bool_]) -> NDArray[np.float64]:
        c = np.cumsum(observed.astype(np.float64))
        before = np.r_[0.0, c][self.start]
        return np.asarray(c - before)


def news2(
    resp: NDArray[np.float64],
    spo2: NDArray[np.float64],
    sbp: NDArray[np.float64],
    hr: NDArray[np.float64],
    temp: NDArray[np.float64],
    fio2: NDArray[np.float64],
) -> NDArray[np.float64]:
    """NEWS2 (Royal College of Physicians, 2017) from the last observed values; a missing vital scores
    0 (as a ward chart without it would), consciousness is not recorded here and scores 0, and
    supplemental oxygen is FiO2 > 0.21."""

    def bands(x: NDArray[np.float64], edges: list[float], points: list[int]) -> NDArray[np.float64]:
        # edges are upper bounds (inclusive) of each band but the last
        score = np.asarray(points, dtype=np.float64)[np.searchsorted(np.asarray(edges), x, side="left")]
        return np.where(np.isnan(x), 0.0, score)

    s = bands(resp, [8, 11, 20, 24], [3, 1, 0, 2, 3])
    s += bands(spo2, [91, 93, 95], [3, 2, 1, 0])
    s += np.where(fio2 > 0.21, 2.0, 0.0)
    s += bands(sbp, [90, 100, 110, 219], [3, 2, 1, 0, 3])
    s += bands(hr, [40, 50, 90, 110, 130], [3, 1, 0, 1, 2, 3])
    s += bands(temp, [35.0, 36.0, 38.0, 39.0], [3, 1, 0, 1, 2])
    return s


def build_features(raw: pd.DataFrame) -> pd.DataFrame:
    """Hourly feature frame: patient_id, hour, features, labels, subgroup columns (age, sex, site)."""
    stays = _Stays(raw["patient_id"].to_numpy())
    cols: dict[str, NDArray[np.float64]] = {}
    last_vitals: dict[str, NDArray[np.float64]] = {}
    for col, sig in VITALS.items():
        x = raw[col].to_numpy(dtype=np.float64)
        obs = ~np.isnan(x)
        v = np.where(obs, x, 0.0)
        for w in (6, 24):
            n = stays.window_sum(obs.astype(np.float64), w)
            s = stays.window_sum(v, w)
            mean = np.where(n > 0, s / np.maximum(n, 1), np.nan)
            cols[f"{sig}_mean_{w}h"] = mean
            if w == 6:
                ss = stays.window_sum(v * v, w)
                var = np.where(n > 1, (ss - n * mean**2) / np.maximum(n - 1, 1), np.nan)
                cols[f"{sig}_std_6h"] = np.sqrt(np.maximum(var, 0.0))
                cols[f"{sig}_min_6h"] = stays.window_extreme(x, 6, np.fmin)
                cols[f"{sig}_max_6h"] = stays.window_extreme(x, 6, np.fmax)
            else:
                cols[f"{sig}_count_24h"] = n
        last, age = stays.ffill(x, FFILL_LIMIT_H)
        cols[f"{sig}_last"] = last
        cols[f"{sig}_missing"] = np.isnan(last).astype(np.float64)
        cols[f"{sig}_delta_baseline"] = last - stays.first(x)
        last_vitals[col], _ = stays.ffill(x)
    for col, sig in LABS.items():
        x = raw[col].to_numpy(dtype=np.float64)
        last, age = stays.ffill(x)
        cols[f"{sig}_last"] = last
        cols[f"{sig}_delta_baseline"] = last - stays.first(x)
        # how often a lab is drawn is itself a clinician's signal of concern (informative missingness)
        cols[f"{sig}_count"] = stays.cumcount(~np.isnan(x))
        cols[f"{sig}_hours_since"] = np.where(np.isfinite(age), age, np.nan)
    fio2_last = cols["fio2_last"]
    cols["news2"] = news2(
        last_vitals["Resp"],
        last_vitals["O2Sat"],
        last_vitals["SBP"],
        last_vitals["HR"],
        last_vitals["Temp"],
        fio2_last,
    )
    cols["shock_index"] = last_vitals["HR"] / last_vitals["SBP"]
    cols["age"] = raw["Age"].to_numpy(dtype=np.float64)
    cols["sex_male"] = raw["Gender"].to_numpy(dtype=np.float64)
    cols["unit_micu"] = raw["Unit1"].to_numpy(dtype=np.float64)
    cols["unit_sicu"] = raw["Unit2"].to_numpy(dtype=np.float64)
    cols["hosp_adm_time"] = raw["HospAdmTime"].to_numpy(dtype=np.float64)
    cols["iculos"] = raw["ICULOS"].to_numpy(dtype=np.float64)
    out = pd.DataFrame(cols)
    out.insert(0, "patient_id", raw["patient_id"].to_numpy())
    out.insert(1, "hour", stays.hour)
    label = raw["SepsisLabel"].to_numpy(dtype=np.int64)
    out["label"] = label
    out["label_24h"] = _label_24h(label, stays)
    out["sex"] = np.where(raw["Gender"].to_numpy() == 1, "M", "F")
    unit1 = raw["Unit1"].to_numpy(dtype=np.float64)
    unit2 = raw["Unit2"].to_numpy(dtype=np.float64)
    out["site"] = np.where(unit1 == 1, "MICU", np.where(unit2 == 1, "SICU", "unknown"))
    return out


def _label_24h(label: NDArray[np.int64], stays: _Stays) -> NDArray[np.int64]:
    pos_hour = np.where(label == 1, stays.hour, np.iinfo(np.int64).max)
    first = pd.Series(pos_hour).groupby(stays.start).transform("min").to_numpy(dtype=np.int64)
    return np.asarray(stays.hour >= first - 18, dtype=np.int64)


FEATURE_EXCLUDE = ("patient_id", "hour", "label", "label_24h", "sex", "site")


def feature_names(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in FEATURE_EXCLUDE]


VERSION = "physionet-direct-v1"


def write_frame(raw: pd.DataFrame, dst: Path) -> tuple[int, int]:
    """Writes dst/frame.parquet and dst/feature_names.json (read by ml.data); returns (rows, patients)."""
    import json

    from ml.data import feature_set_hash

    frame = build_features(raw)
    dst.mkdir(parents=True, exist_ok=True)
    names = feature_names(frame)
    frame.to_parquet(dst / "frame.parquet", index=False)
    (dst / "feature_names.json").write_text(
        json.dumps(
            {
                "feature_names": names,
                "feature_set_hash": feature_set_hash(tuple(names)),
                "feature_set_version": VERSION,
            }
        )
    )
    return len(frame), int(frame["patient_id"].nunique())


def main(argv: list[str] | None = None) -> int:
    """`python -m ml.physionet --psv DIR | --raw FILE.parquet --out DIR`: a training frame."""
    import argparse
    import json

    ap = argparse.ArgumentParser(prog="python -m ml.physionet")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--psv", type=Path, help="folder of .psv files")
    src.add_argument("--raw", type=Path, help="a Parquet file of concatenated stays (load_raw's cache)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    raw = load_raw(args.psv) if args.psv else pd.read_parquet(args.raw)
    rows, patients = write_frame(raw, args.out)
    print(json.dumps({"rows": rows, "patients": patients, "out": str(args.out)}))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
