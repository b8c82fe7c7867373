"""Replacing partitions is atomic for readers (issue 20): each write puts a partition's files
in a new version folder and swaps the metastore location; a write that fails midway leaves
the old rows in place; the version a reader may still read is kept one write, then deleted
with older ones, legacy files and the orphans of killed writes."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from urllib.parse import urlparse

import pytest
from pyspark.sql import functions as F

from spark_jobs.common.tables import overwrite_partition, overwrite_partitions

TABLE = "adtech.versioned_probe"
D = date(2025, 3, 1)


@pytest.fixture
def probe(spark, adtech):
    spark.sql(
        f"CREATE TABLE {TABLE} (n INT, dt DATE, campaign_id STRING) "
        "USING parquet PARTITIONED BY (dt, campaign_id)"
    )
    yield TABLE
    spark.sql(f"DROP TABLE IF EXISTS {TABLE}")


def _rows(spark, ns: list[int], campaign: str = "c-1"):
    return spark.createDataFrame(
        [(n, D, campaign) for n in ns], "n int, dt date, campaign_id string"
    )


def _location(spark, campaign: str = "c-1") -> Path:
    rows = spark.sql(
        f"DESCRIBE FORMATTED {TABLE} PARTITION (dt = '{D}', campaign_id = '{campaign}')"
    ).collect()
    return Path(urlparse(next(r.data_type for r in rows if r.col_name == "Location")).path)


def _table_root(spark) -> Path:
    rows = spark.sql(f"DESCRIBE TABLE EXTENDED {TABLE}").collect()
    return Path(urlparse(next(r.data_type for r in rows if r.col_name == "Location")).path)


def _versions(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.name.startswith("_v=")}


def test_each_write_is_a_new_version_and_one_previous_is_kept(spark, probe):
    spec = {"dt": D, "campaign_id": "c-1"}
    # A partition of the layout before versioning: files in the partition folder itself.
    spark.sql(f"INSERT INTO {TABLE} PARTITION (dt = '{D}', campaign_id = 'c-1') VALUES (0)")
    legacy = _location(spark)
    assert legacy.name == "campaign_id=c-1"

    assert overwrite_partition(_rows(spark, [1, 2, 3]), TABLE, spec) == 3
    first = _location(spark)
    assert first.parent == legacy and first.name.startswith("_v=")
    assert list(legacy.glob("*.parquet")), "the replaced legacy files stay for one write"

    # A killed write's orphan: a half-written version.
    (legacy / "_v=killed").mkdir()
    (legacy / "_v=killed" / "part-00000-x.c000.snappy.parquet").write_bytes(b"PAR1")

    assert overwrite_partition(_rows(spark, [4, 5]), TABLE, spec) == 2
    second = _location(spark)
    assert second.parent == legacy and second != first
    assert _versions(legacy) == {first.name, second.name}, "the orphan is deleted"
    assert not list(legacy.glob("*.parquet")), "legacy files go once nothing reads them"

    assert overwrite_partition(_rows(spark, [6]), TABLE, spec) == 1
    third = _location(spark)
    assert _versions(legacy) == {second.name, third.name}
    assert sorted(r.n for r in spark.table(TABLE).collect()) == [6]

    # An empty rewrite of a full spec leaves the partition present and empty.
    assert overwrite_partition(_rows(spark, []), TABLE, spec) == 0
    assert [r[0] for r in spark.sql(f"SHOW PARTITIONS {TABLE}").collect()] == [
        f"dt={D}/campaign_id=c-1"
    ]


def test_a_write_that_fails_midway_leaves_the_old_rows(spark, probe):
    spec = {"dt": D, "campaign_id": "c-1"}
    assert overwrite_partition(_rows(spark, [1, 2, 3]), TABLE, spec) == 3
    before = _location(spark)
    failing = _rows(spark, [7, 8, 9]).withColumn(
        "n", F.when(F.col("n") == 9, F.raise_error(F.lit("killed midway"))).otherwise(F.col("n"))
    )
    with pytest.raises(Exception, match="killed midway"):
        overwrite_partition(failing, TABLE, spec)
    assert _location(spark) == before
    assert sorted(r.n for r in spark.table(TABLE).collect()) == [1, 2, 3]
    staging = _table_root(spark) / "_staging"
    assert list(staging.iterdir()), "the failed try's staged files are left behind"
    # The rerun completes, its rows replace the old ones, and the orphan is gone.
    assert overwrite_partition(_rows(spark, [7, 8]), TABLE, spec) == 2
    assert sorted(r.n for r in spark.table(TABLE).collect()) == [7, 8]
    assert list(staging.iterdir()) == []


def test_dropped_partition_keeps_its_files_for_one_write(spark, probe):
    both = _rows(spark, [1, 2]).unionByName(_rows(spark, [3], "c-2"))
    present = {(str(D), "c-1"), (str(D), "c-2")}
    assert overwrite_partitions(both, TABLE, {"dt": [D]}, present) == 3
    dropped = _location(spark, "c-2")

    only_c1 = {(str(D), "c-1")}
    assert overwrite_partitions(_rows(spark, [4]), TABLE, {"dt": [D]}, only_c1) == 1
    assert [r[0] for r in spark.sql(f"SHOW PARTITIONS {TABLE}").collect()] == [
        f"dt={D}/campaign_id=c-1"
    ]
    assert list(dropped.glob("*.parquet")), "a query that started before may still read it"

    assert overwrite_partitions(_rows(spark, [5]), TABLE, {"dt": [D]}, only_c1) == 1
    assert not dropped.parent.exists(), "the next write of the day deletes it"

    # A row outside the partitions the caller expects stops the write before any swap.
    with pytest.raises(ValueError, match="c-2"):
        overwrite_partitions(_rows(spark, [6], "c-2"), TABLE, {"dt": [D]}, only_c1)
    assert sorted(r.n for r in spark.table(TABLE).collect()) == [5]
