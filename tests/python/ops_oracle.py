"""The scalar, per-snapshot implementation of pipelines.ops.compute, kept as a test oracle.

This is the reference implementation that `pipelines.ops.compute` had before it was vectorised
across snapshots (issue 5, performance): it loops snapshot x feature and recomputes the visible
series for every snapshot, so it is slow but reads like docs/features.md. tests/python/
test_ops_vectorised.py checks the vectorised `compute` against it on random patients. It shares only
the data classes and the feature definition with pipelines.ops, never the arithmetic.

Two deliberate changes from the old code, both making it say what docs/features.md says:
- `op_slope` is null when all times in the window are equal, checked on the integer times. The old
  check `sxx == 0.0` on float hours missed three or more points at one instant whose hours do not
  sum exactly (7 minutes before t, three times: sxx = 5.8e-34) and returned a meaningless slope.
- a constant instability baseline has std 0 (min == max), not the float residue of its std (seven
  readings of 36.8: 7.7e-15), which made the score about 1e13.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache

import numpy as np
import numpy.typing as npt
import pandas as pd

from pipelines.featureset import Feature, FeatureSet, duration_ms

# The enrollment context is read per patient, not per snapshot: the oracle shares that code.
from pipelines.ops import (
    EMPTY,
    Interaction,
    MedEvent,
    Patient,
    Series,
    _enrollment_ms,
    _static,
    load_interactions,
)

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
NAN = float("nan")


def visible(s: Series, t: int) -> Series:
    """What had happened and arrived by t."""
    hi = int(np.searchsorted(s.event, t, side="right"))
    e, a, v = s.event[:hi], s.arrival[:hi], s.value[:hi]
    if a.size and int(a.max()) > t:
        keep = a <= t
        return Series(e[keep], a[keep], v[keep])
    return Series(e, a, v)


# --- window statistics on one visible series -------------------------------------------------------


def _window(s: Series, t: int, w: int) -> tuple[I64, F64]:
    lo = int(np.searchsorted(s.event, t - w, side="right"))
    hi = int(np.searchsorted(s.event, t, side="right"))
    return s.event[lo:hi], s.value[lo:hi]


def op_mean(x: F64) -> float:
    return float(np.mean(x)) if x.size else NAN


def op_var(x: F64) -> float:
    # Sample variance (n - 1): the windows are samples of a continuous signal.
    return float(np.var(x, ddof=1)) if x.size >= 2 else NAN


def op_std(x: F64) -> float:
    return float(np.std(x, ddof=1)) if x.size >= 2 else NAN


def op_min(x: F64) -> float:
    return float(np.min(x)) if x.size else NAN


def op_max(x: F64) -> float:
    return float(np.max(x)) if x.size else NAN


def op_slope(times: I64, x: F64, t: int) -> float:
    """Ordinary least-squares slope of value on time, in units per hour; NaN without 2 distinct times."""
    if x.size < 2:
        return NAN
    # Hours relative to t keep the numbers small, so both languages agree to the last bits that matter.
    h = (times - t).astype(np.float64) / HOUR_MS
    if times[0] == times[-1]:  # all times equal (sorted): no slope; see the module docstring
        return NAN
    hc = h - h.mean()
    sxx = float(np.dot(hc, hc))
    if sxx == 0.0:
        return NAN
    return float(np.dot(hc, x - x.mean()) / sxx)


def op_rate_of_change(s: Series) -> float:
    """(last - previous) / hours between their event times; NaN with < 2 results or equal times."""
    if s.value.size < 2:
        return NAN
    dt = float(s.event[-1] - s.event[-2]) / HOUR_MS
    if dt == 0.0:
        return NAN
    return float((s.value[-1] - s.value[-2]) / dt)


# --- medications -------------------------------------------------------------------------------------


@cache
def default_interactions() -> tuple[Interaction, ...]:
    return load_interactions()


def active_drugs(meds: Sequence[MedEvent], t: int, dose_window_ms: int) -> set[str]:
    """Drugs active at t: the latest event at or before t decides (stop ends, dose lasts a window).

    Events are ordered by (time, action) so that a same-instant start and stop resolve as "stop".
    """
    latest: dict[str, MedEvent] = {}
    for m in sorted((m for m in meds if m.event <= t), key=lambda m: (m.event, _ACTION_ORDER[m.action])):
        latest[m.drug] = m
    active = set()
    for drug, m in latest.items():
        if m.action == "stop":
            continue
        end = m.end if m.end is not None else (m.event + dose_window_ms if m.action == "dose" else None)
        if end is None or end > t:
            active.add(drug)
    return active


_ACTION_ORDER = {"start": 0, "change": 1, "dose": 2, "stop": 3}


# --- the feature vector -----------------------------------------------------------------------------


def _baseline_stats(s: Series, window_ms: int) -> tuple[float, float, int]:
    """Mean and sample std of the first `window_ms` of observations, [first, first + window).

    A constant baseline has std 0, decided on the values (min == max): the float std of seven
    readings of 36.8 is 7.7e-15, and dividing by it would make the instability score 1e13.
    """
    if not s.value.size:
        return NAN, NAN, 0
    hi = int(np.searchsorted(s.event, int(s.event[0]) + window_ms, side="left"))
    x = s.value[:hi]
    std = 0.0 if x.size >= 2 and x.min() == x.max() else op_std(x)
    return op_mean(x), std, int(x.size)


def compute(
    fs: FeatureSet,
    patient: Patient,
    snapshots: Sequence[int] | I64,
    interactions: tuple[Interaction, ...] | None = None,
) -> dict[str, F64]:
    """Feature name -> one value per snapshot time (NaN = null), in the definition's order."""
    ts = [int(t) for t in snapshots]
    interactions = default_interactions() if interactions is None else interactions
    baseline_ms = duration_ms(fs.settings.baseline_window)
    dose_ms = duration_ms(fs.settings.dose_active_window)
    out = {f.name: np.full(len(ts), NAN) for f in fs.features}
    for i, t in enumerate(ts):
        vis_vitals = {k: visible(s, t) for k, s in patient.vitals.items()}
        vis_labs = {k: visible(s, t) for k, s in patient.labs.items()}
        meds_active: set[str] | None = None
        for f in fs.features:
            if f.source == "medications":
                if meds_active is None:
                    meds_active = active_drugs(patient.meds, t, dose_ms)
                out[f.name][i] = _medication_feature(f, meds_active, interactions)
            else:
                out[f.name][i] = _feature(fs, f, patient, vis_vitals, vis_labs, t, baseline_ms)
    return out


