"""One place that builds the SparkSession, so every job runs the same on local[*] and on a cluster."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# The PostgreSQL JDBC driver for the enrollment table; fetched once from Maven Central into ~/.ivy2.
POSTGRES_JDBC = "org.postgresql:postgresql:42.7.4"
# hadoop-aws must match the Hadoop client bundled with pyspark 4.x (3.4.x).
HADOOP_AWS = "org.apache.hadoop:hadoop-aws:3.4.1"


def build_session(
    master: str | None = None,
    *,
    app: str = "aepred",
    shuffle_partitions: int | None = None,
    jdbc: bool = False,
    s3a: bool = False,
) -> SparkSession:
    import sys

    from pyspark.sql import SparkSession

    # Local workers must run this interpreter (the venv with numpy/pandas), not the system python;
    # a cluster sets PYSPARK_PYTHON itself.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # Local mode talks only to itself: bind the driver to loopback rather than the first interface.
    local = (master or os.environ.get("AEPRED_SPARK_MASTER", "local[*]")).startswith("local")
    if local:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    b = (
        SparkSession.builder.master(master or os.environ.get("AEPRED_SPARK_MASTER", "local[*]"))
        .appName(app)
        # Event times are UTC instants; a UTC session makes date partitions and printing agree.
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        # Console progress bars flood logs and CI output; stage progress is not a user-facing signal.
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        # Re-running a window rewrites only the date/site partitions it produced (idempotent reruns).
        .config("spark.sql.sources.partitionOverwriteMode", "dynamic")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions or (os.cpu_count() or 2) * 2))
        .config("spark.driver.memory", os.environ.get("AEPRED_SPARK_DRIVER_MEMORY", "6g"))
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MILLIS")
    )
    packages = []
    if jdbc:
        packages.append(POSTGRES_JDBC)
    if s3a:
        packages.append(HADOOP_AWS)
        endpoint = os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:59000")
        b = (
            b.config("spark.hadoop.fs.s3a.endpoint", endpoint)
            .config("spark.hadoop.fs.s3a.path.style.access", "true")
            .config("spark.hadoop.fs.s3a.connection.ssl.enabled", str(endpoint.startswith("https")).lower())
            .config(
                "spark.hadoop.fs.s3a.aws.credentials.provider",
                "software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider",
            )
        )
    if local:
        b = b.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
    if packages:
        b = b.config("spark.jars.packages", ",".join(packages))
    return b.getOrCreate()
