"""Lake maintenance on a local lake: retention, compaction (read back by the batch jobs'
own reader), repair of an interrupted compaction, and the quarantine file summary.

Landing hours are written by Spark exactly as a landing job writes them (several part
files, ``_SUCCESS``, checksums), so compaction is checked against Spark's own files.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from adplatform import lake, maintenance
from adplatform.hdfs import LocalFileSystem, join
from adplatform.maintenance import Policy
from adplatform.settings import Settings

AS_OF = date(2025, 3, 20)
TOPIC = "bid_requests"


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(lake_uri=f"file://{tmp_path}/lake")


@pytest.fixture
def fs() -> LocalFileSystem:
    return LocalFileSystem()


def _rows(day: date, hour: int, n: int, first_offset: int = 0) -> list[tuple]:
    at = datetime(day.year, day.month, day.day, hour, 5)
    return [
        (f"k{i}".encode(), f"v{i}".encode(), TOPIC, i % 2, first_offset + i, at) for i in range(n)
    ]


def land_hour(spark, settings, fs, day: date, hour: int, rows: list[tuple], files: int, done=True):
    """Write an arrival hour as Spark writes it, plus its done marker."""
    from spark_jobs.common.landing import KAFKA_SCHEMA

    path = lake.landing_path(settings, TOPIC, day, hour)
    spark.createDataFrame(rows, KAFKA_SCHEMA).repartition(files).write.mode("append").parquet(path)
    if done:
        fs.create(lake.done_marker_path(settings, TOPIC, day, hour), b"")
    return path


def data_files(fs, uri: str) -> list[str]:
    return [e.name for e in fs.list(uri) if not maintenance.is_hidden(e.name)]


def read_back(spark, settings, day: date, hour: int) -> list[tuple]:
    from spark_jobs.common.landing import read_kafka_landing

    hours = [datetime(day.year, day.month, day.day, hour)]
    return sorted(tuple(r) for r in read_kafka_landing(spark, settings, TOPIC, hours).collect())


def test_compaction_keeps_every_row_and_type_in_one_file(spark, settings, fs):
    day = AS_OF - timedelta(days=5)
    rows = _rows(day, 7, 40)
    path = land_hour(spark, settings, fs, day, 7, rows, files=4)
    assert len(data_files(fs, path)) == 4
    before = read_back(spark, settings, day, 7)

    report = maintenance.compact_landing(settings, fs, AS_OF)

    assert [(c.hour, c.files_before, c.files_after, c.rows) for c in report.compacted] == [
        (f"{day.isoformat()}T07", 4, 1, 40)
    ]
    assert len(data_files(fs, path)) == 1
    assert fs.exists(lake.done_marker_path(settings, TOPIC, day, 7))
    assert read_back(spark, settings, day, 7) == before
    # Spark's INT96 timestamps stay INT96: every reader sees the same values as before.
    import pyarrow.parquet as pq

    compacted = join(path, data_files(fs, path)[0])
    schema = pq.ParquetFile(LocalFileSystem.path(compacted)).schema
    assert schema.column(schema.names.index("kafka_ts")).physical_type == "INT96"
    # Nothing left behind beside the hour.
    day_dir = lake.landing_path(settings, TOPIC, day)
    assert [e.name for e in fs.list(day_dir)] == ["arrival_hour=07"]


def test_compaction_leaves_recent_open_and_single_file_hours_alone(spark, settings, fs):
    recent = AS_OF - timedelta(days=1)
    old = AS_OF - timedelta(days=6)
    recent_path = land_hour(spark, settings, fs, recent, 1, _rows(recent, 1, 9), files=3)
    open_path = land_hour(spark, settings, fs, old, 2, _rows(old, 2, 9), files=3, done=False)
    single_path = land_hour(spark, settings, fs, old, 3, _rows(old, 3, 9), files=1)

    report = maintenance.compact_landing(settings, fs, AS_OF)

    assert report.compacted == []
    assert report.skipped == [
        {"hour": f"{TOPIC} {old.isoformat()}T02", "why": "not closed (no done marker)"}
    ]
    assert len(data_files(fs, recent_path)) == 3
    assert len(data_files(fs, open_path)) == 3
    assert len(data_files(fs, single_path)) == 1


def test_an_interrupted_compaction_is_repaired(spark, settings, fs):
    day = AS_OF - timedelta(days=4)
    rows = _rows(day, 9, 12)
    path = land_hour(spark, settings, fs, day, 9, rows, files=3)
    day_dir = lake.landing_path(settings, TOPIC, day)
    before = read_back(spark, settings, day, 9)
    # Stopped between the two renames: the old hour moved away, the new one complete beside.
    maintenance.compact_landing(settings, fs, AS_OF)
    staging = join(day_dir, "_compacting_arrival_hour=09")
    fs.rename(path, staging)
    assert not fs.exists(path)

    report = maintenance.compact_landing(settings, fs, AS_OF)

    assert report.recovered == [staging]
    assert read_back(spark, settings, day, 9) == before
    assert [e.name for e in fs.list(day_dir)] == ["arrival_hour=09"]

    # Stopped while writing the new folder: the partial copy is dropped, the hour kept.
    fs.create(join(day_dir, "_compacting_arrival_hour=09", "part-00000-half.parquet"), b"PAR1")
    report = maintenance.compact_landing(settings, fs, AS_OF)
    assert len(report.recovered) == 1
    assert read_back(spark, settings, day, 9) == before


def test_retention_deletes_old_arrival_dates_of_every_source_markers_included(settings, fs):
    cutoff = AS_OF - timedelta(days=30)
    kept, gone = cutoff, cutoff - timedelta(days=1)
    for source in maintenance.LANDING_SOURCES:
        for day in (gone, kept):
            fs.create(join(lake.landing_path(settings, source, day, 0), "part-0.parquet"), b"x")
            fs.create(lake.done_marker_path(settings, source, day, 0), b"")

    removed = maintenance.apply_retention(settings, fs, AS_OF)

    assert sorted((r.source, r.arrival_date) for r in removed) == sorted(
        (s, gone.isoformat()) for s in maintenance.LANDING_SOURCES
    )
    for source in maintenance.LANDING_SOURCES:
        assert not fs.exists(lake.landing_path(settings, source, gone))
        assert not fs.exists(lake.done_marker_path(settings, source, gone, 0))
        assert fs.exists(lake.done_marker_path(settings, source, kept, 0))


def test_maintenance_refuses_a_future_day_and_a_too_short_retention(settings, fs):
    with pytest.raises(ValueError, match="future"):
        maintenance.apply_retention(settings, fs, date.today() + timedelta(days=2))
    with pytest.raises(ValueError, match="at least"):
        Policy(retention_days=1)


class FakeCursor:
    """Stands in for HiveServer2: returns the grouped rows and records the query."""

    def __init__(self, rows):
        self.rows, self.queries = rows, []

    def execute(self, sql):
        self.queries.append(sql)

    def fetchall(self):
        return self.rows


def test_quarantine_summary_counts_records_and_unreadable_files_of_the_window(settings, fs):
    inside = AS_OF - timedelta(days=6)
    outside = AS_OF - timedelta(days=7)
    for day, name in ((inside, "tracking_20250314_05.csv"), (outside, "tracking_20250313_05.csv")):
        fs.create(join(lake.quarantine_path(settings, "tracking", day), name), b"12345")
    cursor = FakeCursor([("impressions", "malformed_json", 3)])

    summary = maintenance.summarise_quarantine(cursor, settings, fs, AS_OF)

    assert "BETWEEN DATE '2025-03-14' AND DATE '2025-03-20'" in cursor.queries[0]
    assert summary.as_dict()["records"] == [
        {"source": "impressions", "reason": "malformed_json", "records": 3}
    ]
    assert summary.as_dict()["files"] == [
        {"source": "tracking", "arrival_date": "2025-03-14", "files": 1, "bytes": 5}
    ]
    assert "records: 3" in "\n".join(summary.lines())


class LandsDuringCompaction(LocalFileSystem):
    """A landing run writes a late record's file into the hour while it is being compacted."""

    def __init__(self, late_file: str):
        self.late_file, self.landed = late_file, False

    def create(self, uri, data, *, overwrite=False):
        super().create(uri, data, overwrite=overwrite)
        if "_compacting_" in uri and not self.landed:
            self.landed = True
            super().create(self.late_file, b"late parquet")


def test_an_hour_that_changes_while_compacted_is_left_as_it_is(spark, settings):
    day = AS_OF - timedelta(days=8)
    path = land_hour(spark, settings, LocalFileSystem(), day, 4, _rows(day, 4, 6), files=2)
    fs = LandsDuringCompaction(join(path, "part-late.parquet"))

    report = maintenance.compact_landing(settings, fs, AS_OF)

    assert report.compacted == []
    assert "changed while being compacted" in report.skipped[0]["why"]
    assert len(data_files(fs, path)) == 3
    assert [e.name for e in fs.list(lake.landing_path(settings, TOPIC, day))] == ["arrival_hour=04"]
