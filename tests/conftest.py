"""Fixtures shared by the whole suite.

`spark` is a plain local session for transform unit tests (no Hive, no HDFS, UI off).
Tests that need real services take the fixtures in tests/stack_fixtures.py, which start the
embedded stack's services on free ports in a temporary folder.
"""

from __future__ import annotations

import pytest

# Registered here, once: a session fixture imported into two folders' conftest files would
# be two fixtures, and the pipeline would run twice.
pytest_plugins = ["tests.stack_fixtures", "tests.dags.pipeline_fixtures"]


@pytest.fixture(scope="session")
def spark():
    from pyspark.sql import SparkSession

    from adplatform.settings import REPO_ROOT

    # from_avro lives in the spark-avro jar that `make setup` fetches (jvm/spark/pom.xml).
    avro_jars = ",".join(str(p) for p in (REPO_ROOT / ".jars" / "spark").glob("spark-avro_*.jar"))
    session = (
        SparkSession.builder.master("local[2]")
        .appName("adplatform-unit-tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "1g")
        .config("spark.jars", avro_jars)
        .getOrCreate()
    )
    yield session
    session.stop()
