"""Local lake retention (issue 10): partitions past raw_days and model folders past models_days are
deleted, the boundary is kept, --dry-run deletes nothing, and nothing that is not a date partition is
touched. The clock is injected."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ml.params import Retention, load_params
from pipelines import retention

NOW = datetime(2031, 6, 15, 12, 0, tzinfo=UTC)


def _part(lake: Path, prefix: str, d: str) -> Path:
    p = lake / prefix / f"date={d}"
    p.mkdir(parents=True)
    (p / "part-0.parquet").write_bytes(b"x" * 100)
    return p


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    lake = tmp_path / "lake"
    r = load_params().retention
    cutoff = (NOW - timedelta(days=r.raw_days)).date()
    _part(lake, "bronze/patient-vitals", (cutoff - timedelta(days=1)).isoformat())  # expired
    _part(lake, "bronze/patient-vitals", cutoff.isoformat())  # exactly 7 years: kept
    _part(lake, "bronze/lab-results", "2020-01-01")  # expired
    p = lake / "silver" / "patient-vitals" / "date=2019-03-01" / "trial_site_id=T__S01"
    p.mkdir(parents=True)
    (p / "part-0.parquet").write_bytes(b"y" * 10)
    _part(lake, "features/abcd", "2031-06-01")  # recent: kept
    (lake / "enrollment").mkdir()
    (lake / "enrollment" / "enrollment.ndjson").write_text("{}\n")  # not partitioned: never touched
    models = tmp_path / "models"
    for name, age_days in (("model_v1", 800), ("model_v2", 100)):
        m = models / name / "model"
        m.mkdir(parents=True)
        f = m / "model.onnx"
        f.write_bytes(b"onnx")
        t = (NOW - timedelta(days=age_days)).timestamp()
        os.utime(f, (t, t))
    return lake


def test_policy_is_seven_and_two_years() -> None:
    r = load_params().retention
    assert r.raw_days == 7 * 365 + 2
    assert r.models_days == 2 * 365


def test_cleanup_deletes_only_what_is_past_retention(lake: Path) -> None:
    r = load_params().retention
    models = lake.parent / "models"
    dry = retention.cleanup(lake, NOW, r, models=models, dry_run=True)
    assert len(dry.deleted) == 4
    assert all(Path(d).exists() for d in dry.deleted)

    rep = retention.cleanup(lake, NOW, r, models=models)
    assert sorted(Path(d).relative_to(lake.parent).as_posix() for d in rep.deleted) == sorted(
        [
            f"lake/bronze/patient-vitals/date={(NOW - timedelta(days=r.raw_days + 1)).date()}",
            "lake/bronze/lab-results/date=2020-01-01",
            "lake/silver/patient-vitals/date=2019-03-01",
            "models/model_v1",
        ]
    )
    assert rep.bytes_freed == 100 + 100 + 10 + 4
    assert not any(Path(d).exists() for d in rep.deleted)
    assert (lake / "bronze/patient-vitals" / f"date={(NOW - timedelta(days=r.raw_days)).date()}").is_dir()
    assert (lake / "features/abcd/date=2031-06-01").is_dir()
    assert (lake / "enrollment/enrollment.ndjson").is_file()
    assert (models / "model_v2" / "model" / "model.onnx").is_file()
    # A second pass finds nothing more.
    assert retention.cleanup(lake, NOW, r, models=models).deleted == []


def test_cli_cleanup_with_injected_clock(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert retention.main(["cleanup", "--lake", str(lake), "--now", NOW.isoformat(), "--dry-run"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dry_run"] is True and len(out["deleted"]) == 3
    assert out["raw_cutoff"] == (NOW - timedelta(days=load_params().retention.raw_days)).date().isoformat()


def test_lifecycle_rules_cover_raw_and_models() -> None:
    cfg = retention.lifecycle_configuration(Retention(raw_days=2557, models_days=730))
    by_prefix = {r["Filter"]["Prefix"]: r["Expiration"]["Days"] for r in cfg["Rules"]}
    assert by_prefix["bronze/"] == by_prefix["silver/"] == by_prefix["dlq/"] == 2557
    assert by_prefix["models/"] == 730
    assert len({r["ID"] for r in cfg["Rules"]}) == len(cfg["Rules"])
    models = retention.lifecycle_configuration(Retention(raw_days=2557, models_days=730), models_bucket=True)
    assert [(r["Filter"]["Prefix"], r["Expiration"]["Days"]) for r in models["Rules"]] == [("", 730)]
