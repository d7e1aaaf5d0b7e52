"""Training frames: loading, the feature list, and the 70/15/15 split by patient.

A training frame has one row per (patient, snapshot time): the feature columns, ``label`` (0/1),
``patient_id``, and optional subgroup columns ``age``, ``sex`` and ``site``. Rows of one patient are
in time order. The feature list comes from the frame's companion ``feature_names.json`` when
present (the feature store writes it with the feature-set hash), else every numeric column that is
not reserved.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

RESERVED = frozenset({"patient_id", "label", "site", "time", "snapshot_time", "date"})


class DataError(ValueError):
    """The training data cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class FeatureSet:
    names: tuple[str, ...]
    hash: str
    version: str


def feature_set_hash(names: tuple[str, ...]) -> str:
    """sha256 of the ordered feature names. The feature store's own hash (issue 5) replaces this when
    the frame ships one: order matters because the ONNX input is positional."""
    return hashlib.sha256(json.dumps(list(names)).encode()).hexdigest()


def load_frame(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise DataError(f"training data {path} does not exist")
    if path.suffix == ".parquet" or path.is_dir():
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        return pd.read_csv(path)
    raise DataError(f"training data {path}: expected .parquet, a Parquet folder or .csv")


def feature_set_for(frame: pd.DataFrame, path: Path | None = None) -> FeatureSet:
    meta = _companion(path)
    if meta is not None:
        listed = meta["feature_names"]
        if not isinstance(listed, list):
            raise DataError(f"{path}: feature_names.json: feature_names must be a list")
        names = tuple(str(n) for n in listed)
        missing = [n for n in names if n not in frame.columns]
        if missing:
            raise DataError(f"{path}: feature_names.json lists columns the frame lacks: {missing[:5]}")
        return FeatureSet(
            names=names,
            hash=str(meta.get("feature_set_hash") or feature_set_hash(names)),
            version=str(meta.get("feature_set_version", "unversioned")),
        )
    names = tuple(
        c
        for c in frame.columns
        if c not in RESERVED and not c.startswith("label") and pd.api.types.is_numeric_dtype(frame[c])
    )
    if not names:
        raise DataError("the frame has no numeric feature columns")
    return FeatureSet(names=names, hash=feature_set_hash(names), version="unversioned")


def _companion(path: Path | None) -> dict[str, object] | None:
    if path is None:
        return None
    candidate = (path if path.is_dir() else path.parent) / "feature_names.json"
    if not candidate.exists():
        return None
    data = json.loads(candidate.read_text())
    return data if isinstance(data, dict) and "feature_names" in data else None


def load_feature_store(
    root: Path, start: str, end: str, complete_only: bool = True
) -> tuple[pd.DataFrame, FeatureSet]:
    """A training frame from the offline feature store (issue 5) for snapshot times in [start, end).

    Rows come back ordered by (snapshot_time, patient_id); they are re-ordered by patient then time
    because per-patient time order is what the split and the utility score assume. Only rows whose
    label horizon has fully elapsed are used by default (``label_complete``), so a recent snapshot
    is not mistaken for a negative.
    """
    from pipelines.feature_store import get_training_frame
    from pipelines.featureset import default_feature_set

    fs = default_feature_set()
    frame = get_training_frame(start, end, root=root, fs=fs, complete_only=complete_only)
    if frame.empty:
        raise DataError(f"feature store {root}: no rows with snapshot_time in [{start}, {end})")
    frame = frame.sort_values(["patient_id", "snapshot_time"], kind="stable").reset_index(drop=True)
    if "sex" not in frame.columns and "sex_male" in frame.columns:
        frame["sex"] = frame["sex_male"].map({1.0: "M", 0.0: "F"}).fillna("unknown")
    return frame, FeatureSet(names=tuple(fs.names), hash=fs.hash, version=str(fs.version))


def check_frame(frame: pd.DataFrame, label: str = "label") -> None:
    for col in ("patient_id", label):
        if col not in frame.columns:
            raise DataError(f"the frame has no {col!r} column")
    values = set(pd.unique(frame[label].dropna()))
    if not values <= {0, 1} or len(values) < 2:
        raise DataError(f"column {label!r} must hold both 0 and 1, found {sorted(values)[:5]}")


@dataclass(frozen=True)
class Split:
    train: NDArray[np.bool_]
    val: NDArray[np.bool_]
    test: NDArray[np.bool_]


def split_by_patient(
    patient_ids: NDArray[np.generic],
    labels: NDArray[np.generic],
    fractions: tuple[float, float, float],
    seed: int,
) -> Split:
    """Row masks for a patient-level split stratified by whether the patient ever has a positive
    label: no patient is in two splits, and each split gets the positive patients' share."""
    pid = np.asarray(patient_ids)
    lab = np.asarray(labels)
    patients = pd.Series(lab).groupby(pid).max()
    rng = np.random.default_rng(seed)
    assigned: dict[object, int] = {}
    for stratum in (0, 1):
        members = np.asarray(sorted(patients.index[patients.to_numpy() == stratum].tolist()))
        members = members[rng.permutation(members.size)]
        n_train = round(fractions[0] * members.size)
        n_val = round(fractions[1] * members.size)
        for i, p in enumerate(members.tolist()):
            assigned[p] = 0 if i < n_train else 1 if i < n_train + n_val else 2
    part = pd.Series(pid).map(assigned).to_numpy()
    return Split(train=part == 0, val=part == 1, test=part == 2)


def synthetic_frame(
    n_patients: int = 200, hours: int = 24, n_features: int = 8, seed: int = 0
) -> pd.DataFrame:
    """A small frame with the training frame's shape and a learnable signal, for tests and dry runs."""
    rng = np.random.default_rng(seed)
    rows = n_patients * hours
    x = rng.normal(size=(rows, n_features))
    pid = np.repeat([f"P{i:05d}" for i in range(n_patients)], hours)
    age = np.repeat(rng.integers(25, 90, n_patients), hours).astype(float)
    sex = np.repeat(rng.choice(["F", "M"], n_patients), hours)
    site = np.repeat(rng.choice(["S01", "S02"], n_patients), hours)
    risk = np.repeat(rng.normal(size=n_patients), hours)
    logit = -3.0 + 1.2 * x[:, 0] - 0.8 * x[:, 1] + 0.5 * x[:, 2] * x[:, 3] + risk
    label = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    # missing values, as the feature store leaves them for the graph's imputation
    x[rng.random(x.shape) < 0.05] = np.nan
    frame = pd.DataFrame(x, columns=[f"f{i:02d}" for i in range(n_features)])
    frame.insert(0, "patient_id", pid)
    frame["age"] = age
    frame["sex"] = sex
    frame["site"] = site
    frame["label"] = label
    return frame
