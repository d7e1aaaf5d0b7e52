"""Evaluation metrics shared by training, the gates and the PhysioNet benchmark.

Everything here is a pure function of arrays so that the gate logic can be tested on crafted
predictions without a model.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import average_precision_score, roc_auc_score

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def auroc(y: NDArray[np.generic], p: NDArray[np.generic]) -> float:
    """AUROC, or NaN when only one class is present (a subgroup can be all-negative)."""
    y = np.asarray(y)
    if y.size == 0 or np.all(y == y.flat[0]):
        return float("nan")
    return float(roc_auc_score(y, p))


def auprc(y: NDArray[np.generic], p: NDArray[np.generic]) -> float:
    y = np.asarray(y)
    if y.size == 0 or not np.any(y == 1):
        return float("nan")
    return float(average_precision_score(y, p))


def expected_calibration_error(y: NDArray[np.generic], p: NDArray[np.generic], bins: int = 10) -> float:
    """ECE with equal-width probability bins: sum over bins of |bin| / n * |mean(p) - mean(y)|.

    The last bin is closed on the right so that p == 1.0 is counted.
    """
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if y.size == 0:
        return float("nan")
    idx = np.clip(np.floor(p * bins).astype(np.int64), 0, bins - 1)
    count = np.bincount(idx, minlength=bins).astype(np.float64)
    sum_p = np.bincount(idx, weights=p, minlength=bins)
    sum_y = np.bincount(idx, weights=y, minlength=bins)
    nonempty = count > 0
    gap = np.abs(sum_p[nonempty] - sum_y[nonempty])  # = count * |mean p - mean y|
    return float(gap.sum() / y.size)


@dataclass(frozen=True)
class BinaryReport:
    threshold: float
    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    tn: int
    fn: int


def at_threshold(y: NDArray[np.generic], p: NDArray[np.generic], threshold: float) -> BinaryReport:
    yb: NDArray[np.bool_] = np.asarray(y).astype(bool)
    pred: NDArray[np.bool_] = np.asarray(p, dtype=np.float64) >= threshold
    tp = int(np.sum(pred & yb))
    fp = int(np.sum(pred & ~yb))
    fn = int(np.sum(~pred & yb))
    tn = int(np.sum(~pred & ~yb))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return BinaryReport(threshold, precision, recall, f1, tp, fp, tn, fn)


def best_f1_threshold(y: NDArray[np.generic], p: NDArray[np.generic]) -> float:
    """The threshold maximizing F1 on (validation) predictions; ties go to the higher threshold."""
    from sklearn.metrics import precision_recall_curve

    prec, rec, thr = precision_recall_curve(np.asarray(y), np.asarray(p))
    f1 = np.where(prec + rec > 0, 2 * prec * rec / np.maximum(prec + rec, 1e-12), 0.0)[:-1]
    if thr.size == 0:
        return 0.5
    return float(thr[int(np.argmax(f1))])


def age_group(age: NDArray[np.generic], edges: Sequence[float]) -> NDArray[np.str_]:
    """Labels like '<50', '50-65', '>=80' for the age bin edges in params.yaml; missing ages -> 'unknown'."""
    age = np.asarray(age, dtype=np.float64)
    labels = [f"<{edges[0]:g}"]
    labels += [f"{lo:g}-{hi:g}" for lo, hi in itertools.pairwise(edges)]
    labels.append(f">={edges[-1]:g}")
    idx = np.searchsorted(np.asarray(edges, dtype=np.float64), age, side="right")
    out = np.asarray(labels, dtype=object)[np.clip(idx, 0, len(labels) - 1)]
    out[np.isnan(age)] = "unknown"
    return out.astype(str)


@dataclass(frozen=True)
class SubgroupResult:
    attribute: str
    group: str
    n: int
    positives: int
    auroc: float
    gated: bool  # enough positives and negatives to count toward the gap


def subgroup_aurocs(
    y: NDArray[np.generic],
    p: NDArray[np.generic],
    groups: dict[str, NDArray[np.generic]],
    min_positives: int,
) -> list[SubgroupResult]:
    """AUROC per group of each attribute. Small groups are reported but not gated: an AUROC from a
    handful of positives is noise, and gating on it would fail models at random."""
    y = np.asarray(y)
    p = np.asarray(p)
    out: list[SubgroupResult] = []
    for attr, values in groups.items():
        values = np.asarray(values).astype(str)
        for g in sorted(set(values.tolist())):
            m = values == g
            pos = int(np.sum(y[m] == 1))
            neg = int(np.sum(m)) - pos
            out.append(
                SubgroupResult(
                    attribute=attr,
                    group=g,
                    n=int(np.sum(m)),
                    positives=pos,
                    auroc=auroc(y[m], p[m]),
                    gated=pos >= min_positives and neg >= min_positives and g != "unknown",
                )
            )
    return out


def subgroup_gaps(results: Sequence[SubgroupResult]) -> dict[str, float]:
    """Max minus min AUROC over the gated groups of each attribute (0.0 when fewer than two)."""
    gaps: dict[str, float] = {}
    for attr in dict.fromkeys(r.attribute for r in results):
        vals = [r.auroc for r in results if r.attribute == attr and r.gated and not np.isnan(r.auroc)]
        gaps[attr] = float(max(vals) - min(vals)) if len(vals) >= 2 else 0.0
    return gaps


# --- PhysioNet/CinC 2019 utility (Reyna et al., Crit Care Med 2020) ---------------------------------
# Constants of the challenge's evaluate_sepsis_score.py: reward a positive prediction from 12 h to
# 6 h before onset rising to 1, decaying to 0 at 3 h after; a missed onset costs up to -2; a false
# alarm costs 0.05 per hour.
DT_EARLY, DT_OPTIMAL, DT_LATE = -12, -6, 3
MAX_U_TP, MIN_U_FN, U_FP, U_TN = 1.0, -2.0, -0.05, 0.0


def patient_utility(labels: NDArray[np.generic], predictions: NDArray[np.generic]) -> float:
    """The challenge's compute_prediction_utility for one stay (labels are SepsisLabel, hourly)."""
    labels = np.asarray(labels)
    preds = np.asarray(predictions).astype(bool)
    n = labels.size
    septic = bool(np.any(labels))
    t_sepsis = float(np.argmax(labels) - DT_OPTIMAL) if septic else float("inf")
    m1 = MAX_U_TP / (DT_OPTIMAL - DT_EARLY)
    b1 = -m1 * DT_EARLY
    m2 = -MAX_U_TP / (DT_LATE - DT_OPTIMAL)
    b2 = -m2 * DT_LATE
    m3 = MIN_U_FN / (DT_LATE - DT_OPTIMAL)
    b3 = -m3 * DT_OPTIMAL
    t = np.arange(n, dtype=np.float64)
    rel = t - t_sepsis
    considered = t <= t_sepsis + DT_LATE
    u = np.zeros(n)
    if septic:
        early = rel <= DT_OPTIMAL
        tp_u = np.where(early, np.maximum(m1 * rel + b1, U_FP), m2 * rel + b2)
        fn_u = np.where(early, 0.0, m3 * rel + b3)
        u = np.where(preds, tp_u, fn_u)
    else:
        u = np.where(preds, U_FP, U_TN)
    return float(np.sum(u[considered]))


