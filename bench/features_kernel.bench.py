"""The per-patient feature kernel without Spark: writes bench/results/features-kernel.json.

    .venv/bin/python bench/features_kernel.bench.py [--runs 5]

Times `pipelines.ops.compute` (vectorised across snapshots) against the scalar per-snapshot
implementation it replaced (tests/python/ops_oracle.py, kept as the test oracle) on two patients built
with numpy, in milliseconds per snapshot, median of --runs runs:

- `simulated_90d`: like pipelines.testing.synth (what bench/features.bench.py feeds Spark): 90 days,
  7 vitals every 7 minutes (+ up to 30 s jitter, 2 % of heart rates missing), one 8-test lab panel a
  day at 06:00 reported 2-30 h later (so some daily snapshots see a drawn-but-unreported lab: the
  scalar fallback), the study drug plus a conmed started and stopped a week later, two adverse events
  reported late; daily snapshots (90).
- `physionet_stay`: like a PhysioNet 2019 stay through the importer: 48 h of hourly vitals with
  gaps, a few labs a day (arrival = event time), 40 hourly snapshots.

Each run also checks that both give the same values (1e-12 relative, or null in both).

`kernel_*`: the whole applyInPandas function per patient (features.make_kernel: the event frame ->
Patient, compute, labels, output rows), on the patient as the long event frame Spark hands it
(ops_oracle.to_frame), against the kernel as it was before this work (`_old_kernel`, a copy of
features.py at 85e170f: a string mask per signal to split the frame, the scalar ops).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "python"))

import pandas as pd  # noqa: E402
from ops_oracle import compute as oracle_compute  # noqa: E402
from ops_oracle import to_frame  # noqa: E402

from pipelines import features  # noqa: E402
from pipelines.featureset import FeatureSet, default_feature_set  # noqa: E402
from pipelines.ops import HOUR_MS, MedEvent, Patient, Series, compute, labels  # noqa: E402

MIN_MS = 60_000
DAY_MS = 86_400_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
VITALS = (
    ("heart_rate", 75.0, 3.0),
    ("blood_pressure_systolic", 125.0, 5.0),
    ("blood_pressure_diastolic", 78.0, 3.0),
    ("mean_arterial_pressure", 94.0, 3.0),
    ("temperature", 36.8, 0.15),
    ("spo2", 97.5, 1.0),
    ("respiratory_rate", 15.0, 2.0),
)
LABS: tuple[tuple[str, float, float], ...] = (
    ("ALT", 25.0, 8.0),
    ("AST", 24.0, 7.0),
    ("BILI", 0.7, 0.2),
    ("CREAT", 0.9, 0.2),
)
LABS += (("WBC", 7.0, 1.5), ("NEUT", 4.2, 1.0), ("PLAT", 250.0, 50.0), ("HGB", 13.5, 1.2))
PHYSIONET_LABS: tuple[tuple[str, float, float], ...] = (
    ("BUN", 20.0, 5.0),
    ("CREAT", 1.1, 0.3),
    ("WBC", 9.0, 2.0),
    ("HCT", 32.0, 3.0),
)
PHYSIONET_LABS += (("GLUC", 130.0, 30.0), ("K", 4.1, 0.4), ("LACTATE", 1.8, 0.6))


def simulated_patient(days: int = 90, seed: int = 1) -> tuple[Patient, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = days * 24 * 60 // 7
    t = T0 + np.arange(n, dtype=np.int64) * 7 * MIN_MS + rng.integers(0, 30, n) * 1000
    circ = np.sin(((t % DAY_MS) / HOUR_MS - 8) / 24 * 2 * np.pi)
    vitals = {}
    for name, mean, sd in VITALS:
        v = np.round(mean + 0.04 * mean * circ + rng.normal(0, sd, n), 1)
        keep = rng.random(n) >= (0.02 if name == "heart_rate" else 0.0)
        vitals[name] = Series.build(t[keep], t[keep], v[keep])
    labs = {}
    draw = T0 + np.arange(days, dtype=np.int64) * DAY_MS + 6 * HOUR_MS
    for name, mean, sd in LABS:
        ev = draw + rng.integers(0, 60, days) * MIN_MS
        labs[name] = Series.build(
            ev, ev + rng.integers(2, 30, days) * HOUR_MS, np.abs(mean + rng.normal(0, sd * 0.3, days))
        )
    start = T0 + 9 * HOUR_MS
    meds = (
        MedEvent(start, "simtrexib", "start"),
        MedEvent(start + 20 * DAY_MS, "clarithromycin", "start"),
        MedEvent(start + 27 * DAY_MS, "clarithromycin", "stop"),
        MedEvent(start + 40 * DAY_MS, "ondansetron", "dose"),
    )
    ae = np.array([T0 + 33 * DAY_MS, T0 + 61 * DAY_MS], dtype=np.int64)
    patient = Patient(
        patient_id="P00001",
        vitals=vitals,
        labs=labs,
        meds=meds,
        ae_event=ae,
        ae_report=ae + 20 * HOUR_MS,
        ae_type=("hepatotoxicity", "neutropenia"),
        context=_context(),
    )
    return patient, T0 + np.arange(1, days + 1, dtype=np.int64) * DAY_MS


def physionet_patient(hours: int = 48, snapshots: int = 40, seed: int = 2) -> tuple[Patient, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = T0 + np.arange(hours, dtype=np.int64) * HOUR_MS
    vitals = {}
    for name, mean, sd in VITALS:
        keep = rng.random(hours) >= (0.5 if name == "temperature" else 0.1)  # hourly rows with gaps
        v = np.round(mean + rng.normal(0, sd, hours), 1)
        vitals[name] = Series.build(t[keep], t[keep], v[keep])
    labs = {}
    for name, mean, sd in PHYSIONET_LABS:
        k = int(rng.integers(1, 6))
        ev = np.sort(rng.choice(t, k, replace=False))
        labs[name] = Series.build(ev, ev, np.abs(mean + rng.normal(0, sd, k)))
    patient = Patient(patient_id="p000001", vitals=vitals, labs=labs, context=_context())
    return patient, t[:snapshots] + HOUR_MS


def _context() -> dict[str, object]:
    return {
        "age": 61,
        "sex": "F",
        "height_cm": 168.0,
        "weight_kg": 71.5,
        "comorbidities": ["hypertension"],
        "arm_role": "treatment",
        "enrollment_date": "2026-01-01",
    }


def _time(fn: Callable[[], object], min_s: float) -> float:
    """Seconds per call: repeat until min_s has passed (the fast kernel is a few ms a call)."""
    calls, t0 = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        el = time.perf_counter() - t0
        if el >= min_s:
            return el / calls


def _max_rel_diff(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    worst = 0.0
    for name in a:
        for x, y in zip(a[name].tolist(), b[name].tolist(), strict=True):
            if math.isnan(x) and math.isnan(y):
                continue
            if math.isnan(x) or math.isnan(y):
                return math.inf
            worst = max(worst, abs(x - y) / max(1.0, abs(x), abs(y)))
    return worst


def _old_patient_from_frame(pid: str, pdf: pd.DataFrame, context: dict[str, object]) -> Patient:
    """features.patient_from_frame before this work (85e170f), for the old kernel's timing."""
    kind = pdf["kind"].to_numpy()
    sig = pdf["signal"].to_numpy()
    ev = pdf["ev"].to_numpy(np.int64)
    arr = pdf["arr"].to_numpy(np.int64)
    val = pdf["value"].to_numpy(np.float64, na_value=np.nan)

    def series(k: int) -> dict[str, Series]:
        m = kind == k
        return {
            str(s): Series.build(ev[m & (sig == s)], arr[m & (sig == s)], val[m & (sig == s)])
            for s in np.unique(sig[m])
        }

    mm = kind == features.KIND_MED
    ends = pdf["end"].to_numpy()[mm]
    meds = tuple(
        MedEvent(int(e), str(d), str(a), None if pd.isna(x) else int(x))
        for e, d, a, x in zip(ev[mm], sig[mm], pdf["action"].to_numpy()[mm], ends, strict=True)
    )
    am = kind == features.KIND_AE
    return Patient(
        patient_id=pid,
        vitals=series(features.KIND_VITAL),
        labs=series(features.KIND_LAB),
        meds=meds,
        ae_event=ev[am],
        ae_report=arr[am],
        ae_type=tuple(str(x) for x in sig[am]),
        context=context,
    )


