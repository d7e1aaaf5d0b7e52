"""The vectorised pipelines.ops.compute against the scalar per-snapshot oracle (tests/python/ops_oracle.py).

Random patients (seeded) cover what the fast path must get right or hand to the scalar path: labs and
adverse events reported late (the visible set is not the event prefix), ties in event time (also three
or more at one instant: slope), empty windows, single points, sparse and dense series, a signal with
no observation, meds started, stopped, dosed and changed (same-instant events), snapshots on window
boundaries, unsorted and repeated. Every feature must agree within 1e-12 relative (absolute below
magnitude 1) or be null in both.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from ops_oracle import compute as oracle_compute
from ops_oracle import to_frame

from pipelines import features, ops
from pipelines.featureset import FeatureSet, default_feature_set
from pipelines.ops import HOUR_MS, Interaction, MedEvent, Patient, Series, compute

MIN_MS = 60_000
DAY_MS = 86_400_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
REL = 1e-12

FS = default_feature_set()
INTERACTIONS = (
    *ops.default_interactions(),
    Interaction(frozenset({"aaa", "bbb", "ccc"}), "triple_flag"),
    Interaction(frozenset({"aaa", "bbb"}), FS.features[0].name),  # a flag no feature names
)
DRUGS = sorted({d for ix in INTERACTIONS for d in ix.drugs} | {"zzz_unlisted"})


def _extended_fs() -> FeatureSet:
    """Every series op on every window form, for vitals and labs, plus instability on a lab-less signal
    list: the vectorised code must be generic over the definition, not tuned to today's file."""
    raw: dict[str, Any] = FS.model_dump()
    feats: list[dict[str, Any]] = []
    for source, signal in (("vitals", "heart_rate"), ("labs", "ALT"), ("vitals", "no_such_signal")):
        for window in ("7m", "90m", "ffill", "3d"):
            for op in ("mean", "std", "var", "min", "max", "slope", "count", "last", "missing_flag"):
                feats.append(_feat(f"x_{signal}_{op}_{window}".lower(), source, signal, op, window))
        for op in ("last", "delta_from_baseline", "rate_of_change"):
            feats.append(_feat(f"x_{signal}_{op}_all".lower(), source, signal, op, "all"))
    feats.append(_feat("x_instability", "derived", "vitals", "instability_score", "1h"))
    feats.append(_feat("x_flag_triple", "medications", "triple_flag", "interaction_flag", "active"))
    raw["features"] = feats
    raw["settings"]["instability_signals"] = ("heart_rate", "temperature", "no_such_signal")
    raw["settings"]["baseline_window"] = "6h"
    raw["settings"]["dose_active_window"] = "5h"
    return FeatureSet.model_validate(raw)


def _feat(name: str, source: str, signal: str, op: str, window: str) -> dict[str, Any]:
    return {
        "name": name,
        "dtype": "float64",
        "source": source,
        "signal": signal,
        "op": op,
        "window": window,
        "unit": "1",
        "description": "test",
    }


EXT = _extended_fs()