@dataclass(frozen=True)
class UtilityTable:
    """Per-row utility of predicting positive (u_pos) or negative (u_neg), zero outside the scored
    window, precomputed once so that scanning thresholds is a dot product, not a loop over stays."""

    u_pos: FloatArray
    u_neg: FloatArray
    best: float
    inaction: float

    def normalized(self, predictions: NDArray[np.generic]) -> float:
        pred = np.asarray(predictions).astype(bool)
        observed = float(np.sum(np.where(pred, self.u_pos, self.u_neg)))
        denom = self.best - self.inaction
        return (observed - self.inaction) / denom if denom else float("nan")


def utility_table(labels: NDArray[np.generic], patient_ids: NDArray[np.generic]) -> UtilityTable:
    """Rows must be in time order within each patient (hourly); stays are found by patient id
    (rows of one stay need not be contiguous, but their relative order is their time order)."""
    labels = np.asarray(labels).astype(bool)
    pid = np.asarray(patient_ids)
    _, inv = np.unique(pid, return_inverse=True)
    order = np.argsort(inv, kind="stable")
    inv_sorted = inv[order]
    n_stays = int(inv.max()) + 1 if inv.size else 0
    starts = np.searchsorted(inv_sorted, np.arange(n_stays))
    t = np.empty(pid.size, dtype=np.float64)
    t[order] = np.arange(pid.size) - starts[inv_sorted]
    lab_sorted = labels[order]
    first_pos = np.full(n_stays, np.inf)
    pos_rows = np.flatnonzero(lab_sorted)
    if pos_rows.size:
        # first positive hour per stay = min over its positive rows of the in-stay index
        np.minimum.at(
            first_pos, inv_sorted[pos_rows], (pos_rows - starts[inv_sorted[pos_rows]]).astype(float)
        )
    t_sepsis = (first_pos - DT_OPTIMAL)[inv]
    septic = np.isfinite(t_sepsis)
    rel = np.where(septic, t - np.where(septic, t_sepsis, 0.0), 0.0)
    considered = ~septic | (rel <= DT_LATE)
    m1 = MAX_U_TP / (DT_OPTIMAL - DT_EARLY)
    b1 = -m1 * DT_EARLY
    m2 = -MAX_U_TP / (DT_LATE - DT_OPTIMAL)
    b2 = -m2 * DT_LATE
    m3 = MIN_U_FN / (DT_LATE - DT_OPTIMAL)
    b3 = -m3 * DT_OPTIMAL
    early = rel <= DT_OPTIMAL
    u_pos = np.where(septic, np.where(early, np.maximum(m1 * rel + b1, U_FP), m2 * rel + b2), U_FP)
    u_neg = np.where(septic, np.where(early, 0.0, m3 * rel + b3), U_TN)
    u_pos = np.where(considered, u_pos, 0.0)
    u_neg = np.where(considered, u_neg, 0.0)
    best_pred = septic & (rel >= DT_EARLY) & (rel <= DT_LATE)
    return UtilityTable(
        u_pos=u_pos,
        u_neg=u_neg,
        best=float(np.sum(np.where(best_pred, u_pos, u_neg))),
        inaction=float(np.sum(u_neg)),
    )


def normalized_utility(
    labels: NDArray[np.generic], predictions: NDArray[np.generic], patient_ids: NDArray[np.generic]
) -> float:
    """(observed - inaction) / (best - inaction) summed over stays, as the challenge scores a cohort."""
    return utility_table(labels, patient_ids).normalized(predictions)


def best_utility_threshold(
    labels: NDArray[np.generic],
    scores: NDArray[np.generic],
    patient_ids: NDArray[np.generic],
    candidates: Sequence[float] | None = None,
) -> tuple[float, float]:
    """The threshold maximizing normalized utility on (validation) data: (threshold, utility)."""
    s: FloatArray = np.asarray(scores, dtype=np.float64)
    if candidates is None:
        candidates = np.unique(np.quantile(s, np.linspace(0.5, 0.995, 40))).tolist()
    table = utility_table(labels, patient_ids)
    best_t, best_u = 0.5, -np.inf
    for t in candidates:
        u = table.normalized(s >= t)
        if u > best_u:
            best_t, best_u = float(t), u
    return best_t, float(best_u)