def _medication_feature(f: Feature, active: set[str], interactions: tuple[Interaction, ...]) -> float:
    hits = [ix for ix in interactions if ix.drugs <= active]
    if f.op == "active_count":
        return float(len(active))
    if f.op == "interaction_count":
        return float(len(hits))
    if f.op == "interaction_flag":
        return 1.0 if any(ix.flag == f.signal for ix in hits) else 0.0
    raise ValueError(f"{f.name}: op {f.op} does not apply to medications")


def _feature(
    fs: FeatureSet,
    f: Feature,
    patient: Patient,
    vitals: Mapping[str, Series],
    labs: Mapping[str, Series],
    t: int,
    baseline_ms: int,
) -> float:
    if f.source == "enrollment":
        if f.op == "days_since":
            start = _enrollment_ms(patient.context)
            return (t - start) / DAY_MS if start is not None else NAN
        return _static(f.signal, patient.context)
    if f.source == "adverse_events":
        visible = (patient.ae_event <= t) & (patient.ae_report <= t)
        return float(np.count_nonzero(visible))
    if f.op == "instability_score":
        return _instability(fs, vitals, t, baseline_ms)
    s = (vitals if f.source == "vitals" else labs).get(f.signal, EMPTY)
    w = fs.window_ms(f)
    if f.op in ("last", "delta_from_baseline", "rate_of_change") and w is None:
        if not s.value.size:
            return NAN
        if f.op == "last":
            return float(s.value[-1])
        if f.op == "delta_from_baseline":
            return float(s.value[-1] - s.value[0])
        return op_rate_of_change(s)
    if w is None:
        raise ValueError(f"{f.name}: op {f.op} needs a duration window, not {f.window!r}")
    times, x = _window(s, t, w)
    match f.op:
        case "mean":
            return op_mean(x)
        case "std":
            return op_std(x)
        case "var":
            return op_var(x)
        case "min":
            return op_min(x)
        case "max":
            return op_max(x)
        case "slope":
            return op_slope(times, x, t)
        case "count":
            return float(x.size)
        case "last":
            return float(x[-1]) if x.size else NAN
        case "missing_flag":
            return 0.0 if x.size else 1.0
    raise ValueError(f"{f.name}: op {f.op} is not defined for source {f.source}")


def _instability(fs: FeatureSet, vitals: Mapping[str, Series], t: int, baseline_ms: int) -> float:
    """Sum over signals of |mean of the last window - baseline mean| / baseline std.

    A signal contributes only with a recent mean and a baseline of >= 2 points and std > 0; with no
    contributing signal the score is NaN, so "no data" never reads as "stable".
    """
    hour = duration_ms("1h")
    total, terms = 0.0, 0
    for sig in fs.settings.instability_signals:
        s = vitals.get(sig, EMPTY)
        bmean, bstd, n = _baseline_stats(s, baseline_ms)
        _, x = _window(s, t, hour)
        if n < 2 or not bstd > 0 or not x.size:
            continue
        total += abs(float(np.mean(x)) - bmean) / bstd
        terms += 1
    return total if terms else NAN


def to_frame(patient: Patient, string_dtype: str = "str") -> pd.DataFrame:
    """One patient as the long event frame that features.events_frame gives the Spark kernel
    (columns patient_id, kind, signal, ev, arr, value, end, action; kinds 0-3), rows shuffled."""
    parts = []
    for kind, src in ((0, patient.vitals), (1, patient.labs)):
        for sig, s in src.items():
            n = s.event.size
            parts.append(
                pd.DataFrame(
                    {
                        "kind": np.zeros(n, np.int32) + kind,
                        "signal": [sig] * n,
                        "ev": s.event,
                        "arr": s.arrival,
                        "value": s.value,
                        "end": pd.array([None] * n, dtype="Int64"),
                        "action": [None] * n,
                    }
                )
            )
    rows: list[tuple[object, ...]] = [
        (2, m.drug, m.event, m.event, np.nan, m.end, m.action) for m in patient.meds
    ]
    rows += [
        (3, t, int(e), int(r), np.nan, None, None)
        for e, r, t in zip(patient.ae_event, patient.ae_report, patient.ae_type, strict=True)
    ]
    cols = ["kind", "signal", "ev", "arr", "value", "end", "action"]
    small = pd.DataFrame(rows, columns=cols).astype({"kind": np.int32, "ev": np.int64, "arr": np.int64})
    small["end"] = pd.array(small["end"].tolist(), dtype="Int64")
    df = pd.concat([*parts, small], ignore_index=True)
    df.insert(0, "patient_id", patient.patient_id)
    df = df.sample(frac=1.0, random_state=0).reset_index(drop=True)
    return df.astype({"patient_id": string_dtype, "signal": string_dtype})