def _times(rng: np.random.Generator, span_ms: int, shape: str) -> np.ndarray:
    match shape:
        case "empty":
            return np.zeros(0, np.int64)
        case "single":
            return rng.integers(0, span_ms, 1)
        case "sparse":
            return rng.integers(0, span_ms, int(rng.integers(2, 8)))
        case "dense":
            step = int(rng.choice([2, 5, 7, 15])) * MIN_MS
            base = np.arange(0, span_ms, step, dtype=np.int64)
            jitter = rng.integers(-step // 3, step // 3 + 1, base.size) if rng.random() < 0.5 else 0
            keep = rng.random(base.size) > rng.choice([0.0, 0.1, 0.6])  # gaps
            out: np.ndarray = np.clip(base + jitter, 0, span_ms)[keep]
            return out
        case _:  # ties: few distinct instants, several observations each (three or more included)
            instants = rng.integers(0, span_ms, int(rng.integers(1, 6)))
            return np.repeat(instants, rng.integers(1, 5, instants.size)).astype(np.int64)


def _values(rng: np.random.Generator, n: int) -> np.ndarray:
    mode = rng.integers(0, 4)
    if mode == 0:  # constant (std 0, baseline std 0)
        return np.full(n, float(rng.integers(60, 120)))
    if mode == 1:  # coarse integers: many ties in value too
        return rng.integers(60, 70, n).astype(np.float64)
    return rng.normal(rng.uniform(1, 200), rng.uniform(0.1, 30), n)


def random_patient(seed: int) -> tuple[Patient, np.ndarray]:
    rng = np.random.default_rng(seed)
    days = int(rng.integers(1, 8))
    span = days * DAY_MS
    shapes = ["empty", "single", "sparse", "dense", "dense", "ties"]
    vit_names = ["heart_rate", "temperature", "spo2", "blood_pressure_systolic", "respiratory_rate"]
    vitals = {}
    for name in vit_names:
        e = T0 + _times(rng, span, str(rng.choice(shapes)))
        arr = e.copy()
        if rng.random() < 0.15:  # a vital that arrives late (not the pipeline's case, but allowed)
            late = rng.random(e.size) < 0.2
            arr[late] += rng.integers(1, 6 * HOUR_MS, int(late.sum()))
        vitals[name] = Series.build(e, arr, _values(rng, e.size))
    labs = {}
    for name in ["ALT", "AST", "CREAT", "WBC", "PLAT"]:
        e = T0 + _times(rng, span, str(rng.choice(["empty", "single", "sparse", "sparse", "ties"])))
        delay = int(rng.choice([0, HOUR_MS, 30 * HOUR_MS]))
        arr = e + (rng.integers(0, delay + 1, e.size) if delay else np.zeros(e.size, np.int64))
        if rng.random() < 0.1 and e.size:  # a missing value (NaN) propagates as in the oracle
            v = _values(rng, e.size)
            v[rng.integers(0, e.size)] = np.nan
        else:
            v = _values(rng, e.size)
        labs[name] = Series.build(e, arr, v)
    meds = []
    for _ in range(int(rng.integers(0, 12))):
        drug = str(rng.choice(DRUGS))
        t = T0 + int(rng.integers(0, span))
        action = str(rng.choice(["start", "start", "stop", "dose", "change"]))
        end = t + int(rng.integers(0, 3 * DAY_MS)) if rng.random() < 0.3 else None
        meds.append(MedEvent(t, drug, action, end))
        if rng.random() < 0.2:  # a same-instant event on the same drug
            meds.append(MedEvent(t, drug, str(rng.choice(["start", "stop", "dose", "change"])), None))
    n_ae = int(rng.integers(0, 4))
    ae_e = T0 + rng.integers(0, span, n_ae)
    ae_r = ae_e + rng.integers(0, 3 * DAY_MS, n_ae) * (rng.random(n_ae) < 0.6)
    context: dict[str, object] = {
        "age": int(rng.integers(18, 90)),
        "sex": str(rng.choice(["M", "F", "X"])),
        "height_cm": float(rng.uniform(150, 200)),
        "weight_kg": float(rng.uniform(45, 120)) if rng.random() < 0.8 else None,
        "comorbidities": ["a"] * int(rng.integers(0, 4)),
        "arm_role": str(rng.choice(["treatment", "control", "other"])),
    }
    if rng.random() < 0.8:
        context["enrollment_date"] = "2025-12-20"
    patient = Patient(
        patient_id=f"p{seed}",
        vitals=vitals,
        labs=labs,
        meds=tuple(meds),
        ae_event=ae_e.astype(np.int64),
        ae_report=ae_r.astype(np.int64),
        ae_type=("x",) * n_ae,
        context=context,
    )
    return patient, _snapshots(rng, patient, span)


def _snapshots(rng: np.random.Generator, patient: Patient, span: int) -> np.ndarray:
    cadence = int(rng.choice([HOUR_MS, 6 * HOUR_MS, DAY_MS]))
    grid = T0 + np.arange(0, span + DAY_MS, cadence, dtype=np.int64)
    grid = grid[rng.random(grid.size) < min(1.0, 30 / grid.size)]
    # Boundaries: on an event, a window length after one, an arrival, a medication event or end;
    # before all data; repeated.
    events = np.concatenate([s.event for s in (*patient.vitals.values(), *patient.labs.values())])
    arrivals = np.concatenate([s.arrival for s in patient.labs.values()] + [patient.ae_report])
    edges = [T0 - HOUR_MS]
    if events.size:
        pick = rng.choice(events, 4)
        edges += [*pick, *(pick + 7 * MIN_MS), *(pick + 90 * MIN_MS), *(pick + 2 * HOUR_MS)]
    if arrivals.size:
        edges += [*rng.choice(arrivals, 3), *(rng.choice(arrivals, 3) - 1)]
    for m in patient.meds[:4]:  # at a medication event, and at its end
        edges += [m.event] + ([m.end] if m.end is not None else [])
    snaps = np.concatenate([grid, np.asarray(edges, dtype=np.int64)])
    snaps = np.concatenate([snaps, snaps[:2]])  # repeated snapshot times
    rng.shuffle(snaps)
    return snaps


def _mismatches(fs: FeatureSet, patient: Patient, snaps: np.ndarray) -> list[str]:
    want = oracle_compute(fs, patient, snaps.tolist(), INTERACTIONS)
    got = compute(fs, patient, snaps, INTERACTIONS)
    assert list(got) == list(want) == fs.names  # every feature, in the definition's order
    bad = []
    for name in fs.names:
        g, w = got[name], want[name]
        assert g.shape == w.shape == snaps.shape, name
        for i in range(snaps.size):
            a, b = float(g[i]), float(w[i])
            if math.isnan(a) and math.isnan(b):
                continue
            if not abs(a - b) <= REL * max(1.0, abs(a), abs(b)):
                bad.append(f"{name} t={int(snaps[i])}: vectorised {a!r} oracle {b!r}")
    return bad


SEEDS = range(40)


@pytest.mark.parametrize("seed", SEEDS)
def test_vectorised_matches_oracle(seed: int) -> None:
    patient, snaps = random_patient(seed)
    assert _mismatches(FS, patient, snaps) == []
    assert _mismatches(EXT, patient, snaps) == []


def test_random_patients_exercise_the_slow_path_and_the_edge_cases() -> None:
    """The property test is only as good as its cases: make sure they contain what matters."""
    slow = ties3 = empty = single = late_ae = 0
    for seed in SEEDS:
        patient, snaps = random_patient(seed)
        for s in (*patient.vitals.values(), *patient.labs.values()):
            slow += int((~ops._View(s, snaps).fast).sum())
            empty += s.event.size == 0
            single += s.event.size == 1
            if s.event.size:
                ties3 += int(np.bincount(np.unique(s.event, return_inverse=True)[1]).max() >= 3)
        late_ae += int((patient.ae_report > patient.ae_event).sum())
    assert slow > 50 and ties3 > 5 and empty > 5 and single > 5 and late_ae > 5, (
        slow,
        ties3,
        empty,
        single,
        late_ae,
    )


def test_chunked_gather_gives_the_same_values(monkeypatch: pytest.MonkeyPatch) -> None:
    patient, snaps = random_patient(3)
    whole = compute(EXT, patient, snaps, INTERACTIONS)
    monkeypatch.setattr(ops, "GATHER_CELLS", 7)  # a few rows per chunk
    chunked = compute(EXT, patient, snaps, INTERACTIONS)
    for name in EXT.names:
        np.testing.assert_array_equal(chunked[name], whole[name], err_msg=name)


def test_slope_of_three_points_at_one_instant_is_null() -> None:
    # 7 minutes before t, three times: the float hours do not sum exactly, so sxx is 5.8e-34, not 0.
    t = T0 + DAY_MS
    e = np.full(3, t - 7 * MIN_MS)
    patient = Patient("p", vitals={"heart_rate": Series.build(e, e, [70.0, 80.0, 90.0])})
    got = compute(EXT, patient, [t])
    assert math.isnan(got["x_heart_rate_slope_90m"][0])
    assert got["x_heart_rate_mean_90m"][0] == 80.0
    assert got["x_heart_rate_count_90m"][0] == 3.0


def test_a_constant_baseline_does_not_contribute_to_instability() -> None:
    # Seven readings of 36.8: np.std gives 7.7e-15, not 0; |37.0 - 36.8| / 7.7e-15 would be 2.6e13.
    t = T0 + 2 * DAY_MS
    e = T0 + np.arange(7, dtype=np.int64) * HOUR_MS
    temp = Series.build([*e, t - 10 * MIN_MS], [*e, t - 10 * MIN_MS], [36.8] * 7 + [37.0])
    hr = Series.build([*e, t - 10 * MIN_MS], [*e, t - 10 * MIN_MS], [70, 72, 74, 70, 72, 74, 70, 80.0])
    both = compute(EXT, Patient("p", vitals={"temperature": temp, "heart_rate": hr}), [t])
    hr_only = compute(EXT, Patient("p", vitals={"heart_rate": hr}), [t])
    assert both["x_instability"][0] == hr_only["x_instability"][0]
    assert 0 < both["x_instability"][0] < 10
    alone = compute(EXT, Patient("p", vitals={"temperature": temp}), [t])
    assert math.isnan(alone["x_instability"][0])  # no contributing signal: null, not "stable"
    assert math.isnan(
        oracle_compute(EXT, Patient("p", vitals={"temperature": temp}), [t])["x_instability"][0]
    )


def test_no_snapshots_gives_empty_columns() -> None:
    patient, _ = random_patient(1)
    got = compute(FS, patient, np.zeros(0, np.int64))
    assert list(got) == FS.names and all(v.shape == (0,) for v in got.values())


def test_a_late_lab_is_invisible_until_it_arrives() -> None:
    ev, arr = T0, T0 + 30 * HOUR_MS  # drawn at T0, reported 30 h later
    patient = Patient("p", labs={"ALT": Series.build([ev, ev - DAY_MS], [arr, ev - DAY_MS], [90.0, 20.0])})
    got = compute(EXT, patient, [T0 + HOUR_MS, arr - 1, arr])
    assert got["x_alt_last_all"].tolist() == [20.0, 20.0, 90.0]
    assert got["x_alt_count_3d"].tolist() == [1.0, 1.0, 2.0]


def test_bad_definitions_and_inputs_are_clear_errors() -> None:
    raw: dict[str, Any] = EXT.model_dump()
    raw["features"] = [_feat("bad", "vitals", "heart_rate", "mean", "all")]
    with pytest.raises(ValueError, match="needs a duration window"):
        compute(FeatureSet.model_validate(raw), Patient("p"), [T0])
    raw["features"] = [_feat("bad", "labs", "ALT", "delta_from_baseline", "6h")]
    with pytest.raises(ValueError, match="not defined for source labs"):
        compute(FeatureSet.model_validate(raw), Patient("p"), [T0])
    raw["features"] = [_feat("bad", "medications", "drugs", "mean", "active")]
    with pytest.raises(ValueError, match="does not apply to medications"):
        compute(FeatureSet.model_validate(raw), Patient("p"), [T0])
    with pytest.raises(ValueError, match="unknown action 'pause'"):
        compute(EXT, Patient("p", meds=(MedEvent(T0, "aaa", "pause"),)), [T0])


@pytest.mark.parametrize("string_dtype", ["str", "object"])
@pytest.mark.parametrize("seed", range(0, 40, 4))
def test_patient_from_frame_sorts_each_series_like_series_build(seed: int, string_dtype: str) -> None:
    """The Spark kernel's frame -> Patient (one packed sort) gives what Series.build gives per signal."""
    patient, _ = random_patient(seed)
    got = features.patient_from_frame(patient.patient_id, to_frame(patient, string_dtype), patient.context)
    for want_map, got_map in ((patient.vitals, got.vitals), (patient.labs, got.labs)):
        assert sorted(got_map) == sorted(k for k, s in want_map.items() if s.event.size)
        for name, s in got_map.items():
            w = Series.build(want_map[name].event, want_map[name].arrival, want_map[name].value)
            np.testing.assert_array_equal(s.event, w.event, err_msg=name)
            np.testing.assert_array_equal(s.arrival, w.arrival, err_msg=name)
            np.testing.assert_array_equal(s.value, w.value, err_msg=name)
    assert sorted(got.meds, key=repr) == sorted(patient.meds, key=repr)
    ae_got = sorted(zip(got.ae_event.tolist(), got.ae_report.tolist(), strict=True))
    assert ae_got == sorted(zip(patient.ae_event.tolist(), patient.ae_report.tolist(), strict=True))


def test_series_order_breaks_event_ties_by_arrival_then_value() -> None:
    key = np.array([1, 0, 1, 1, 1, 0], np.int64)
    ev = np.array([5, 9, 5, 5, 2, 9], np.int64)
    arr = np.array([7, 9, 6, 7, 2, 9], np.int64)
    val = np.array([3.0, 1.0, 4.0, np.nan, 0.0, 0.5])
    want = np.lexsort((val, arr, ev, key))
    np.testing.assert_array_equal(features._series_order(key, ev, arr, val), want)


def test_kernel_rows_are_compute_values_with_labels() -> None:
    patient, _ = random_patient(5)
    cadence, horizon = 6 * HOUR_MS, 24 * HOUR_MS
    kernel = features.make_kernel(
        FS, {patient.patient_id: patient.context}, T0, T0 + 9 * DAY_MS, cadence, horizon
    )
    out = kernel(to_frame(patient))
    assert [c for c, _ in features.output_columns(FS)] == list(out.columns)
    snaps = out["snapshot_time"].to_numpy(np.int64)
    assert snaps.size > 0 and np.all(np.diff(snaps) == cadence)
    want = oracle_compute(FS, patient, snaps.tolist(), ops.default_interactions())
    for name in FS.names:
        np.testing.assert_allclose(out[name].to_numpy(np.float64), want[name], rtol=1e-12, atol=1e-12)
    days = [str(np.datetime64(int(t), "ms").astype("datetime64[D]")) for t in snaps.tolist()]
    assert out["date"].tolist() == days and set(out["patient_id"]) == {patient.patient_id}
    assert out["label"].dtype == np.int32 and out["label_complete"].dtype == np.int32
