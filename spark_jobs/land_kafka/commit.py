"""Commit one micro-batch of a topic into the landing folders, exactly once.

Why not Spark's file sink: its ``_spark_metadata`` log makes a batch visible atomically,
but only to Spark readers that read the sink's root folder. A batch killed mid-write
leaves its files in the hour folders, so anything that lists an hour folder (the batch
jobs read hour folders, Hive external tables, DuckDB in the benchmark peer) would read them
twice after the rerun; and the log breaks as soon as maintenance compacts or expires hour
folders. Here the landing folders stay plain Parquet folders in which a file exists only
once its batch is committed:

1. the batch is written to ``landing/<topic>/_staging/batch=<id>/`` (hidden: underscore);
2. in every hour folder it touches, files left by an earlier attempt of the *same* batch
   (``part-b<id>-<query>-*``) are deleted;
3. each staged file is renamed into its hour folder as ``part-b<id>-<query>-<n>.parquet``;
4. the staging folder is removed; Spark then commits the batch in the checkpoint.

A replayed batch (the checkpoint's offset log replays exactly the same offsets after a
crash) redoes 1-4 and replaces whatever the interrupted attempt had moved, so no record
is lost or landed twice. ``<query>`` is the query id kept in the checkpoint, so the names
of a new checkpoint never collide with an old one's.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from spark_jobs.land_kafka.hour_stats import from_micros, hour_of_folder
from spark_jobs.land_kafka.transforms import PARTITION_COLUMNS

log = logging.getLogger(__name__)


@dataclass
class BatchResult:
    batch_id: int
    records: int
    newest_ts: datetime | None
    hours: set[datetime]
    seconds: float
    # Names of the batch's files in each hour folder start with this (``part-b<id>-<query>``).
    file_prefix: str


@dataclass
class TopicProgress:
    """What this run landed of one topic (batches replayed after a crash included)."""

    batches: int = 0
    records: int = 0
    late_records: int = 0
    newest_ts: datetime | None = None
    hours: set[datetime] = field(default_factory=set)

    def add(self, result: BatchResult) -> None:
        self.batches += 1
        self.records += result.records
        self.hours |= result.hours
        if result.newest_ts and (self.newest_ts is None or result.newest_ts > self.newest_ts):
            self.newest_ts = result.newest_ts


class HadoopFs:
    """The few Hadoop FileSystem calls the committer makes, through the driver's JVM."""

    def __init__(self, spark: SparkSession, uri: str) -> None:
        self._jvm = spark.sparkContext._jvm
        conf = spark.sparkContext._jsc.hadoopConfiguration()
        self._fs = self._path(uri).getFileSystem(conf)

    def _path(self, uri: str):
        return self._jvm.org.apache.hadoop.fs.Path(uri)

    def exists(self, uri: str) -> bool:
        return bool(self._fs.exists(self._path(uri)))

    def delete(self, uri: str) -> None:
        self._fs.delete(self._path(uri), True)

    def read_text(self, uri: str) -> str:
        stream = self._fs.open(self._path(uri))
        try:
            reader = self._jvm.java.io.BufferedReader(
                self._jvm.java.io.InputStreamReader(stream, "UTF-8")
            )
            return "\n".join(iter(reader.readLine, None))
        finally:
            stream.close()

    def data_files(self, uri: str) -> list[str]:
        """Parquet files under ``uri``, recursively (no ``_``/``.`` files)."""
        found, files = [], self._fs.listFiles(self._path(uri), True)
        while files.hasNext():
            path = files.next().getPath()
            name = path.getName()
            if name.endswith(".parquet") and not name.startswith(("_", ".")):
                found.append(path.toString())
        return sorted(found)

    def glob(self, pattern: str) -> list[str]:
        statuses = self._fs.globStatus(self._path(pattern)) or []
        return sorted(s.getPath().toString() for s in statuses)

    def move(self, src: str, dst: str) -> None:
        target = self._path(dst)
        self._fs.mkdirs(target.getParent())
        if not self._fs.rename(self._path(src), target):
            raise OSError(f"could not rename {src} to {dst}")


class BatchCommitter:
    """The ``foreachBatch`` function of one topic's landing query."""

    def __init__(
        self,
        spark: SparkSession,
        topic_root: str,
        checkpoint: str,
        on_batch: Callable[[BatchResult], None],
    ) -> None:
        self.spark = spark
        self.topic_root = topic_root.rstrip("/")
        self.checkpoint = checkpoint.rstrip("/")
        self.on_batch = on_batch
        self.fs = HadoopFs(spark, topic_root)
        self._query_tag: str | None = None

    def query_tag(self) -> str:
        """First 8 hex digits of the query id the checkpoint keeps (written before batch 0)."""
        if self._query_tag is None:
            metadata = json.loads(self.fs.read_text(f"{self.checkpoint}/metadata"))
            self._query_tag = metadata["id"].replace("-", "")[:8]
        return self._query_tag

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        started = time.monotonic()
        staging = f"{self.topic_root}/_staging/batch={batch_id}"
        self.fs.delete(staging)
        # Counted while writing (an Observation), not by reading the batch a second time.
        seen = Observation(f"landed_{uuid.uuid4().hex}")  # unique across the session's queries
        observed = batch.observe(
            seen, F.count(F.lit(1)).alias("n"), F.max(F.unix_micros("kafka_ts")).alias("us")
        )
        observed.write.mode("overwrite").partitionBy(*PARTITION_COLUMNS).parquet(staging)
        metrics = seen.get
        records = int(metrics.get("n") or 0)
        newest_ts = from_micros(metrics["us"]) if metrics.get("us") is not None else None
        staged = self.fs.data_files(staging)
        by_hour: dict[tuple[str, str], list[str]] = defaultdict(list)
        for path in staged:
            day, hour = path.split("/")[-3:-1]
            by_hour[day, hour].append(path)
        prefix = f"part-b{batch_id:010d}-{self.query_tag()}"
        hours = set()
        for (day, hour), files in sorted(by_hour.items()):
            folder = f"{self.topic_root}/{day}/{hour}"
            for leftover in self.fs.glob(f"{folder}/{prefix}-*"):
                self.fs.delete(leftover)
            for n, src in enumerate(files):
                suffix = src.rsplit("/", 1)[-1].split(".", 1)[-1]  # c000.snappy.parquet
                self.fs.move(src, f"{folder}/{prefix}-{n:05d}.{suffix}")
            hours.add(hour_of_folder(day.split("=", 1)[1], hour.split("=", 1)[1]))
        self.fs.delete(staging)
        self.on_batch(
            BatchResult(batch_id, records, newest_ts, hours, time.monotonic() - started, prefix)
        )
