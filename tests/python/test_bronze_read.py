"""Bronze written by the TypeScript ingester is read by pyarrow and by Spark: same rows, same types.

The bronze files are produced by `aepred`'s own encoder (src/ingest/bronze-file.ts, the code the
ingester runs) through a small tsx script, so the test needs Node but no running service.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from ml.paths import REPO_ROOT

SCRIPT = r"""
import { LocalFsLake } from '@ROOT@/src/lake/local-fs.ts';
import { encodeBronzeFile } from '@ROOT@/src/ingest/bronze-file.ts';
import { bronzeKey } from '@ROOT@/src/ingest/naming.ts';
const lake = new LocalFsLake(process.argv[2]);
const rows = [0, 1, 2, 3].map((i) => ({
  msg: {
    event_id: `00000000-0000-4000-8000-00000000000${i}`, correlation_id: `c${i}`, schema_version: '1.0',
    patient_id: `P${i}`, source: 'sim:lab', timestamp: `2026-01-0${1 + (i % 2)}T10:00:00.${i}00Z`,
    test_name: 'ALT', value: 10.5 + i, unit: 'U/L',
    reference_range: { low: i === 1 ? null : 7, high: 56 }, lab_id: 'LAB1',
    ...(i === 2 ? { timestamp_imputed: true, date_imputation: 'time' } : {}),
  },
  partition: 2, offset: BigInt(100 + i), kafkaTimestamp: 1767261600000 + i, key: `P${i}`,
}));
const batch = { topic: 'lab-results' as const, partition: 2, firstOffset: 100n, lastOffset: 103n };
for (const day of ['2026-01-01', '2026-01-02']) {
  const part = rows.filter((r) => String(r.msg.timestamp).startsWith(day));
  const body = encodeBronzeFile({ ...batch, ingestedAt: 1767300000000 }, part);
  await lake.put(bronzeKey({ ...batch, date: day }), body);
}
"""


def _write_bronze(lake: Path) -> Path:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    script = lake.parent / "bronze_fixture.mts"
    script.write_text(SCRIPT.replace("@ROOT@", str(REPO_ROOT)))
    subprocess.run(
        ["npx", "tsx", str(script), str(lake)], cwd=REPO_ROOT, check=True, capture_output=True, timeout=120
    )
    return lake / "bronze" / "lab-results"


EXPECTED_TYPES = {
    "event_id": pa.string(),
    "timestamp": pa.timestamp("ms", tz="UTC"),
    "reported_at": pa.timestamp("ms", tz="UTC"),
    "value": pa.float64(),
    "reference_range_low": pa.float64(),
    "timestamp_imputed": pa.bool_(),
    "_kafka_partition": pa.int32(),
    "_kafka_offset": pa.int64(),
    "_kafka_timestamp": pa.timestamp("ms", tz="UTC"),
    "_ingested_at": pa.timestamp("ms", tz="UTC"),
}


def test_pyarrow_reads_bronze_with_contract_types(tmp_path: Path) -> None:
    root = _write_bronze(tmp_path / "lake")
    table = ds.dataset(root, format="parquet", partitioning="hive").to_table()
    assert table.num_rows == 4
    for name, typ in EXPECTED_TYPES.items():
        assert table.schema.field(name).type == typ, name
    assert not table.schema.field("event_id").nullable
    assert table.schema.field("trial_id").nullable
    rows = sorted(table.to_pylist(), key=lambda r: r["_kafka_offset"])
    assert [r["_kafka_offset"] for r in rows] == [100, 101, 102, 103]
    assert rows[1]["reference_range_low"] is None and rows[0]["reference_range_low"] == 7.0
    assert rows[2]["timestamp_imputed"] is True and rows[0]["timestamp_imputed"] is None
    assert rows[3]["timestamp"].isoformat() == "2026-01-02T10:00:00.300000+00:00"
    assert {r["date"] for r in rows} == {"2026-01-01", "2026-01-02"}
    meta = ds.dataset(root, format="parquet").files
    assert all("part-p002-o00000000000000000100-00000000000000000103" in f for f in meta)


def test_spark_reads_the_same_rows_and_types(tmp_path: Path) -> None:
    pyspark_sql = pytest.importorskip("pyspark.sql")
    root = _write_bronze(tmp_path / "lake")
    spark = (
        pyspark_sql.SparkSession.builder.master("local[1]")
        .appName("bronze-read")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    try:
        df = spark.read.parquet(str(root))
        types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
        assert types["timestamp"] == "timestamp"
        assert types["_kafka_offset"] == "bigint"
        assert types["_kafka_partition"] == "int"
        assert types["value"] == "double"
        assert types["timestamp_imputed"] == "boolean"
        assert types["date"] in {"date", "string"}
        got = sorted(
            (r[0], r[1], r[2], r[3], r[4])
            for r in df.selectExpr(
                "_kafka_offset", "event_id", "value", "unix_millis(timestamp)", "reference_range_low"
            ).collect()
        )
        arrow = ds.dataset(root, format="parquet", partitioning="hive").to_table()
        millis = arrow.column("timestamp").cast(pa.int64()).to_pylist()
        want = sorted(
            (r["_kafka_offset"], r["event_id"], r["value"], ms, r["reference_range_low"])
            for r, ms in zip(arrow.to_pylist(), millis, strict=True)
        )
        assert got == want
        assert df.count() == arrow.num_rows
    finally:
        spark.stop()
