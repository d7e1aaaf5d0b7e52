"""Test-set evaluation of scores: the metrics that the gates, MLflow and the benchmark report."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ml.metrics import (
    SubgroupResult,
    age_group,
    at_threshold,
    auprc,
    auroc,
    expected_calibration_error,
    subgroup_aurocs,
    subgroup_gaps,
)
from ml.params import Params


def subgroup_columns(frame: pd.DataFrame, age_bins: tuple[float, ...]) -> dict[str, NDArray[np.generic]]:
    groups: dict[str, NDArray[np.generic]] = {}
    if "age" in frame.columns:
        groups["age_group"] = age_group(frame["age"].to_numpy(dtype=np.float64, na_value=np.nan), age_bins)
    if "sex" in frame.columns:
        groups["sex"] = frame["sex"].astype(str).fillna("unknown").to_numpy()
    if "site" in frame.columns and frame["site"].nunique() > 1:
        groups["site"] = frame["site"].astype(str).fillna("unknown").to_numpy()
    return groups


def evaluate_scores(
    y: NDArray[np.generic],
    p: NDArray[np.generic],
    frame: pd.DataFrame,
    threshold: float,
    params: Params,
) -> tuple[dict[str, float], list[SubgroupResult], dict[str, float]]:
    """(flat metrics for MLflow, subgroup results, gaps per attribute)."""
    y = np.asarray(y)
    p = np.asarray(p)
    metrics: dict[str, float] = {
        "test_auroc": auroc(y, p),
        "test_auprc": auprc(y, p),
        "test_ece": expected_calibration_error(y, p, params.training.calibration_bins),
        "test_prevalence": float(np.mean(y.astype(np.float64))),
        "operating_threshold": float(threshold),
    }
    for tag, t in (("at_0_5", 0.5), ("at_threshold", threshold)):
        r = at_threshold(y, p, t)
        metrics[f"test_precision_{tag}"] = r.precision
        metrics[f"test_recall_{tag}"] = r.recall
        metrics[f"test_f1_{tag}"] = r.f1
    subgroups = subgroup_aurocs(
        y, p, subgroup_columns(frame, params.gates.age_bins), params.gates.min_subgroup_positives
    )
    for s in subgroups:
        if not np.isnan(s.auroc):
            metrics[f"test_auroc_{s.attribute}_{_safe(s.group)}"] = s.auroc
    gaps = subgroup_gaps(subgroups)
    for attr, gap in gaps.items():
        metrics[f"test_auroc_gap_{attr}"] = gap
    return metrics, subgroups, gaps


def subgroups_json(subgroups: list[SubgroupResult]) -> list[dict[str, Any]]:
    return [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in asdict(s).items()}
        for s in subgroups
    ]


def _safe(group: str) -> str:
    # MLflow metric names allow alphanumerics, _ - . / and space; keep age labels readable
    return group.replace("<", "lt").replace(">=", "ge").replace(" ", "_")
