"""`aepred lineage --lake s3://...` (issue 8): a prediction's Kafka offsets resolved to bronze objects on
the stack's MinIO, listed with the ingester's S3 settings (ops/local/stack.yaml). Correctly named empty
objects under a prefix unique to this run, removed afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelines.lineage import LineageError, as_lake, bronze_files, prediction_sources, stack_s3_client

BUCKET = "lake"  # src/stack/s3-buckets.ts LAKE_BUCKET, created by `aepred stack up`


def _name(partition: int, first: int, last: int) -> str:
    return f"part-p{partition:03d}-o{first:020d}-{last:020d}.parquet"


def test_lake_argument_keeps_s3_uris_and_makes_paths_local() -> None:
    assert as_lake("s3://lake/x") == "s3://lake/x"
    assert as_lake("s3a://lake") == "s3a://lake"
    assert as_lake("data/lake") == Path("data/lake")
    with pytest.raises(LineageError, match="no bucket"):
        bronze_files("s3://", "patient-vitals", 0, 1, s3=object())


@pytest.fixture
def s3_lake() -> Iterator[tuple[Any, str]]:
    client = stack_s3_client()
    prefix = f"test-lineage-{uuid.uuid4().hex[:12]}"
    keys = [
        f"{prefix}/bronze/patient-vitals/date=2024-06-01/{_name(0, 0, 99)}",
        f"{prefix}/bronze/patient-vitals/date=2024-06-01/{_name(0, 100, 199)}",
        # one micro-batch spanning midnight: the same name under two dates
        f"{prefix}/bronze/patient-vitals/date=2024-06-01/{_name(0, 200, 299)}",
        f"{prefix}/bronze/patient-vitals/date=2024-06-02/{_name(0, 200, 299)}",
        f"{prefix}/bronze/patient-vitals/date=2024-06-02/_{_name(0, 300, 399)}",
        f"{prefix}/bronze/lab-results/date=2024-06-01/{_name(2, 5, 9)}",
    ]
    for k in keys:
        client.put_object(Bucket=BUCKET, Key=k, Body=b"")
    try:
        yield client, prefix
    finally:
        client.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in keys]})


@pytest.mark.integration
def test_offsets_resolve_to_objects_on_the_stack_minio(s3_lake: tuple[Any, str]) -> None:
    _client, prefix = s3_lake
    lake = f"s3://{BUCKET}/{prefix}"
    v = f"{lake}/bronze/patient-vitals"
    # the default client is the stack's (stack.yaml endpoint and credentials), as the CLI uses it
    assert bronze_files(lake, "patient-vitals", 0, 150) == [f"{v}/date=2024-06-01/{_name(0, 100, 199)}"]
    assert bronze_files(lake, "patient-vitals", 0, 250) == [
        f"{v}/date=2024-06-01/{_name(0, 200, 299)}",
        f"{v}/date=2024-06-02/{_name(0, 200, 299)}",
    ]
    assert bronze_files(lake, "patient-vitals", 0, 350) == []  # only an in-flight temporary holds it
    assert bronze_files(f"s3a://{BUCKET}/{prefix}/", "lab-results", 2, 7) == [
        f"{lake}/bronze/lab-results/date=2024-06-01/{_name(2, 5, 9)}"
    ]
    assert prediction_sources(lake, {"patient-vitals:0": "42", "medications:1": "3"}) == [
        {"topic": "medications", "partition": 1, "offset": "3", "files": []},
        {
            "topic": "patient-vitals",
            "partition": 0,
            "offset": "42",
            "files": [f"{v}/date=2024-06-01/{_name(0, 0, 99)}"],
        },
    ]
