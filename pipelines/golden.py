"""Golden vectors (contracts/golden/*.json): tiny event histories with hand-computed feature values.

The same files are read by the TypeScript actor tests; the format is described in
docs/features.md#golden-vectors. This module turns one into a `Patient` and checks the ops against it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ml.paths import REPO_ROOT
from pipelines.featureset import FeatureSet
from pipelines.ops import HOUR_MS, Interaction, MedEvent, Patient, Series, compute, labels

GOLDEN_DIR = REPO_ROOT / "contracts" / "golden"
# Hand-computed values are exact decimals; 1e-9 absorbs the last-bit differences of float summation order.
TOLERANCE = 1e-9


def iso_ms(text: str) -> int:
    return int(np.datetime64(text.removesuffix("Z"), "ms").astype(np.int64))


def load_vectors(directory: Path = GOLDEN_DIR) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))]


def to_patient(vector: dict[str, Any]) -> Patient:
    vit: dict[str, tuple[list[int], list[float]]] = {}
    lab: dict[str, tuple[list[int], list[int], list[float]]] = {}
    meds: list[MedEvent] = []
    ae_e: list[int] = []
    ae_r: list[int] = []
    ae_t: list[str] = []
    for ev in vector["events"]:
        t = iso_ms(ev["time"])
        if ev["kind"] == "vital":
            e, v = vit.setdefault(ev["signal"], ([], []))
            e.append(t)
            v.append(float(ev["value"]))
        elif ev["kind"] == "lab":
            e, a, v = lab.setdefault(ev["signal"], ([], [], []))
            e.append(t)
            a.append(iso_ms(ev["arrival"]))
            v.append(float(ev["value"]))
        elif ev["kind"] == "medication":
            end = iso_ms(ev["end"]) if ev.get("end") else None
            meds.append(MedEvent(t, ev["drug"].lower(), ev["action"], end))
        elif ev["kind"] == "adverse_event":
            ae_e.append(t)
            ae_r.append(iso_ms(ev["arrival"]))
            ae_t.append(ev["event_type"])
        else:
            raise ValueError(f"unknown event kind {ev['kind']!r}")
    return Patient(
        patient_id=vector["patient"]["patient_id"],
        vitals={k: Series.build(e, e, v) for k, (e, v) in vit.items()},
        labs={k: Series.build(e, a, v) for k, (e, a, v) in lab.items()},
        meds=tuple(meds),
        ae_event=np.asarray(ae_e, dtype=np.int64),
        ae_report=np.asarray(ae_r, dtype=np.int64),
        ae_type=tuple(ae_t),
        context=vector["patient"],
    )


@dataclass(frozen=True)
class Mismatch:
    vector: str
    t: str
    name: str
    expected: float | None
    got: float | None


def check_vector(fs: FeatureSet, vector: dict[str, Any]) -> list[Mismatch]:
    patient = to_patient(vector)
    snaps = [iso_ms(s["t"]) for s in vector["snapshots"]]
    interactions = tuple(
        Interaction(frozenset(d.lower() for d in ix["drugs"]), ix["flag"]) for ix in vector["interactions"]
    )
    values = compute(fs, patient, snaps, interactions)
    horizon = int(vector["horizon_hours"] * HOUR_MS)
    last_obs = max(snaps) + horizon  # goldens treat the horizon as observed
    label, _ = labels(patient, snaps, horizon, last_obs)
    bad: list[Mismatch] = []
    for i, snap in enumerate(vector["snapshots"]):
        expected = dict(snap["expected"])
        if "label" in snap:
            expected["__label__"] = snap["label"]
        for name, want in expected.items():
            got_raw = float(label[i]) if name == "__label__" else float(values[name][i])
            got = None if math.isnan(got_raw) else got_raw
            ok = (want is None and got is None) or (
                want is not None and got is not None and math.isclose(got, want, rel_tol=0, abs_tol=TOLERANCE)
            )
            if not ok:
                bad.append(Mismatch(vector["name"], snap["t"], name, want, got))
    return bad
