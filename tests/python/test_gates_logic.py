"""Gates, comparison, ECE, subgroup gaps and the challenge utility on crafted predictions."""

from __future__ import annotations

import numpy as np
import pytest

from ml.gates import check_gates, compare_with_production
from ml.metrics import (
    age_group,
    expected_calibration_error,
    normalized_utility,
    patient_utility,
    subgroup_aurocs,
    subgroup_gaps,
    utility_table,
)
from ml.params import Gates

GATES = Gates(
    min_auroc=0.80,
    max_ece=0.05,
    max_subgroup_auroc_gap=0.05,
    max_latency_ms=200,
    min_subgroup_positives=2,
    age_bins=(50, 65, 80),
    promotion_min_auroc_gain=0.02,
)


def _ok(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "auroc": 0.86,
        "ece": 0.02,
        "subgroup_gaps": {"sex": 0.01},
        "latency_p95_ms": 1.0,
    }
    base.update(kw)
    return base


def test_a_good_model_passes() -> None:
    r = check_gates(GATES, **_ok())  # type: ignore[arg-type]
    assert r.passed and r.reasons == ()


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ({"auroc": 0.79}, "AUROC 0.7900 < 0.8"),
        ({"ece": 0.05}, "calibration error 0.0500 >= 0.05"),  # strict: 0.05 itself fails
        ({"subgroup_gaps": {"sex": 0.01, "age_group": 0.06}}, "across age_group"),
        ({"latency_p95_ms": 200.0}, "latency"),
        ({"auroc": float("nan")}, "AUROC nan"),
    ],
)
def test_each_gate_fails_with_its_reason(override: dict[str, object], needle: str) -> None:
    r = check_gates(GATES, **_ok(**override))  # type: ignore[arg-type]
    assert not r.passed
    assert any(needle in reason for reason in r.reasons)


def test_auroc_exactly_at_the_bound_passes() -> None:
    assert check_gates(GATES, **_ok(auroc=0.80)).passed  # type: ignore[arg-type]


def test_all_reasons_are_reported() -> None:
    r = check_gates(GATES, **_ok(auroc=0.5, ece=0.2, latency_p95_ms=500.0))  # type: ignore[arg-type]
    assert len(r.reasons) == 3


def test_failing_model_is_never_a_candidate_even_without_production() -> None:
    r = check_gates(GATES, **_ok(auroc=0.7))  # type: ignore[arg-type]
    d = compare_with_production(GATES, r, 0.7, None)
    assert not d.promote and d.reason.startswith("failed gates")


@pytest.mark.parametrize(
    ("new", "prod", "promote"),
    [(0.86, 0.84, True), (0.859, 0.84, False), (0.90, 0.85, True), (0.85, 0.86, False)],
)
def test_promotion_needs_two_absolute_auroc_points(new: float, prod: float, promote: bool) -> None:
    r = check_gates(GATES, **_ok(auroc=new))  # type: ignore[arg-type]
    d = compare_with_production(GATES, r, new, prod)
    assert d.promote is promote
    assert d.gain == pytest.approx(new - prod)


def test_no_production_model_means_first_candidate() -> None:
    r = check_gates(GATES, **_ok())  # type: ignore[arg-type]
    assert compare_with_production(GATES, r, 0.86, None).promote


# --- ECE ---------------------------------------------------------------------------------------------
def test_ece_is_zero_for_perfect_calibration() -> None:
    y = np.array([0, 1] * 50)
    p = np.full(100, 0.5)
    assert expected_calibration_error(y, p, 10) == pytest.approx(0.0)


def test_ece_by_hand() -> None:
    # bin [0.1,0.2): p=0.15 x4, 2 positive -> |0.15-0.5|=0.35 ; bin [0.9,1]: p=0.95 x6 (and 1.0), all positive
    p = np.array([0.15] * 4 + [0.95] * 5 + [1.0])
    y = np.array([1, 1, 0, 0] + [1] * 6)
    expected = (4 * 0.35 + 6 * abs((0.95 * 5 + 1.0) / 6 - 1.0)) / 10
    assert expected_calibration_error(y, p, 10) == pytest.approx(expected)


def test_overconfident_model_has_large_ece() -> None:
    y = np.zeros(1000)
    y[:100] = 1
    assert expected_calibration_error(y, np.full(1000, 0.9)) == pytest.approx(0.8)


# --- subgroups ---------------------------------------------------------------------------------------
def test_subgroup_gap_ignores_small_groups() -> None:
    y = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0, 1])
    p = np.array([0.1, 0.9, 0.2, 0.8, 0.3, 0.7, 0.9, 0.1, 0.5, 0.5])
    sex = np.array(["F"] * 4 + ["M"] * 4 + ["X"] * 2)
    res = subgroup_aurocs(y, p, {"sex": sex}, min_positives=2)
    by = {r.group: r for r in res}
    assert by["F"].auroc == 1.0 and by["M"].auroc == 0.25 and not by["X"].gated
    assert subgroup_gaps(res) == {"sex": 0.75}


def test_age_groups() -> None:
    assert age_group(np.array([30, 50, 64.9, 65, 80, np.nan]), (50, 65, 80)).tolist() == [
        "<50",
        "50-65",
        "50-65",
        "65-80",
        ">=80",
        "unknown",
    ]


# --- PhysioNet 2019 utility --------------------------------------------------------------------------
def test_utility_of_a_septic_stay_by_hand() -> None:
    # first SepsisLabel at hour 10 -> t_sepsis = 16; predicting at 10 (t - t_sepsis = -6): +1.0
    labels = np.r_[np.zeros(10), np.ones(10)]
    pred = np.zeros(20)
    pred[10] = 1
    # the missed hours after the optimal point cost: t=11..19 -> rel -5..3, u = -2/9 * (rel + 6)
    missed = sum(-2 / 9 * (rel + 6) for rel in range(-5, 4))
    assert patient_utility(labels, pred) == pytest.approx(1.0 + missed)


def test_utility_of_false_alarms_on_a_non_septic_stay() -> None:
    assert patient_utility(np.zeros(30), np.ones(30)) == pytest.approx(-0.05 * 30)


def test_perfect_and_inaction_normalize_to_one_and_zero() -> None:
    rng = np.random.default_rng(0)
    labels, pids, best = [], [], []
    for i in range(50):
        n = int(rng.integers(20, 60))
        lab = np.zeros(n)
        b = np.zeros(n)
        if i % 3 == 0:
            first = int(rng.integers(0, n))
            lab[first:] = 1
            t_sepsis = first + 6
            b[max(0, t_sepsis - 12) : min(t_sepsis + 4, n)] = 1
        labels.append(lab)
        best.append(b)
        pids += [f"p{i}"] * n
    y, pid, bp = np.concatenate(labels), np.array(pids), np.concatenate(best)
    assert normalized_utility(y, bp, pid) == pytest.approx(1.0)
    assert normalized_utility(y, np.zeros_like(y), pid) == pytest.approx(0.0)
    # the vectorized table agrees with the per-stay reference on a random prediction
    pred = rng.random(y.size) < 0.3
    table = utility_table(y, pid)
    starts = np.flatnonzero(np.r_[True, pid[1:] != pid[:-1]])
    ends = np.r_[starts[1:], pid.size]
    ref = sum(patient_utility(y[s:e], pred[s:e]) for s, e in zip(starts, ends, strict=True))
    assert float(np.sum(np.where(pred, table.u_pos, table.u_neg))) == pytest.approx(ref)
