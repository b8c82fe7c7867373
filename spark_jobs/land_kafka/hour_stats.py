"""What the landed hour folders of a topic hold, read from the committed files themselves."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

_FOLDER = r"arrival_date=([0-9]{4}-[0-9]{2}-[0-9]{2})/arrival_hour=([0-9]{2})/[^/]+$"


@dataclass
class PartitionStats:
    records: int
    first_offset: int
    last_offset: int
    newest_ts: datetime


@dataclass
class HourStats:
    """Per Kafka partition: records, offset range and newest timestamp in one hour folder."""

    partitions: dict[int, PartitionStats] = field(default_factory=dict)
    # Records of the files of one batch (``batch_prefix`` of ``read_hour_stats``).
    batch_records: int = 0

    def marker_body(self, topic_partitions: list[int]) -> dict:
        """The ``_DONE`` content of the hour: counts per partition (0 for the silent ones)."""
        body: dict = {"records": sum(p.records for p in self.partitions.values())}
        body["partitions"] = {
            str(p): (
                {
                    "records": s.records,
                    "first_offset": s.first_offset,
                    "last_offset": s.last_offset,
                }
                if (s := self.partitions.get(p))
                else {"records": 0}
            )
            for p in sorted(set(topic_partitions) | set(self.partitions))
        }
        return body


def hour_of_folder(name_date: str, name_hour: str) -> datetime:
    day = datetime.fromisoformat(name_date)
    return day.replace(hour=int(name_hour), tzinfo=UTC)


def read_hour_stats(
    spark: SparkSession, folders: dict[datetime, str], batch_prefix: str | None = None
) -> dict[datetime, HourStats]:
    """Records, offsets and newest timestamp per (hour folder, partition) of those folders;
    with ``batch_prefix``, also the records of that batch's files (``<prefix>-*``) per hour,
    in the same pass. Exact on a replay too: the replay replaced the same files with the
    same records."""
    if not folders:
        return {}
    landed = spark.read.parquet(*folders.values())
    path = F.col("_metadata.file_path")
    in_batch = (
        F.col("_metadata.file_name").startswith(f"{batch_prefix}-")
        if batch_prefix
        else F.lit(False)
    )
    rows = (
        landed.select(
            F.regexp_extract(path, _FOLDER, 1).alias("arrival_date"),
            F.regexp_extract(path, _FOLDER, 2).alias("arrival_hour"),
            "partition",
            "offset",
            "kafka_ts",
            in_batch.alias("in_batch"),
        )
        .groupBy("arrival_date", "arrival_hour", "partition")
        .agg(
            F.count(F.lit(1)).alias("records"),
            F.min("offset").alias("first_offset"),
            F.max("offset").alias("last_offset"),
            F.max(F.unix_micros("kafka_ts")).alias("newest_us"),
            F.count_if("in_batch").alias("batch_records"),
        )
        .collect()
    )
    stats: dict[datetime, HourStats] = {}
    for row in rows:
        hour = hour_of_folder(row.arrival_date, row.arrival_hour)
        hour_stats = stats.setdefault(hour, HourStats())
        hour_stats.partitions[row.partition] = PartitionStats(
            row.records, row.first_offset, row.last_offset, from_micros(row.newest_us)
        )
        hour_stats.batch_records += row.batch_records
    return stats


def from_micros(micros: int) -> datetime:
    """A UTC datetime from epoch microseconds (collect() would give local naive datetimes)."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
