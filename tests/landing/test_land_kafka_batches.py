"""The landing transform and the batch committer on a local Spark session (no Kafka, no HDFS)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from chispa import assert_df_equality
from pyspark.sql import types as T

from spark_jobs.common.landing import KAFKA_SCHEMA
from spark_jobs.land_kafka.commit import BatchCommitter, HadoopFs
from spark_jobs.land_kafka.transforms import landed_records

# The columns the Spark Kafka source gives.
SOURCE_SCHEMA = T.StructType(
    [
        T.StructField("key", T.BinaryType()),
        T.StructField("value", T.BinaryType()),
        T.StructField("topic", T.StringType()),
        T.StructField("partition", T.IntegerType()),
        T.StructField("offset", T.LongType()),
        T.StructField("timestamp", T.TimestampType()),
        T.StructField("timestampType", T.IntegerType()),
    ]
)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def source_rows(spark, rows):
    return spark.createDataFrame(
        [(k, v, "t", p, o, ts(when), 0) for (k, v, p, o, when) in rows], SOURCE_SCHEMA
    )


def test_landed_records_keep_the_bytes_and_take_the_utc_hour_of_the_record_timestamp(spark):
    rows = [
        (b"k1", b"\x00\xff\xfe not avro", 0, 10, "2025-01-06 23:59:59.999"),
        (None, None, 1, 11, "2025-01-07 00:00:00"),
        (b"k3", b"", 1, 12, "1970-01-01 00:00:00"),
    ]
    spark.conf.set("spark.sql.session.timeZone", "America/Los_Angeles")
    try:
        landed = landed_records(source_rows(spark, rows))
        expected = spark.createDataFrame(
            [
                (k, v, "t", p, o, ts(when), day, hour)
                for (k, v, p, o, when), (day, hour) in zip(
                    rows,
                    [("2025-01-06", "23"), ("2025-01-07", "00"), ("1970-01-01", "00")],
                    strict=True,
                )
            ],
            T.StructType(
                [
                    *KAFKA_SCHEMA.fields,
                    T.StructField("arrival_date", T.StringType(), False),
                    T.StructField("arrival_hour", T.StringType(), False),
                ]
            ),
        )
        assert_df_equality(landed, expected, ignore_nullable=True)
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")


class Crash(BaseException):
    """Stands for kill -9 of the driver."""


class CrashingFs(HadoopFs):
    """Lets ``steps`` moves and deletes happen, then crashes."""

    def __init__(self, spark, uri, steps):
        super().__init__(spark, uri)
        self.left = steps

    def _step(self):
        self.left -= 1
        if self.left == 0:
            raise Crash

    def move(self, src, dst):
        super().move(src, dst)
        self._step()

    def delete(self, uri):
        super().delete(uri)
        self._step()


@pytest.fixture
def batch(spark):
    """200 records over 2 hours on 2 partitions, as one micro-batch of 2 tasks (4 files)."""
    rows = [
        (
            f"k{i}".encode(),
            f"value-{i}".encode(),
            i % 2,
            i,
            f"2025-01-06 0{7 + i % 2}:00:{i % 60:02d}",
        )
        for i in range(200)
    ]
    return landed_records(source_rows(spark, rows).repartition(2))


def committed(spark, root):
    return spark.read.parquet(f"{root}/arrival_date=*/arrival_hour=*").select("offset", "value")


def test_a_batch_interrupted_at_any_step_and_replayed_lands_each_record_once(
    spark, tmp_path, batch
):
    steps = 0
    while True:
        steps += 1
        root = f"file://{tmp_path}/s{steps}/landing/t"
        checkpoint = tmp_path / f"s{steps}" / "checkpoint"
        checkpoint.mkdir(parents=True)
        (checkpoint / "metadata").write_text(json.dumps({"id": str(uuid.uuid4())}))
        first = BatchCommitter(spark, root, f"file://{checkpoint}", lambda result: None)
        first.fs = CrashingFs(spark, root, steps)
        try:
            first(batch, 7)
        except Crash:
            pass
        else:
            break  # the batch completes in this many steps: every step was a crash point
        results = []
        replay = BatchCommitter(spark, root, f"file://{checkpoint}", results.append)
        replay(batch, 7)

        assert_df_equality(
            committed(spark, root),
            batch.select("offset", "value"),
            ignore_row_order=True,
        )
        assert results[0].records == 200
        assert results[0].hours == {ts("2025-01-06 07:00"), ts("2025-01-06 08:00")}
        assert not (tmp_path / f"s{steps}" / "landing" / "t" / "_staging" / "batch=7").exists()
    assert steps > 5


def test_committed_files_are_named_after_their_batch_and_query(spark, tmp_path, batch):
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    (checkpoint / "metadata").write_text(json.dumps({"id": "0123abcd-0000-0000-0000-000000000000"}))
    root = f"file://{tmp_path}/landing/t"
    BatchCommitter(spark, root, f"file://{checkpoint}", lambda r: None)(batch, 3)
    BatchCommitter(spark, root, f"file://{checkpoint}", lambda r: None)(batch.limit(0), 4)
    names = sorted(p.name for p in (tmp_path / "landing" / "t").glob("*/*/*.parquet"))
    assert names and all(n.startswith("part-b0000000003-0123abcd-") for n in names)


def test_records_in_closed_hours_are_counted_marked_and_recorded_for_restatement(
    spark, tmp_path, batch, monkeypatch
):
    """The batch lands 100 records in 07:00 (closed with an empty marker) and 100 in 08:00
    (closed as empty, no marker) after landing had closed everything before 09:00."""
    from adplatform import lake
    from adplatform.hdfs import LocalFileSystem
    from adplatform.landing import markers
    from adplatform.settings import Settings
    from spark_jobs.land_kafka import job

    monkeypatch.setattr(job, "topic_partitions", lambda settings, topic: [0, 1])
    settings = Settings(lake_uri=f"file://{tmp_path}/lake")
    fs = LocalFileSystem()
    markers.write_marker(
        fs, settings, "t", ts("2025-01-06 07:00"), {"records": 0}, run_id="r0", reason="drained"
    )
    markers.write_closed_through(fs, settings, "t", ts("2025-01-06 09:00"), "r0")
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    (checkpoint / "metadata").write_text(json.dumps({"id": str(uuid.uuid4())}))
    landing = job.TopicLanding(spark, settings, fs, "t", "scheduled__late")
    root = lake.landing_path(settings, "t")

    BatchCommitter(spark, root, f"file://{checkpoint}", landing.on_batch)(batch, 11)
    # Killed before Spark committed the batch, then replayed: counted and recorded the same.
    replay = job.TopicLanding(spark, settings, fs, "t", "scheduled__late")
    BatchCommitter(spark, root, f"file://{checkpoint}", replay.on_batch)(batch, 11)

    assert landing.progress.late_records == 200 and replay.progress.late_records == 200
    seven = markers.read_marker(fs, settings, "t", ts("2025-01-06 07:00"))
    eight = markers.read_marker(fs, settings, "t", ts("2025-01-06 08:00"))
    assert (seven["records"], seven["reason"], seven["reopened"][0]["previous"]) == (
        100,
        "late_records",
        {"records": 0},
    )
    assert (eight["records"], eight["reason"], "reopened" in eight) == (100, "late_records", False)
    late = markers.late_hours(fs, settings, "t")
    assert [(h.hour, h.records, h.run_id) for h in late] == [
        (ts("2025-01-06 07:00"), 100, "scheduled__late"),
        (ts("2025-01-06 08:00"), 100, "scheduled__late"),
    ]
