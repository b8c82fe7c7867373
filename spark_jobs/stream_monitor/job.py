"""Stream monitor: watches ``bid_requests`` and ``ad_impressions`` and serves Prometheus metrics.

A Spark Structured Streaming query reads both topics through the Spark Kafka source and
hands every micro-batch to ``Monitor.process_batch`` (``foreachBatch``), which classifies
the records (``transforms``) and updates the metrics of ``adplatform.metrics.StreamMetrics``,
served by the driver on ``/metrics`` at ``settings.host:settings.stream_monitor_port``.

State, all under ``lake.checkpoint_path(settings, "stream_monitor")`` in HDFS:

* ``query/``: Spark's checkpoint (Kafka offsets). The first start reads from the newest
  offsets; every later start resumes after the last committed micro-batch, so nothing read
  before a restart is counted again (the one batch in flight at a kill is read again:
  docs/stream-monitor.md);
* ``dedup/batch_id=N/``: the event ids seen within the dedup window after batch N (Parquet),
  so a re-run of a batch reads the state of the batch before it;
* ``volume_baseline.json``: the per-hour-of-day volume baseline (``baseline.py``).

Started by ``adplatform.stack.stream_monitor.monitor_command`` (spark-submit with the platform's
Spark configuration); the settings come from the ``ADPLATFORM_*`` environment like every job.
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from prometheus_client import CollectorRegistry, start_http_server
from pyspark.sql import SparkSession

from adplatform import settings as settings_module
from adplatform.metrics import StreamMetrics
from adplatform.settings import Settings
from spark_jobs.stream_monitor import transforms
from spark_jobs.stream_monitor.monitor import (
    QUERY_NAME,
    Monitor,
    Offsets,
    Options,
    ProgressListener,
    checkpoint_root,
    housekeeping_loop,
)

log = logging.getLogger("stream_monitor")


def kafka_client_config(settings: Settings) -> dict[str, str]:
    """kafka-python settings for the broker of ``settings`` (security included)."""
    config = {"bootstrap_servers": settings.kafka_bootstrap}
    if settings.kafka_security_protocol != "PLAINTEXT":
        config.update(
            security_protocol=settings.kafka_security_protocol,
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_sasl_username,
            sasl_plain_password=settings.kafka_sasl_password,
        )
    return config


def kafka_source_options(settings: Settings) -> dict[str, str]:
    """Options of the Spark Kafka source for the broker of ``settings`` (security included)."""
    options = {"kafka.bootstrap.servers": settings.kafka_bootstrap}
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
                "kafka.sasl.jaas.config": (
                    f'{module} required username="{settings.kafka_sasl_username}" '
                    f'password="{settings.kafka_sasl_password}";'
                ),
            }
        )
    return options


def kafka_latest_offsets(settings: Settings) -> Callable[[], Offsets | None]:
    """A function that asks the broker for the newest offset of every watched partition."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    consumer = KafkaConsumer(
        **kafka_client_config(settings),
        client_id="adplatform-monitor-offsets",
        enable_auto_commit=False,
        request_timeout_ms=10_000,
    )

    def latest() -> Offsets | None:
        try:
            partitions = [
                TopicPartition(topic, p)
                for topic in transforms.TOPICS
                for p in sorted(consumer.partitions_for_topic(topic) or ())
            ]
            ends = consumer.end_offsets(partitions)
        except KafkaError as exc:
            log.warning("newest Kafka offsets unknown: %s", exc)
            return None
        offsets: Offsets = {}
        for tp, offset in ends.items():
            offsets.setdefault(tp.topic, {})[str(tp.partition)] = offset
        return offsets

    return latest


def ensure_topics(settings: Settings) -> None:
    """Create the watched topics that do not exist yet, with the broker's defaults.

    The Kafka source fails on a topic that does not exist, and the monitor usually starts
    before the first producer; creating the topic also means the first records written to
    it are read (``latest`` of an empty topic is its first offset).
    """
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(**kafka_client_config(settings), client_id="adplatform-monitor")
    try:
        missing = [t for t in transforms.TOPICS if t not in set(admin.list_topics())]
        for topic in missing:
            try:
                admin.create_topics([NewTopic(topic, num_partitions=-1, replication_factor=-1)])
                log.info("created topic %s with the broker's defaults", topic)
            except TopicAlreadyExistsError:
                pass  # a producer created it meanwhile
    finally:
        admin.close()


def run(settings: Settings, options: Options) -> None:
    started = time.monotonic()
    spark = SparkSession.builder.appName("adplatform-stream-monitor").getOrCreate()
    # One line per micro-batch from this module; Spark's INFO lines would bury them.
    spark.sparkContext.setLogLevel("WARN")
    ensure_topics(settings)
    registry = CollectorRegistry()
    metrics = StreamMetrics(registry)
    monitor = Monitor(spark, settings, metrics, options, kafka_latest_offsets(settings))
    log.info("Spark session ready in %.1fs; warming up", time.monotonic() - started)
    monitor.warm_up()
    log.info("warmed up after %.1fs", time.monotonic() - started)

    source = spark.readStream.format("kafka")
    for key, value in kafka_source_options(settings).items():
        source = source.option(key, value)
    kafka = (
        source.option("subscribe", ",".join(transforms.TOPICS))
        .option("startingOffsets", "latest")
        # Records removed by retention while the monitor was down are gone; go on.
        .option("failOnDataLoss", "false")
        .option("maxOffsetsPerTrigger", options.max_offsets_per_trigger)
        .load()
    )
    spark.streams.addListener(ProgressListener(monitor))
    query = (
        transforms.kafka_records(kafka)
        .writeStream.queryName(QUERY_NAME)
        .foreachBatch(monitor.process_batch)
        .trigger(processingTime=f"{options.trigger_s} seconds")
        .option("checkpointLocation", f"{checkpoint_root(settings)}/query")
        .start()
    )
    # Serve /metrics once the first micro-batch is done: "up" then means that the query
    # has fixed where it reads from, so every record produced from now on is counted.
    while query.lastProgress is None:
        if not query.isActive:
            query.awaitTermination()  # raises the query's error
        time.sleep(0.2)
    start_http_server(settings.stream_monitor_port, addr=settings.host, registry=registry)
    log.info(
        "watching %s on %s; metrics on http://%s:%d/metrics",
        ", ".join(transforms.TOPICS),
        settings.kafka_bootstrap,
        settings.host,
        settings.stream_monitor_port,
    )
    stop = threading.Event()
    threading.Thread(
        target=housekeeping_loop, args=(monitor, stop), name="housekeeping", daemon=True
    ).start()
    try:
        query.awaitTermination()
    finally:
        stop.set()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--trigger-seconds", type=int, default=Options.trigger_s, help="micro-batch interval"
    )
    parser.add_argument(
        "--dedup-window-minutes",
        type=int,
        default=int(Options.dedup_window.total_seconds() // 60),
        help="how long an event id is remembered to count duplicates",
    )
    parser.add_argument(
        "--max-offsets-per-trigger",
        type=int,
        default=Options.max_offsets_per_trigger,
        help="most records one micro-batch reads (a backlog is read in several)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("kafka").setLevel(logging.WARNING)
    options = Options(
        trigger_s=args.trigger_seconds,
        dedup_window=timedelta(minutes=args.dedup_window_minutes),
        max_offsets_per_trigger=args.max_offsets_per_trigger,
    )
    run(settings_module.load(), options)


if __name__ == "__main__":
    main()
