"""One SparkSession for the whole pytest run: local[2], few shuffle partitions, no UI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pyspark.sql import SparkSession

from pipelines.spark import build_session


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    session = build_session("local[2]", app="aepred-tests", shuffle_partitions=4)
    yield session
    session.stop()
