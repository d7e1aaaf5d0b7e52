"""Feature-store statistics merged over parts (one per date) equal those of the whole table."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from pipelines import feature_store
from pipelines.featureset import default_feature_set


def test_statistics_over_parts_equal_the_whole_table() -> None:
    fs = default_feature_set()
    rng = np.random.default_rng(11)
    n = 1_000
    cols: dict[str, object] = {}
    for i, f in enumerate(fs.features):
        x = rng.normal(50 + i, 1 + i % 7, n)
        x[rng.random(n) < (i % 5) / 10] = np.nan  # 0-40 % missing
        if i % 17 == 0:
            x[:] = np.nan  # never observed: statistics are null, missing 100 %
        cols[f.name] = x
    table = pa.table(cols)
    whole = feature_store.statistics(table, fs)
    acc = feature_store.StatisticsAccumulator(fs)
    for lo, hi in [(0, 1), (1, 250), (250, 251), (251, 700), (700, n)]:
        acc.add(table.slice(lo, hi - lo))
    merged = acc.result()
    assert acc.rows == n
    for f in fs.features:
        for key, want in whole[f.name].items():
            got = merged[f.name][key]
            if want is None:
                assert got is None, (f.name, key, got)
            else:
                assert got is not None and math.isclose(got, want, rel_tol=1e-10), (f.name, key, got, want)
    assert merged[fs.features[0].name]["missing_pct"] == 100.0
