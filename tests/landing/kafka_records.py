"""Producing known records to a real broker, running the landing job, reading what landed."""

from __future__ import annotations

import hashlib
import subprocess
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from adplatform.hdfs import WebHdfs
from adplatform.landing import kafka_job
from adplatform.settings import Settings

MAX_VALUE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Produced:
    partition: int
    offset: int
    ts_ms: int
    key: bytes | None
    value: bytes | None


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def lake_settings(settings: Settings, name: str) -> Settings:
    """The stack's settings with a lake of its own on HDFS, so tests never share state."""
    return settings.with_overrides(lake_uri=f"{settings.hdfs_uri}/tests/{unique(name)}")


def create_topic(settings: Settings, topic: str, partitions: int = 2) -> None:
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        # Old timestamps must not meet time retention; poison values may be large.
        configs = {"retention.ms": "-1", "max.message.bytes": str(MAX_VALUE_BYTES)}
        admin.create_topics([NewTopic(topic, partitions, 1, topic_configs=configs)])
    finally:
        admin.close()


def produce(
    settings: Settings, topic: str, records: list[tuple[int, int, bytes | None, bytes | None]]
) -> list[Produced]:
    """Send (partition, timestamp ms, key, value) records; returns them with their offsets."""
    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        linger_ms=20,
        batch_size=256 * 1024,
        max_request_size=MAX_VALUE_BYTES,
    )
    try:
        futures = [
            (producer.send(topic, key=k, value=v, partition=p, timestamp_ms=ts), (p, ts, k, v))
            for p, ts, k, v in records
        ]
        producer.flush()
        return [Produced(p, f.get(30).offset, ts, k, v) for f, (p, ts, k, v) in futures]
    finally:
        producer.close()


def spread(
    partition: int, first: datetime, last: datetime, n: int, tag: str
) -> list[tuple[int, int, bytes, bytes]]:
    """``n`` records of one partition with timestamps evenly from ``first`` to ``last``."""
    start, span = int(first.timestamp() * 1000), int((last - first).total_seconds() * 1000)
    return [
        (
            partition,
            start + span * i // max(n - 1, 1),
            f"{tag}-{partition}-{i}".encode(),
            f"value {tag} {partition} {i} ".encode() * 5,
        )
        for i in range(n)
    ]


def run_landing(
    settings: Settings, topics: list[str], until: datetime | None, run_id: str, **options
) -> subprocess.CompletedProcess:
    cmd = kafka_job.command(settings, until=until, run_id=run_id, topics=topics, **options)
    return subprocess.run(
        cmd, env=kafka_job.environment(settings), capture_output=True, text=True, timeout=900
    )


def start_landing(
    settings: Settings, topics: list[str], run_id: str, **options
) -> subprocess.Popen:
    cmd = kafka_job.command(settings, run_id=run_id, topics=topics, **options)
    return subprocess.Popen(
        cmd,
        env=kafka_job.environment(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: SIGKILL reaches the JVM and Python
    )


def landed(spark, settings: Settings, topic: str) -> dict[tuple[int, int], tuple]:
    """(partition, offset) -> (key, value digest, timestamp ms, hour folder) of every landed
    record, read by listing the hour folders (as the batch jobs, Hive or DuckDB would)."""
    from pyspark.sql import functions as F

    from adplatform import lake

    root = lake.landing_path(settings, topic)
    rows = (
        spark.read.parquet(f"{root}/arrival_date=*/arrival_hour=*")
        .select(
            "partition",
            "offset",
            "key",
            F.sha2("value", 256).alias("digest"),
            F.isnull("value").alias("null_value"),
            F.unix_millis("kafka_ts").alias("ts_ms"),
            F.regexp_extract(
                "_metadata.file_path", r"(arrival_date=[^/]+/arrival_hour=[0-9]+)", 1
            ).alias("folder"),
        )
        .collect()
    )
    out: dict[tuple[int, int], tuple] = {}
    for r in rows:
        assert (r.partition, r.offset) not in out, f"landed twice: {r.partition}/{r.offset}"
        digest = None if r.null_value else r.digest
        out[r.partition, r.offset] = (r.key, digest, r.ts_ms, r.folder)
    return out


def expected(records: list[Produced]) -> dict[tuple[int, int], tuple]:
    out = {}
    for r in records:
        hour = datetime.fromtimestamp(r.ts_ms / 1000, UTC)
        folder = f"arrival_date={hour:%Y-%m-%d}/arrival_hour={hour:%H}"
        digest = None if r.value is None else hashlib.sha256(r.value).hexdigest()
        out[r.partition, r.offset] = (r.key, digest, r.ts_ms, folder)
    return out


def webhdfs(settings: Settings) -> WebHdfs:
    return WebHdfs.from_settings(settings)


def day_start(ts: datetime) -> datetime:
    return ts.replace(hour=0, minute=0, second=0, microsecond=0)


HOUR = timedelta(hours=1)
