"""ml/drift_reference.py writes what src/monitoring/drift.ts reads: the TypeScript zod schema parses it,
and TypeScript's reference implementation (`buildFeatureReference`) bins the same sample into the
same edges and proportions. The TypeScript side runs through tsx, so the test needs Node only."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ml.data import DataError
from ml.drift_reference import (
    feature_reference,
    monitored,
    read_sites,
    segment_references,
    training_reference,
    training_split,
)
from ml.params import load_params
from ml.paths import REPO_ROOT

TS = """
import {{ readFileSync }} from 'node:fs';
import {{ TrainingReferenceSchema, buildFeatureReference, binOf }} from '{drift}';
const doc = TrainingReferenceSchema.parse(JSON.parse(readFileSync(process.argv[2], 'utf8')));
const raw = JSON.parse(readFileSync(process.argv[3], 'utf8'));
const rebuilt = Object.entries(raw.columns).map(([name, values]) =>
  buildFeatureReference(name, values, raw.bins));
const probes = raw.probes.map((v) => doc.features.map((f) => binOf(f.edges, v)));
process.stdout.write(JSON.stringify({{ parsed: doc, rebuilt, probes }}));
"""


def _sample() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 997  # not a multiple of the bin count: floor(k*n/bins) is exercised
    cont = rng.normal(80, 12, n)
    cont[rng.random(n) < 0.07] = np.nan
    discrete = rng.integers(0, 4, n).astype(float)  # few distinct values: one edge per value
    ties = np.round(rng.gamma(2.0, 1.5, n), 1)  # many ties between quantiles
    skewed = np.concatenate([np.zeros(n - 40), rng.exponential(5, 40)])  # mostly one value
    return pd.DataFrame(
        {
            "patient_id": [f"P{i % 50:03d}" for i in range(n)],
            "label": (rng.random(n) < 0.2).astype(int),
            "hr_mean_6h": cont,
            "flag": discrete,
            "lab": ties,
            "rare": skewed,
            "empty": np.full(n, np.nan),
        }
    )


def test_python_and_typescript_bin_the_same(tmp_path: Path) -> None:
    frame = _sample()
    names = ["hr_mean_6h", "flag", "lab", "rare", "empty"]
    doc, empty = training_reference(frame, names, "abc123", bins=100)
    assert empty == ["empty"]
    ref_path = tmp_path / "drift_reference.json"
    ref_path.write_text(json.dumps(doc, allow_nan=False))
    cols = {n: [None if np.isnan(v) else float(v) for v in frame[n]] for n in names[:-1]}
    probes = [-1e9, 0.0, 1.0, 3.0, 80.0, float(np.nanmax(frame["hr_mean_6h"])), 1e9]
    raw_path = tmp_path / "raw.json"
    raw_path.write_text(json.dumps({"columns": cols, "bins": 100, "probes": probes}))
    script = tmp_path / "check.mts"
    script.write_text(TS.format(drift=(REPO_ROOT / "src" / "monitoring" / "drift.ts").as_posix()))
    out = subprocess.run(
        ["npx", "tsx", str(script), str(ref_path), str(raw_path)],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=180,
    )
    ts = json.loads(out.stdout)
    # zod parsed it (strict: no unknown key) and nothing changed in the round trip
    assert ts["parsed"] == doc
    for py, js in zip(doc["features"], ts["rebuilt"], strict=True):
        assert py["name"] == js["name"]
        assert py["edges"] == js["edges"]  # exact: same quantile picks
        assert py["min"] == js["min"] and py["max"] == js["max"]
        assert py["missing_rate"] == pytest.approx(js["missing_rate"], abs=1e-15)
        assert py["proportions"] == pytest.approx(js["proportions"], abs=1e-15)
    for v, bins_ts in zip(probes, ts["probes"], strict=True):
        bins_py = [int(np.searchsorted(np.asarray(f["edges"]), v, side="left")) for f in doc["features"]]
        assert bins_py == bins_ts


def test_reference_shape() -> None:
    v = np.array([1.0, 1.0, 2.0, 3.0, np.nan])
    ref = feature_reference("x", v, bins=4)
    assert ref is not None
    # quantiles at k/4 of [1, 1, 2, 3]: sorted[1]=1, sorted[2]=2, sorted[3]=3; max 3 already last
    assert ref["edges"] == [1.0, 2.0, 3.0]
    assert ref["proportions"] == [0.5, 0.25, 0.25, 0.0]  # nothing above the training max
    assert ref["missing_rate"] == 0.2
    assert feature_reference("none", np.array([np.nan, np.nan])) is None


def test_training_split_is_the_recipes() -> None:
    from ml.data import split_by_patient

    frame = _sample()
    params = load_params()
    sp = params.training.split
    expected = split_by_patient(
        frame["patient_id"].to_numpy(), frame["label"].to_numpy(), (sp.train, sp.val, sp.test), 9
    )
    got = training_split(frame, params, 9)
    assert len(got) == int(expected.train.sum())
    assert set(got["patient_id"]) == set(frame["patient_id"][expected.train])


def _site_frame() -> tuple[pd.DataFrame, dict[str, str]]:
    rng = np.random.default_rng(3)
    rows = []
    sites: dict[str, str] = {}
    for site, n, shift in (("A", 12, 0.0), ("B", 11, 5.0), ("C", 3, 0.0)):
        for i in range(n):
            pid = f"T-{site}-{i:03d}"
            sites[pid] = site
            for h in range(4):
                rows.append({"patient_id": pid, "hr": 70 + shift + rng.normal(), "days_since_enrollment": h})
    return pd.DataFrame(rows), sites


def test_monitored_drops_the_excluded_patterns() -> None:
    names = ["hr_mean_24h", "days_since_enrollment", "alt_delta_baseline", "hr_count_24h", "alt_last"]
    got = monitored(names, ("days_since_enrollment", "*_delta_baseline", "*_count_*"))
    assert got == ["hr_mean_24h", "alt_last"]


def test_segment_references_per_site_from_every_patient() -> None:
    frame, sites = _site_frame()
    doc, left_out = segment_references(frame, ["hr"], sites, min_patients=10, bins=10)
    assert doc["by"] == "site_id"
    assert [g["key"] for g in doc["groups"]] == ["A", "B"]
    assert left_out == ["C (3 patients)"]
    a, b = doc["groups"]
    assert (a["patients"], a["rows"], b["patients"], b["rows"]) == (12, 48, 11, 44)
    # each site's reference is that site's distribution: B reads 5 higher than A
    assert b["features"][0]["min"] > a["features"][0]["max"] - 1
    assert abs(sum(a["features"][0]["proportions"]) - 1) < 1e-9


def test_segment_references_refuse_rows_without_a_site() -> None:
    frame, sites = _site_frame()
    del sites["T-A-000"]
    with pytest.raises(DataError, match=r"no site in the enrollment table \(e.g. \['T-A-000'\]\)"):
        segment_references(frame, ["hr"], sites, min_patients=1)


def test_read_sites_from_the_lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AEPRED_ENROLLMENT_JDBC_URL", raising=False)
    (tmp_path / "enrollment").mkdir()
    f = tmp_path / "enrollment" / "enrollment.ndjson"
    f.write_text('{"patient_id": "P1", "site_id": "S01"}\n\n{"patient_id": "P2", "site_id": "S02"}\n')
    assert read_sites(tmp_path) == {"P1": "S01", "P2": "S02"}
    f.write_text('{"patient_id": "P1", "site_id": "S01"}\n{"patient_id": "P2"}\n')
    with pytest.raises(DataError, match=r"enrollment.ndjson:2: not an enrollment row"):
        read_sites(tmp_path)
    with pytest.raises(DataError, match="no enrollment files"):
        read_sites(tmp_path / "elsewhere")
