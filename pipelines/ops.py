"""Every operation of contracts/features.yaml, implemented once, for one patient, on plain arrays.

The Spark job calls this per patient (applyInPandas); the golden vectors call it directly; the
TypeScript actors implement the same definitions (docs/features.md). Nothing here knows about Spark,
so the meaning of a feature can be read and tested in one place.

Conventions (docs/features.md#semantics):
- Times are int64 milliseconds since the epoch, UTC. A duration window w at snapshot t is (t - w, t].
- An observation is visible at t when its event time <= t and its arrival time <= t (arrival is the
  report time for labs and adverse events; vitals and medications arrive at their event time).
- Observations of one signal are ordered by (event time, arrival time, value); "last" is the greatest
  in that order, the baseline the least, so ties resolve the same way in every implementation.
- A value that cannot be computed is NaN (null in the store), never 0: empty window, std of one point.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import yaml

from ml.paths import REPO_ROOT
from pipelines.featureset import Feature, FeatureSet, duration_ms

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
NAN = float("nan")
INTERACTIONS_PATH = REPO_ROOT / "contracts" / "interactions.yaml"


@dataclass(frozen=True)
class Series:
    """Observations of one signal, sorted by (event, arrival, value)."""

    event: I64
    arrival: I64
    value: F64

    @staticmethod
    def build(
        event: Sequence[int] | I64, arrival: Sequence[int] | I64, value: Sequence[float] | F64
    ) -> Series:
        e = np.asarray(event, dtype=np.int64)
        a = np.asarray(arrival, dtype=np.int64)
        v = np.asarray(value, dtype=np.float64)
        order = np.lexsort((v, a, e))
        return Series(e[order], a[order], v[order])

    def visible(self, t: int) -> Series:
        """What had happened and arrived by t; the arrival filter is what makes features point-in-time."""
        hi = int(np.searchsorted(self.event, t, side="right"))
        e, a, v = self.event[:hi], self.arrival[:hi], self.value[:hi]
        if a.size and int(a.max()) > t:
            keep = a <= t
            return Series(e[keep], a[keep], v[keep])
        return Series(e, a, v)


EMPTY = Series(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64))


@dataclass(frozen=True)
class MedEvent:
    event: int
    drug: str
    action: str  # start | stop | dose | change
    end: int | None = None


@dataclass(frozen=True)
class Patient:
    """Everything the feature ops read for one patient (silver semantics: canonical units)."""

    patient_id: str
    vitals: Mapping[str, Series] = field(default_factory=dict)
    labs: Mapping[str, Series] = field(default_factory=dict)
    meds: Sequence[MedEvent] = ()
    # Adverse events: event time, report time (arrival), event type.
    ae_event: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    ae_report: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    ae_type: tuple[str, ...] = ()
    context: Mapping[str, object] = field(default_factory=dict)


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


@dataclass(frozen=True)
class Interaction:
    drugs: frozenset[str]
    flag: str  # the interaction_flag feature this pair (or triple) sets


def load_interactions(path: Path = INTERACTIONS_PATH) -> tuple[Interaction, ...]:
    """contracts/interactions.yaml (owned by the contracts issue); absent means no interactions."""
    if not path.exists():
        return ()
    raw = yaml.safe_load(path.read_text()) or {}
    out = []
    for item in raw.get("interactions", []):
        out.append(Interaction(frozenset(str(d).lower() for d in item["drugs"]), str(item["flag"])))
    return tuple(out)


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
    """Mean and sample std of the first `window_ms` of observations, [first, first + window)."""
    if not s.value.size:
        return NAN, NAN, 0
    hi = int(np.searchsorted(s.event, int(s.event[0]) + window_ms, side="left"))
    x = s.value[:hi]
    return op_mean(x), op_std(x), int(x.size)


def _static(name: str, ctx: Mapping[str, object]) -> float:
    def num(key: str) -> float:
        v = ctx.get(key)
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else NAN

    if name == "age":
        return num("age")
    if name == "sex":
        return {"M": 1.0, "F": 0.0}.get(str(ctx.get("sex")), NAN)
    if name == "bmi":
        h, w = num("height_cm"), num("weight_kg")
        return w / (h / 100.0) ** 2 if h > 0 and w > 0 else NAN
    if name == "comorbidities":
        c = ctx.get("comorbidities")
        return float(len(c)) if isinstance(c, list | tuple) else NAN
    if name == "arm_role":
        return {"treatment": 1.0, "control": 0.0}.get(str(ctx.get("arm_role")), NAN)
    raise ValueError(f"unknown static signal {name!r}")


def _enrollment_ms(ctx: Mapping[str, object]) -> int | None:
    d = ctx.get("enrollment_date")
    if not d:
        return None
    return int(np.datetime64(str(d), "ms").astype(np.int64))


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
        vis_vitals = {k: s.visible(t) for k, s in patient.vitals.items()}
        vis_labs = {k: s.visible(t) for k, s in patient.labs.items()}
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


def labels(
    patient: Patient, snapshots: Sequence[int] | I64, horizon_ms: int, last_observed_ms: int
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int8]]:
    """label = an adverse event with event time in (t, t + horizon]; complete = the horizon was observed.

    Labels use event time only: they are ground truth about the future, not inputs.
    complete is 0 when the patient's data ends before t + horizon and no event was seen, so training
    can drop right-censored negatives.
    """
    ts = np.asarray(snapshots, dtype=np.int64)
    ev = np.sort(patient.ae_event)
    lo = np.searchsorted(ev, ts, side="right")
    hi = np.searchsorted(ev, ts + horizon_ms, side="right")
    label = (hi > lo).astype(np.int8)
    complete = ((ts + horizon_ms <= last_observed_ms) | (label == 1)).astype(np.int8)
    return label, complete
