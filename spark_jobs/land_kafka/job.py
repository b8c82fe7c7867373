"""Land what is new on the Kafka topics in HDFS, exactly once, and close the complete hours.

Started by spark-submit exactly as Airflow starts it (``adplatform land kafka`` does the
same from a shell)::

    spark-submit <platform conf> spark_jobs/land_kafka/job.py \\
        --until 2025-01-06T08:00:00+00:00 --run-id scheduled__2025-01-06T07:00:00+00:00

For each topic, one Structured Streaming query with ``Trigger.AvailableNow`` reads from the
offsets in its checkpoint (``<lake>/checkpoints/landing_<topic>``) up to the newest offsets
at start, in batches of at most ``--max-records-per-batch``; ``commit.BatchCommitter`` lands
each batch into ``<lake>/landing/<topic>/arrival_date=YYYY-MM-DD/arrival_hour=HH/`` exactly
once. Then every hour that is complete on every partition (``adplatform.landing.hours``)
gets its done marker, and the run's metrics go to the Pushgateway. docs/landing.md.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta

from pyspark.sql import SparkSession

from adplatform import contracts, lake
from adplatform import settings as settings_module
from adplatform.hdfs import FileSystem, filesystem
from adplatform.landing import hours as hour_rules
from adplatform.landing import markers
from adplatform.metrics import BatchRun, manual_run_id
from adplatform.settings import Settings
from spark_jobs.land_kafka import hour_stats
from spark_jobs.land_kafka.commit import BatchCommitter, BatchResult, TopicProgress
from spark_jobs.land_kafka.transforms import landed_records

log = logging.getLogger("land_kafka")

JOB = "land_kafka"
TOPICS = (contracts.TOPIC_BID_REQUESTS, contracts.TOPIC_AD_IMPRESSIONS)
# Records per micro-batch and partition-sum; bounds the memory and the work a crash redoes.
DEFAULT_MAX_RECORDS_PER_BATCH = 500_000
HOURLY_S = 3600.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="land_kafka", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--until",
        type=parse_instant,
        default=None,
        help="end of the run's data interval (ISO-8601; Airflow's data_interval_end): hours "
        "ending by then are closed once drained; default: the run's start",
    )
    parser.add_argument("--run-id", default=None, help="Airflow run id (default: manual__<now>)")
    parser.add_argument(
        "--topics", default=",".join(TOPICS), help="comma-separated topics (default: both)"
    )
    parser.add_argument("--max-records-per-batch", type=int, default=DEFAULT_MAX_RECORDS_PER_BATCH)
    parser.add_argument("--job-name", default=JOB, help="the `job` label of the metrics")
    return parser.parse_args(argv)


def parse_instant(text: str) -> datetime:
    """An ISO-8601 instant; without a zone it is UTC."""
    try:
        return hour_rules.utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 time: {text!r}") from None


def kafka_options(settings: Settings) -> dict[str, str]:
    """Spark Kafka source options: the broker of the settings, committed records only."""
    options = {
        "kafka.bootstrap.servers": settings.kafka_bootstrap,
        "kafka.isolation.level": "read_committed",
    }
    if settings.kafka_security_protocol != "PLAINTEXT":
        module = (
            "org.apache.kafka.common.security.scram.ScramLoginModule"
            if settings.kafka_sasl_mechanism.startswith("SCRAM")
            else "org.apache.kafka.common.security.plain.PlainLoginModule"
        )
        options.update(
            {
                "kafka.security.protocol": settings.kafka_security_protocol,
                "kafka.sasl.mechanism": settings.kafka_sasl_mechanism,
                "kafka.sasl.jaas.config": f'{module} required username="'
                f'{settings.kafka_sasl_username}" password="{settings.kafka_sasl_password}";',
            }
        )
    return options


def topic_partitions(settings: Settings, topic: str) -> list[int]:
    """Partition ids of a topic as the broker has them now (empty if it does not exist)."""
    from kafka import KafkaConsumer

    config = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "client_id": "adplatform-landing",
        "request_timeout_ms": 30_000,
    }
    if settings.kafka_security_protocol != "PLAINTEXT":
        config.update(
            security_protocol=settings.kafka_security_protocol,
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_sasl_username,
            sasl_plain_password=settings.kafka_sasl_password,
        )
    consumer = KafkaConsumer(**config)
    try:
        return sorted(consumer.partitions_for_topic(topic) or [])
    finally:
        consumer.close()


class TopicLanding:
    """One topic's query, what it landed, and the hours it closes."""

    def __init__(
        self, spark: SparkSession, settings: Settings, fs: FileSystem, topic: str, run_id: str
    ) -> None:
        self.spark = spark
        self.settings = settings
        self.fs = fs
        self.topic = topic
        self.run_id = run_id
        self.progress = TopicProgress()
        self.closed_through = markers.read_closed_through(fs, settings, topic)
        self.markers_written = 0
        self._lock = threading.Lock()

    def start(self, max_records_per_batch: int):
        checkpoint = lake.checkpoint_path(self.settings, f"landing_{self.topic}")
        committer = BatchCommitter(
            self.spark,
            lake.landing_path(self.settings, self.topic),
            checkpoint,
            self.on_batch,
        )
        source = (
            self.spark.readStream.format("kafka")
            .options(**kafka_options(self.settings))
            .option("subscribe", self.topic)
            .option("startingOffsets", "earliest")
            .option("maxOffsetsPerTrigger", str(max_records_per_batch))
            # A gap in the offsets (retention deleted records before they were landed) fails
            # the run loudly instead of skipping records (semantic 1).
            .option("failOnDataLoss", "true")
            .load()
        )
        return (
            landed_records(source)
            .writeStream.queryName(f"landing_{self.topic}")
            .foreachBatch(committer)
            .option("checkpointLocation", checkpoint)
            .trigger(availableNow=True)
            .start()
        )

    def on_batch(self, result: BatchResult) -> None:
        """Called inside the batch, before Spark commits it: late hours are handled here."""
        with self._lock:
            self.progress.add(result)
        rate = result.records / result.seconds if result.seconds else 0.0
        print(
            f"land_kafka: {self.topic} batch {result.batch_id}: {result.records} records "
            f"in {len(result.hours)} hours, {result.seconds:.1f} s ({rate:,.0f} records/s)",
            flush=True,
        )
        if self.closed_through is not None:
            late = {h for h in result.hours if h < self.closed_through}
            if late:
                self.mark_late_hours(late, result.file_prefix)

    def mark_late_hours(self, late: set[datetime], file_prefix: str) -> None:
        """Records landed in hours that were already closed: count them, record the hours
        for their restatement (``adplatform restate``) and (re)write their markers now.

        Done before the batch commits, so a crash here replays the batch and does it again
        (the count is of the batch's own files, the same on a replay).
        """
        assert self.closed_through is not None
        folders = {h: markers.hour_path(self.settings, self.topic, h) for h in late}
        stats = hour_stats.read_hour_stats(self.spark, folders, batch_prefix=file_prefix)
        partitions = topic_partitions(self.settings, self.topic)
        for hour in sorted(late):
            n = stats.get(hour, hour_stats.HourStats()).batch_records
            with self._lock:
                self.progress.late_records += n
            log.warning(
                "%s: %d records landed in the closed hour %s; the daily runs that read it "
                "are restated (adplatform restate)",
                self.topic,
                n,
                markers.iso(hour),
            )
            self._write(
                hour, stats.get(hour, hour_stats.HourStats()), partitions, "late_records", n
            )
        # Their empty neighbours, so that a daily run of those days finds every marker.
        neighbours = hour_rules.hours_to_mark(
            min(late) - hour_rules.NEAR_DATA, self.closed_through, late, recent=timedelta(0)
        )
        for hour in neighbours:
            if hour not in late and not markers.has_marker(
                self.fs, self.settings, self.topic, hour
            ):
                self._write(hour, hour_stats.HourStats(), partitions, "drained")

    def close(self, drained_until: datetime) -> datetime | None:
        """Write the markers of every hour this run closed; returns the new frontier."""
        partitions = topic_partitions(self.settings, self.topic)
        scanned = markers.scan_hours(self.fs, self.settings, self.topic, self.closed_through)
        folders = {h: f.uri for h, f in scanned.items() if f.files(".parquet")}
        stats = hour_stats.read_hour_stats(self.spark, folders)
        newest = {
            p: max(
                (s.partitions[p].newest_ts for s in stats.values() if p in s.partitions),
                default=None,
            )
            for p in partitions
        }
        frontier = hour_rules.kafka_frontier(newest, drained_until)
        if frontier is None or (self.closed_through and frontier <= self.closed_through):
            return self.closed_through
        start = self.closed_through or hour_rules.first_hour(stats, frontier)
        closing = []
        for hour in hour_rules.hours_to_mark(start, frontier, set(stats) | self.progress.hours):
            moved_past = all(
                n is not None and hour_rules.hour_floor(n) > hour for n in newest.values()
            )
            body = stats.get(hour, hour_stats.HourStats()).marker_body(partitions)
            closing.append((hour, body, "moved_past" if moved_past else "drained"))
        marked = {h for h, f in scanned.items() if f.marked}
        self.markers_written += markers.write_new_markers(
            self.fs, self.settings, self.topic, closing, run_id=self.run_id, marked=marked
        )
        markers.write_closed_through(self.fs, self.settings, self.topic, frontier, self.run_id)
        self.closed_through = frontier
        return frontier

    def _write(
        self,
        hour: datetime,
        stats: hour_stats.HourStats,
        partitions: list[int],
        reason: str,
        late_records: int | None = None,
    ) -> None:
        markers.write_marker(
            self.fs,
            self.settings,
            self.topic,
            hour,
            stats.marker_body(partitions),
            run_id=self.run_id,
            reason=reason,
            late_records=late_records,
        )
        self.markers_written += 1