def _old_kernel(
    fs: FeatureSet, snaps: np.ndarray, context: dict[str, object]
) -> Callable[[pd.DataFrame], object]:
    """The per-patient kernel of features.make_kernel before this work (85e170f), same grid as the new."""
    names = fs.names

    def kernel(pdf: pd.DataFrame) -> pd.DataFrame:
        pid = str(pdf["patient_id"].iloc[0])
        obs = pdf[pdf["kind"] != features.KIND_AE]
        last = int(obs["arr"].max())
        patient = _old_patient_from_frame(pid, pdf, context)
        values = oracle_compute(fs, patient, snaps.tolist())
        label, complete = labels(patient, snaps, 24 * HOUR_MS, last)
        out = pd.DataFrame({"patient_id": pid, "snapshot_time": snaps})
        out = pd.concat([out, pd.DataFrame({n: values[n] for n in names})], axis=1)
        out["label"] = label.astype(np.int32)
        out["label_complete"] = complete.astype(np.int32)
        out["date"] = pd.to_datetime(snaps, unit="ms").strftime("%Y-%m-%d")
        return out

    return kernel


def _stats(samples: list[float]) -> dict[str, Any]:
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "samples": samples,
    }


def bench_case(fs: FeatureSet, patient: Patient, snaps: np.ndarray, runs: int) -> dict[str, Any]:
    cadence = int(snaps[1] - snaps[0])
    pdf = to_frame(patient)
    ctx = dict(patient.context)
    new_kernel = features.make_kernel(
        fs, {patient.patient_id: ctx}, int(snaps[0]), int(snaps[-1]) + 1, cadence, 24 * HOUR_MS
    )
    old_kernel = _old_kernel(fs, snaps, ctx)
    got = new_kernel(pdf)
    if got["snapshot_time"].tolist() != snaps.tolist():
        raise SystemExit(f"{patient.patient_id}: the kernel's snapshot grid is not the benchmark's")
    old_s, new_s, old_k, new_k = [], [], [], []
    for _ in range(runs):
        old_s.append(_time(lambda: oracle_compute(fs, patient, snaps.tolist()), 0.5) * 1000 / snaps.size)
        new_s.append(_time(lambda: compute(fs, patient, snaps), 0.5) * 1000 / snaps.size)
        old_k.append(_time(lambda: old_kernel(pdf), 0.5) * 1000 / snaps.size)
        new_k.append(_time(lambda: new_kernel(pdf), 0.5) * 1000 / snaps.size)
    diff = _max_rel_diff(compute(fs, patient, snaps), oracle_compute(fs, patient, snaps.tolist()))
    if not diff <= 1e-12:
        raise SystemExit(f"{patient.patient_id}: vectorised and scalar kernels differ by {diff}")
    old, new = statistics.median(old_s), statistics.median(new_s)
    return {
        "snapshots": int(snaps.size),
        "events": len(pdf),
        "old_ms_per_snapshot": _stats(old_s),
        "new_ms_per_snapshot": _stats(new_s),
        "speedup": old / new,
        "kernel_old_ms_per_snapshot": _stats(old_k),
        "kernel_new_ms_per_snapshot": _stats(new_k),
        "kernel_speedup": statistics.median(old_k) / statistics.median(new_k),
        "max_relative_difference": diff,
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--notes", default="")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "features-kernel.json")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be >= 1")
    fs = default_feature_set()
    load0 = os.getloadavg()[0]
    cases = {
        "simulated_90d": bench_case(fs, *simulated_patient(), args.runs),
        "physionet_stay": bench_case(fs, *physionet_patient(), args.runs),
    }
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    head = cases["simulated_90d"]["new_ms_per_snapshot"]
    out = {
        "name": "features-kernel",
        "metric": (
            "ms per snapshot, pipelines.ops.compute (vectorised) on one simulated 90-day patient, daily "
            f"snapshots, {len(fs.features)} features, no Spark"
        ),
        "unit": "ms",
        "median": head["median"],
        "min": head["min"],
        "max": head["max"],
        "runs": args.runs,
        "samples": head["samples"],
        "git_commit": commit,
        "machine_cores": os.cpu_count(),
        "recorded_at": datetime.now(UTC).isoformat(),
        "notes": args.notes,
        "extra": {
            "features": len(fs.features),
            "feature_set_hash": fs.hash,
            "load_average_1m": {"start": load0, "end": os.getloadavg()[0]},
            "old": "tests/python/ops_oracle.py compute (the scalar per-snapshot kernel before vectorising)",
            "cases": cases,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    summary = {
        k: {
            "old_ms": round(c["old_ms_per_snapshot"]["median"], 3),
            "new_ms": round(c["new_ms_per_snapshot"]["median"], 4),
            "speedup": round(c["speedup"], 1),
            "kernel_old_ms": round(c["kernel_old_ms_per_snapshot"]["median"], 3),
            "kernel_new_ms": round(c["kernel_new_ms_per_snapshot"]["median"], 4),
            "kernel_speedup": round(c["kernel_speedup"], 1),
        }
        for k, c in cases.items()
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
