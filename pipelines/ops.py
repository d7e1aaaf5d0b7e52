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

Implementation (docs/features.md#implementation): `compute` works on all snapshots of a patient at
once. The features are grouped by (source, signal, window); for each series the window bounds of every
snapshot come from one `np.searchsorted` on the sorted event times, and the statistics from one padded
[snapshots x longest window] gather with a mask (two-pass: mean first, then centred sums). Where
everything that had happened by t had also arrived by t (running max of arrival over the event
prefix <= t) the visible set is the event prefix and the window a slice; at the other snapshots of
that series (a lab drawn but not yet reported) the mask also drops what arrived after t. The
instability baseline of such a snapshot is computed alone (`Series.visible`); medications are a
per-drug "latest event at or before t" lookup. tests/python/test_ops_vectorised.py checks `compute`
against the scalar per-snapshot implementation it replaced (tests/python/ops_oracle.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
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
B = npt.NDArray[np.bool_]
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
NAN = float("nan")
INTERACTIONS_PATH = REPO_ROOT / "contracts" / "interactions.yaml"
# Cap on the cells of one padded window gather (rows are processed in chunks beyond it): 8 MB a array.
GATHER_CELLS = 1 << 20


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


# --- the ops on all snapshots of one series at once --------------------------------------------------

WINDOW_OPS = frozenset({"mean", "std", "var", "min", "max", "slope", "count", "last", "missing_flag"})
HISTORY_OPS = frozenset({"last", "delta_from_baseline", "rate_of_change"})  # window "all"


def op_mean(x: F64) -> float:
    return float(np.mean(x)) if x.size else NAN


def op_std(x: F64) -> float:
    # Sample std (n - 1): the windows are samples of a continuous signal.
    return float(np.std(x, ddof=1)) if x.size >= 2 else NAN


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


class _View:
    """One series seen from every snapshot: where the visible set is the event prefix (fast) or not."""

    def __init__(self, s: Series, ts: I64) -> None:
        self.s = s
        self.ts = ts
        self.hi = np.searchsorted(s.event, ts, side="right")
        if s.event.size:
            # Everything with event <= t had arrived by t <=> the running max of arrival over the
            # event-ordered prefix is <= t: then the visible set is exactly s[:hi].
            reach = np.maximum.accumulate(s.arrival)[np.maximum(self.hi - 1, 0)]
            self.fast: B = (self.hi == 0) | (reach <= ts)
        else:
            self.fast = np.ones(ts.size, dtype=np.bool_)
        self.fast_idx = np.flatnonzero(self.fast)
        self.slow_idx = np.flatnonzero(~self.fast)


def _window_stats(
    s: Series, t: I64, lo: I64, n: I64, ops: Iterable[str], late: bool = False
) -> dict[str, F64]:
    """The ops over s[lo : lo + n] at snapshot times t, one row per snapshot.

    late=False: the whole slice is visible (the fast path). late=True: only the observations of the
    slice that had arrived by t count (a drawn lab not yet reported is left out), so count, last and
    the history ops (lo = 0) come from the mask too.

    Each statistic is two-pass over a padded [rows x longest slice] gather: the mean first, then
    centred sums; never running sums of squares, which lose the digits that matter over 90 days.
    """
    ops = set(ops)
    out: dict[str, F64] = {op: _nan(t) for op in ops}
    hi = lo + n
    has = n > 0
    if not late:
        if "count" in ops:
            out["count"] = n.astype(np.float64)
        if "missing_flag" in ops:
            out["missing_flag"] = (~has).astype(np.float64)
        if "last" in ops and s.value.size:
            out["last"] = np.where(has, s.value[np.maximum(hi - 1, 0)], NAN)
        ops -= {"count", "missing_flag", "last"}
    width = int(n.max()) if n.size else 0
    if not ops or width == 0:
        if late:  # nothing visible anywhere
            for op in ops & {"count", "missing_flag"}:
                out[op] = np.full(t.size, 1.0 if op == "missing_flag" else 0.0)
        return out
    step = max(1, GATHER_CELLS // width)
    cols = np.arange(width)
    for a in range(0, t.size, step):
        r = slice(a, a + step)
        rn, rlo, rt = n[r], lo[r], t[r]
        mask = cols < rn[:, None]
        idx = np.minimum(rlo[:, None] + cols, s.value.size - 1)
        x = s.value[idx]
        rows = np.arange(rn.size)
        if late:
            mask &= s.arrival[idx] <= rt[:, None]
            rn = mask.sum(axis=1)
            first_c = np.argmax(mask, axis=1)
            last_c = width - 1 - np.argmax(mask[:, ::-1], axis=1)
        else:
            first_c = np.zeros(rn.size, dtype=np.int64)
            last_c = np.maximum(rn - 1, 0)
        rhas, two = rn > 0, rn >= 2
        if "count" in ops:
            out["count"][r] = rn
        if "missing_flag" in ops:
            out["missing_flag"][r] = ~rhas
        if "last" in ops:
            out["last"][r] = np.where(rhas, x[rows, last_c], NAN)
        if "delta_from_baseline" in ops:
            out["delta_from_baseline"][r] = np.where(rhas, x[rows, last_c] - x[rows, first_c], NAN)
        if "rate_of_change" in ops:
            before = mask & (cols < last_c[:, None])
            prev_c = width - 1 - np.argmax(before[:, ::-1], axis=1)
            dt = (s.event[idx[rows, last_c]] - s.event[idx[rows, prev_c]]).astype(np.float64) / HOUR_MS
            ok = two & (dt != 0.0)
            rate = (x[rows, last_c] - x[rows, prev_c]) / np.where(ok, dt, 1.0)
            out["rate_of_change"][r] = np.where(ok, rate, NAN)
        if not ops & {"mean", "std", "var", "min", "max", "slope"}:
            continue
        cnt = np.maximum(rn, 1)
        mean = np.where(mask, x, 0.0).sum(axis=1) / cnt
        if "mean" in ops:
            out["mean"][r] = np.where(rhas, mean, NAN)
        if "min" in ops:
            out["min"][r] = np.where(rhas, np.where(mask, x, np.inf).min(axis=1), NAN)
        if "max" in ops:
            out["max"][r] = np.where(rhas, np.where(mask, x, -np.inf).max(axis=1), NAN)
        if not ops & {"std", "var", "slope"}:
            continue
        d = np.where(mask, x - mean[:, None], 0.0)
        if ops & {"std", "var"}:
            var = np.where(two, (d * d).sum(axis=1) / np.maximum(rn - 1, 1), NAN)
            if "var" in ops:
                out["var"][r] = var
            if "std" in ops:
                out["std"][r] = np.sqrt(var)
        if "slope" in ops:
            e = s.event[idx]
            # Hours relative to t keep the numbers small, so both languages agree to the last bits.
            h = np.where(mask, (e - rt[:, None]).astype(np.float64) / HOUR_MS, 0.0)
            hc = np.where(mask, h - (h.sum(axis=1) / cnt)[:, None], 0.0)
            sxx = (hc * hc).sum(axis=1)
            # No slope when all times are equal: decided on the integers (sorted: first == last),
            # since float hours of three equal times need not sum exactly and leave a tiny sxx.
            ok = two & (e[rows, last_c] != e[rows, first_c]) & (sxx != 0.0)
            out["slope"][r] = np.where(ok, (hc * d).sum(axis=1) / np.where(ok, sxx, 1.0), NAN)
    return out


def _history_stats(s: Series, hi: I64, ops: Iterable[str]) -> dict[str, F64]:
    """The whole-history ops (window "all") on the prefixes s[:hi]: no gather needed."""
    out: dict[str, F64] = {}
    if not s.value.size:
        return {op: np.full(hi.size, NAN) for op in ops}
    last_i = np.maximum(hi - 1, 0)
    has = hi > 0
    for op in ops:
        if op == "last":
            out[op] = np.where(has, s.value[last_i], NAN)
        elif op == "delta_from_baseline":
            out[op] = np.where(has, s.value[last_i] - s.value[0], NAN)
        else:  # rate_of_change: (last - previous) / hours between them; null with < 2 or equal times
            prev_i = np.maximum(hi - 2, 0)
            dt = (s.event[last_i] - s.event[prev_i]).astype(np.float64) / HOUR_MS
            ok = (hi >= 2) & (dt != 0.0)
            out[op] = np.where(ok, (s.value[last_i] - s.value[prev_i]) / np.where(ok, dt, 1.0), NAN)
    return out


def _series_group(view: _View, w: int | None, ops: Sequence[str]) -> dict[str, F64]:
    """The ops of one (series, window) for every snapshot (w None: the whole visible history)."""
    ts, s = view.ts, view.s
    if not s.value.size:  # a signal this patient never had (most of a short stay's labs)
        return {op: np.full(ts.size, _EMPTY_VALUE.get(op, NAN)) for op in ops}
    out = {op: _nan(ts) for op in ops}
    for rows, late in ((view.fast_idx, False), (view.slow_idx, True)):
        if not rows.size:
            continue
        t, hi = ts[rows], view.hi[rows]
        if w is None and not late:
            got = _history_stats(s, hi, ops)
        else:
            lo = np.zeros(rows.size, np.int64) if w is None else np.searchsorted(s.event, t - w, "right")
            got = _window_stats(s, t, lo, hi - lo, ops, late)
        for op in ops:
            out[op][rows] = got[op]
    return out


_EMPTY_VALUE = {"count": 0.0, "missing_flag": 1.0}  # every other op of an empty window is null


def _nan(ts: I64) -> F64:
    return np.full(ts.size, NAN)


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


_ACTION_ORDER = {"start": 0, "change": 1, "dose": 2, "stop": 3}
_NO_END = np.iinfo(np.int64).max


def active_drugs(meds: Sequence[MedEvent], t: int, dose_window_ms: int) -> set[str]:
    """Drugs active at t: the latest event at or before t decides (stop ends, dose lasts a window).

    Events are ordered by (time, action) so that a same-instant start and stop resolve as "stop".
    """
    active = _active_matrix(meds, np.asarray([t], dtype=np.int64), dose_window_ms)
    return {d for d, a in active.items() if a[0]}


def _active_matrix(meds: Sequence[MedEvent], ts: I64, dose_window_ms: int) -> dict[str, B]:
    """Per drug, whether it is active at each snapshot (the rule of `active_drugs`, vectorised)."""
    for m in meds:
        if m.action not in _ACTION_ORDER:
            raise ValueError(
                f"medication {m.drug!r} at {m.event}: unknown action {m.action!r} "
                f"(expected one of {sorted(_ACTION_ORDER)})"
            )
    # A stable sort, so same-instant same-action events keep their input order (the later one decides).
    ordered = sorted(meds, key=lambda m: (m.event, _ACTION_ORDER[m.action]))
    by_drug: dict[str, list[MedEvent]] = {}
    for m in ordered:
        by_drug.setdefault(m.drug, []).append(m)
    out: dict[str, B] = {}
    for drug, ms in by_drug.items():
        ev = np.fromiter((m.event for m in ms), np.int64, len(ms))
        stop = np.fromiter((m.action == "stop" for m in ms), np.bool_, len(ms))
        end = np.fromiter(
            (
                m.end if m.end is not None else (m.event + dose_window_ms if m.action == "dose" else _NO_END)
                for m in ms
            ),
            np.int64,
            len(ms),
        )
        k = np.searchsorted(ev, ts, side="right") - 1  # the latest event at or before t
        kk = np.maximum(k, 0)
        out[drug] = (k >= 0) & ~stop[kk] & (end[kk] > ts)
    return out


def _medication_features(
    features: Sequence[Feature], meds: Sequence[MedEvent], ts: I64, dose_ms: int, ixs: tuple[Interaction, ...]
) -> dict[str, F64]:
    active = _active_matrix(meds, ts, dose_ms)
    none = np.zeros(ts.size, dtype=np.bool_)
    hits = [
        (ix, np.logical_and.reduce([active.get(d, none) for d in ix.drugs]) if ix.drugs else ~none)
        for ix in ixs
    ]
    out: dict[str, F64] = {}
    for f in features:
        if f.op == "active_count":
            out[f.name] = _count(active.values(), ts.size)
        elif f.op == "interaction_count":
            out[f.name] = _count((h for _, h in hits), ts.size)
        elif f.op == "interaction_flag":
            flag = np.logical_or.reduce([h for ix, h in hits if ix.flag == f.signal] or [none])
            out[f.name] = flag.astype(np.float64)
        else:
            raise ValueError(f"{f.name}: op {f.op} does not apply to medications")
    return out


def _count(flags: Iterable[B], size: int) -> F64:
    total = np.zeros(size)
    for a in flags:
        total += a
    return total


# --- the feature vector -----------------------------------------------------------------------------


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
    ts = np.asarray(snapshots, dtype=np.int64).reshape(-1)
    interactions = default_interactions() if interactions is None else interactions
    baseline_ms = duration_ms(fs.settings.baseline_window)
    dose_ms = duration_ms(fs.settings.dose_active_window)
    out: dict[str, F64] = {f.name: _nan(ts) for f in fs.features}  # the definition's order
    views: dict[tuple[str, str], _View] = {}

    def view(kind: str, signal: str) -> _View:
        v = views.get((kind, signal))
        if v is None:
            src = patient.vitals if kind == "vitals" else patient.labs
            v = views[(kind, signal)] = _View(src.get(signal, EMPTY), ts)
        return v

    meds: list[Feature] = []
    groups: dict[tuple[str, str, int | None], list[Feature]] = {}
    for f in fs.features:
        if f.source == "medications":
            meds.append(f)
        elif f.source == "enrollment":
            if f.op == "days_since":
                start = _enrollment_ms(patient.context)
                if start is not None:
                    out[f.name] = (ts - start).astype(np.float64) / DAY_MS
            else:
                out[f.name][:] = _static(f.signal, patient.context)
        elif f.source == "adverse_events":
            # Visible when it had happened and been reported by t: max(event, report) <= t.
            seen = np.sort(np.maximum(patient.ae_event, patient.ae_report))
            out[f.name] = np.searchsorted(seen, ts, side="right").astype(np.float64)
        elif f.op == "instability_score":
            out[f.name] = _instability(fs, lambda sig: view("vitals", sig), ts, baseline_ms)
        else:
            kind = "vitals" if f.source == "vitals" else "labs"
            w = fs.window_ms(f)
            if w is None and f.op not in HISTORY_OPS:
                raise ValueError(f"{f.name}: op {f.op} needs a duration window, not {f.window!r}")
            if w is not None and f.op not in WINDOW_OPS:
                raise ValueError(f"{f.name}: op {f.op} is not defined for source {f.source}")
            groups.setdefault((kind, f.signal, w), []).append(f)
    if meds:
        out.update(_medication_features(meds, patient.meds, ts, dose_ms, interactions))
    for (kind, signal, w), feats in groups.items():
        got = _series_group(view(kind, signal), w, sorted({f.op for f in feats}))
        for f in feats:
            out[f.name] = got[f.op].copy()
    return out


def _instability(fs: FeatureSet, view_of: Callable[[str], _View], ts: I64, baseline_ms: int) -> F64:
    """Sum over signals of |mean of the last window - baseline mean| / baseline std.

    A signal contributes only with a recent mean and a baseline of >= 2 points and std > 0; with no
    contributing signal the score is NaN, so "no data" never reads as "stable".
    """
    hour = duration_ms("1h")
    total = np.zeros(ts.size)
    terms = np.zeros(ts.size, dtype=np.int64)
    for sig in fs.settings.instability_signals:
        v = view_of(sig)
        s = v.s
        recent = _series_group(v, hour, ["mean", "count"])
        bmean, bstd, bn = _nan(ts), _nan(ts), np.zeros(ts.size, dtype=np.int64)
        fi = v.fast_idx
        if fi.size and s.value.size:
            # The visible baseline of a prefix s[:hi] is s[:min(hi, end of the baseline window)]: one
            # row per distinct length, as windows starting at 0 (constant: std 0, as _baseline_stats).
            nb = np.minimum(v.hi[fi], int(np.searchsorted(s.event, int(s.event[0]) + baseline_ms, "left")))
            ks, inv = np.unique(nb, return_inverse=True)
            zero = np.zeros(ks.size, dtype=np.int64)
            st = _window_stats(s, zero, zero, ks, ("mean", "std", "min", "max"))
            std = np.where((ks >= 2) & (st["min"] == st["max"]), 0.0, st["std"])
            bmean[fi], bstd[fi], bn[fi] = st["mean"][inv], std[inv], ks[inv]
        for i in v.slow_idx.tolist():
            bmean[i], bstd[i], bn[i] = _baseline_stats(s.visible(int(ts[i])), baseline_ms)
        ok = (bn >= 2) & (bstd > 0) & (recent["count"] > 0)
        term = np.abs(recent["mean"] - bmean) / np.where(ok, bstd, 1.0)
        total = np.where(ok, total + term, total)
        terms += ok
    return np.where(terms > 0, total, NAN)


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
