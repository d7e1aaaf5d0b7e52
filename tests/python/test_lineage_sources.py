"""A prediction's Kafka offsets -> bronze files (issue 10, `aepred lineage`): resolution by file name
(contracts/bronze.md) over a temp lake of correctly named empty files; no stack."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from pipelines.lineage import bronze_files, prediction_sources, trace


def _name(partition: int, first: int, last: int) -> str:
    return f"part-p{partition:03d}-o{first:020d}-{last:020d}.parquet"


def _lake(root: Path) -> Path:
    files = [
        ("patient-vitals", "2024-06-01", _name(0, 0, 99)),
        ("patient-vitals", "2024-06-01", _name(0, 100, 199)),
        # one micro-batch spanning midnight: the same name under two dates
        ("patient-vitals", "2024-06-01", _name(0, 200, 299)),
        ("patient-vitals", "2024-06-02", _name(0, 200, 299)),
        ("patient-vitals", "2024-06-02", _name(1, 0, 500)),
        ("patient-vitals", "2024-06-02", "." + _name(0, 300, 399) + ".tmp-123"),
        ("patient-vitals", "2024-06-02", "_" + _name(0, 300, 399)),
        ("lab-results", "2024-06-01", _name(2, 5, 9)),
    ]
    for topic, day, name in files:
        d = root / "bronze" / topic / f"date={day}"
        d.mkdir(parents=True, exist_ok=True)
        (d / name).touch()
    return root


def test_an_offset_maps_to_the_files_whose_range_holds_it(tmp_path: Path) -> None:
    lake = _lake(tmp_path)
    v = lake / "bronze" / "patient-vitals"
    assert bronze_files(lake, "patient-vitals", 0, 0) == [v / "date=2024-06-01" / _name(0, 0, 99)]
    assert bronze_files(lake, "patient-vitals", 0, 100) == [v / "date=2024-06-01" / _name(0, 100, 199)]
    assert bronze_files(lake, "patient-vitals", 0, 199) == [v / "date=2024-06-01" / _name(0, 100, 199)]
    assert bronze_files(lake, "patient-vitals", 0, 250) == [
        v / "date=2024-06-01" / _name(0, 200, 299),
        v / "date=2024-06-02" / _name(0, 200, 299),
    ]
    assert bronze_files(lake, "patient-vitals", 1, 250) == [v / "date=2024-06-02" / _name(1, 0, 500)]
    # past the last written batch (temporaries are not files), an unknown topic, a missing lake
    assert bronze_files(lake, "patient-vitals", 0, 300) == []
    assert bronze_files(lake, "medications", 0, 1) == []
    assert bronze_files(tmp_path / "nope", "patient-vitals", 0, 1) == []


def test_prediction_sources_per_topic_partition(tmp_path: Path) -> None:
    lake = _lake(tmp_path)
    got = prediction_sources(
        lake, {"patient-vitals:0": "150", "lab-results:2": "7", "patient-vitals:1": "9999"}
    )
    assert got == [
        {
            "topic": "lab-results",
            "partition": 2,
            "offset": "7",
            "files": [str(lake / "bronze/lab-results/date=2024-06-01" / _name(2, 5, 9))],
        },
        {
            "topic": "patient-vitals",
            "partition": 0,
            "offset": "150",
            "files": [str(lake / "bronze/patient-vitals/date=2024-06-01" / _name(0, 100, 199))],
        },
        {"topic": "patient-vitals", "partition": 1, "offset": "9999", "files": []},
    ]


class _Client:
    """The two MlflowClient calls trace() makes, for a run trained outside DVC."""

    def get_model_version(self, name: str, version: str) -> Any:
        return SimpleNamespace(name=name, version=version, aliases=[], source="s", tags={}, run_id="r1")

    def get_run(self, run_id: str) -> Any:
        info = SimpleNamespace(run_id=run_id, experiment_id="0", artifact_uri="a")
        return SimpleNamespace(info=info, data=SimpleNamespace(tags={"git_commit": "c0ffee"}))


def test_trace_reports_sources_and_drops_the_missing_offsets_entry(tmp_path: Path) -> None:
    lake = _lake(tmp_path)
    row: dict[str, Any] = {"model_version": "3", "payload": {"source_offsets": {"patient-vitals:0": "42"}}}
    out = trace(row, _Client(), "aepred", lake=lake)
    assert out["sources"][0]["files"] == [
        str(lake / "bronze/patient-vitals/date=2024-06-01" / _name(0, 0, 99))
    ]
    assert not any("kafka offsets of the events" in m for m in out["missing"])

    row["payload"]["source_offsets"] = {"patient-vitals:0": "1000"}
    out = trace(row, _Client(), "aepred", lake=lake)
    assert any("patient-vitals:0 offset 1000: none in" in m for m in out["missing"])

    out = trace({"model_version": "3", "payload": {}}, _Client(), "aepred", lake=lake)
    assert "sources" not in out
    assert any("kafka offsets of the events behind this prediction" in m for m in out["missing"])
