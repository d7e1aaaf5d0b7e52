"""contracts/features.yaml: the one feature definition, loaded strictly, and its feature-set hash.

The hash is what ties a model to the definition it was trained on (ONNX metadata, MLflow tag); the
TypeScript side recomputes it, so the canonical serialization below is specified in
docs/features.md#hash and must not change without changing that document.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ml.paths import REPO_ROOT

FEATURES_PATH = REPO_ROOT / "contracts" / "features.yaml"

Op = Literal[
    "mean",
    "std",
    "var",
    "min",
    "max",
    "slope",
    "count",
    "last",
    "delta_from_baseline",
    "rate_of_change",
    "missing_flag",
    "instability_score",
    "interaction_count",
    "interaction_flag",
    "active_count",
    "static",
    "days_since",
]
Source = Literal["vitals", "labs", "medications", "adverse_events", "enrollment", "derived"]
Dtype = Literal["float64", "int32"]

_DURATION = re.compile(r"^([1-9][0-9]*)([mhd])$")
_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}
# Windows that are not durations: "ffill" = settings.ffill_limit, "all" = the whole history,
# "active" = medications active at t, "none" = not windowed (enrollment context).
_SYMBOLIC_WINDOWS = {"ffill", "all", "active", "none"}


def duration_ms(text: str) -> int:
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"not a duration: {text!r} (expected e.g. 90m, 6h, 3d)")
    return int(m.group(1)) * _UNIT_MS[m.group(2)]


class Feature(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    dtype: Dtype
    source: Source
    signal: str = Field(min_length=1)
    op: Op
    window: str
    unit: str = Field(min_length=1)
    description: str = Field(min_length=1)

    @field_validator("window")
    @classmethod
    def _window(cls, v: str) -> str:
        if v not in _SYMBOLIC_WINDOWS:
            duration_ms(v)
        return v


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ffill_limit: str
    baseline_window: str
    clock_unit: Literal["h"]
    dose_active_window: str
    instability_signals: tuple[str, ...]

    @field_validator("ffill_limit", "baseline_window", "dose_active_window")
    @classmethod
    def _dur(cls, v: str) -> str:
        duration_ms(v)
        return v


class FeatureSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=1)
    settings: Settings
    features: tuple[Feature, ...]

    @model_validator(mode="after")
    def _unique(self) -> FeatureSet:
        names = [f.name for f in self.features]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"feature names declared twice: {dupes}")
        return self

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    def window_ms(self, f: Feature) -> int | None:
        """The look-back of a duration window in ms; None for symbolic windows other than ffill."""
        if f.window == "ffill":
            return duration_ms(self.settings.ffill_limit)
        if f.window in _SYMBOLIC_WINDOWS:
            return None
        return duration_ms(f.window)

    def canonical_payload(self) -> dict[str, Any]:
        # Descriptions are documentation: rewording one must not invalidate trained models.
        return {
            "version": self.version,
            "settings": self.settings.model_dump(),
            "features": [f.model_dump(exclude={"description"}) for f in self.features],
        }

    def canonical_bytes(self) -> bytes:
        return canonical_json(self.canonical_payload())

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.canonical_bytes()).hexdigest()


def canonical_json(value: Any) -> bytes:
    """JSON with sorted keys, no whitespace, UTF-8, no floats (the payload holds none by design).

    Equivalent to a JS serializer that sorts object keys recursively and calls JSON.stringify without
    spacing; floats are refused because the two languages format them differently.
    """

    def check(v: Any) -> None:
        if isinstance(v, float):
            raise TypeError(f"floats are not allowed in the canonical feature payload: {v!r}")
        if isinstance(v, dict):
            for x in v.values():
                check(x)
        elif isinstance(v, list | tuple):
            for x in v:
                check(x)

    check(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def load_feature_set(path: Path | None = None) -> FeatureSet:
    raw = yaml.safe_load((path or FEATURES_PATH).read_text())
    return FeatureSet.model_validate(raw)


@cache
def default_feature_set() -> FeatureSet:
    return load_feature_set()
