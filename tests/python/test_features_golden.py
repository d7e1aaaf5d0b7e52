"""The Python ops against the hand-computed golden vectors the TypeScript actors also check."""

from __future__ import annotations

import pytest

from pipelines.featureset import default_feature_set
from pipelines.golden import check_vector, load_vectors

VECTORS = load_vectors()


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_golden_vector(vector: dict[str, object]) -> None:
    assert check_vector(default_feature_set(), vector) == []  # type: ignore[arg-type]


def test_vectors_cover_every_op_and_name_real_features() -> None:
    fs = default_feature_set()
    by_name = {f.name: f for f in fs.features}
    covered = set()
    for v in VECTORS:
        for snap in v["snapshots"]:
            for name in snap["expected"]:
                assert name in by_name, f"{v['name']} names unknown feature {name}"
                covered.add(by_name[name].op)
    assert covered == {f.op for f in fs.features}
    assert any("label" in s for v in VECTORS for s in v["snapshots"])


def test_edge_cases_are_present() -> None:
    names = {v["name"] for v in VECTORS}
    assert {"empty_window", "single_point", "ties", "gap_forward_fill_limit", "out_of_order_arrival"} <= names
    assert "report_time_vs_event_time" in names
