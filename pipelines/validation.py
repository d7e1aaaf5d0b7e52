"""Batch validation of feature rows: imputation, drift against the training reference, statistics.

- NaN/Inf are replaced by the training median of the feature and flagged (`<name>__imputed`), so the
  model never sees a non-finite input and training can tell imputed from observed values.
- A two-sample Kolmogorov-Smirnov test compares a new batch with the training reference sample.
- min, max, mean, std and missing_pct per feature go to MLflow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipelines.featureset import FeatureSet


@dataclass(frozen=True)
class Reference:
    """What a training set leaves behind for validating later batches (saved with the model)."""

    medians: dict[str, float]
    samples: dict[str, np.ndarray]

    def to_json(self) -> dict[str, Any]:
        return {"medians": self.medians, "samples": {k: v.tolist() for k, v in self.samples.items()}}


def fit_reference(frame: pd.DataFrame, fs: FeatureSet, sample_rows: int, seed: int) -> Reference:
    rng = np.random.default_rng(seed)
    medians, samples = {}, {}
    for name in fs.names:
        x = frame[name].to_numpy(np.float64, na_value=np.nan)
        ok = x[np.isfinite(x)]
        # A feature never observed in training imputes to 0 rather than NaN: the model must get a number.
        medians[name] = float(np.median(ok)) if ok.size else 0.0
        samples[name] = (
            np.sort(rng.choice(ok, size=min(sample_rows, ok.size), replace=False)) if ok.size else ok
        )
    return Reference(medians, samples)


def impute(frame: pd.DataFrame, ref: Reference, fs: FeatureSet) -> pd.DataFrame:
    out = frame.copy()
    for name in fs.names:
        x = out[name].to_numpy(np.float64, na_value=np.nan)
        bad = ~np.isfinite(x)
        out[f"{name}__imputed"] = bad.astype(np.int8)
        out[name] = np.where(bad, ref.medians[name], x)
    return out


def ks_2samp(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Two-sample KS statistic and its asymptotic p-value (Kolmogorov distribution, Stephens' correction)."""
    a, b = np.sort(a[np.isfinite(a)]), np.sort(b[np.isfinite(b)])
    if not a.size or not b.size:
        return NAN, NAN
    allv = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, allv, side="right") / a.size
    cdf_b = np.searchsorted(b, allv, side="right") / b.size
    d = float(np.max(np.abs(cdf_a - cdf_b)))
    en = math.sqrt(a.size * b.size / (a.size + b.size))
    lam = (en + 0.12 + 0.11 / en) * d
    p = 2.0 * sum((-1) ** (k - 1) * math.exp(-2.0 * k * k * lam * lam) for k in range(1, 101))
    return d, float(min(1.0, max(0.0, p)))


NAN = float("nan")


def drift(
    batch: pd.DataFrame, ref: Reference, fs: FeatureSet, alpha: float
) -> dict[str, dict[str, float | bool]]:
    out: dict[str, dict[str, float | bool]] = {}
    for name in fs.names:
        d, p = ks_2samp(batch[name].to_numpy(np.float64, na_value=np.nan), ref.samples[name])
        out[name] = {
            "ks_statistic": d,
            "p_value": p,
            "drifted": bool(p < alpha) if not math.isnan(p) else False,
        }
    return out


def log_statistics(stats: dict[str, dict[str, float | None]], fs: FeatureSet, params: dict[str, str]) -> str:
    import mlflow

    from ml import tracking

    target = tracking.configure()
    exp = tracking.ensure_experiment("aepred-features", target)
    with mlflow.start_run(experiment_id=exp, run_name="features") as run:
        mlflow.log_params(params)
        mlflow.set_tag("feature_set_hash", fs.hash)
        metrics = {
            f"{name}.{k}": float(v) for name, st in stats.items() for k, v in st.items() if v is not None
        }
        mlflow.log_metrics(metrics)
        mlflow.log_dict(stats, "feature_statistics.json")
        return str(run.info.run_id)