def session() -> SparkSession:
    spark = (
        SparkSession.builder.appName(JOB)
        # Each batch closes one file per hour and task on HDFS. The client waits 400 ms by
        # default before it asks again whether a closed file's last block is complete,
        # which doubled the write time of a batch spread over 72 hours (measured).
        .config("spark.hadoop.dfs.client.block.write.locateFollowingBlock.initial.delay.ms", "50")
        .getOrCreate()
    )
    # Hour folders and markers are in UTC; Parquet timestamps in the format every reader
    # (Hive, DuckDB, pyarrow) reads as an instant.
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    spark.conf.set("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
    # Hour folders are listed by the driver: a Spark job per listing costs more than it saves.
    spark.conf.set("spark.sql.sources.parallelPartitionDiscovery.threshold", "10000")
    spark.sparkContext.setLogLevel("WARN")
    return spark


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = parse_args(argv)
    settings = settings_module.load()
    run_id = args.run_id or manual_run_id()
    topics = [t for t in args.topics.split(",") if t]
    started = datetime.now(UTC)
    # The run drains each partition to its newest offset at start, so it can vouch for
    # nothing later than that, whatever --until says.
    drained_until = min(args.until or started, started)

    spark = session()
    fs = filesystem(settings.lake, settings)
    with ExitStack() as stack:
        runs = {
            t: stack.enter_context(
                BatchRun(args.job_name, t, run_id, settings=settings, expected_interval_s=HOURLY_S)
            )
            for t in topics
        }
        landings = {t: TopicLanding(spark, settings, fs, t, run_id) for t in topics}
        clock = time.monotonic()
        queries = [landing.start(args.max_records_per_batch) for landing in landings.values()]
        try:
            for query in queries:
                query.awaitTermination()
        finally:
            for query in queries:
                if query.isActive:
                    query.stop()
        seconds = time.monotonic() - clock
        for topic, landing in landings.items():
            closing_started = time.monotonic()
            frontier = landing.close(drained_until)
            closing_s = time.monotonic() - closing_started
            run, progress = runs[topic], landing.progress
            run.rows_read(progress.records)
            run.rows_written(progress.records)
            run.newest_event(progress.newest_ts)
            run.late_records(progress.late_records)
            if frontier is not None:
                run.landing_hour_closed(frontier)
            rate = progress.records / seconds if seconds else 0.0
            print(
                f"land_kafka: {topic}: {progress.records} records in {progress.batches} "
                f"batches, {seconds:.1f} s ({rate:,.0f} records/s); closed through "
                f"{markers.iso(frontier) if frontier else 'nothing yet'}, "
                f"{landing.markers_written} markers written in {closing_s:.1f} s; "
                f"{progress.late_records} records landed in hours already closed",
                flush=True,
            )
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
