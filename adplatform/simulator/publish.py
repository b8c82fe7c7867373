"""Publishing a simulator run to Kafka with confluent-kafka, in simulated arrival order.

The records come from the run's ``kafka/<topic>/*.avro`` files (one per generated hour,
each sorted by timestamp) merged into one stream ordered by arrival time, so each topic
partition receives its records in the order they "happened". Every record's timestamp is
its simulated arrival time: landing partitions by that timestamp, so three simulated days
published in one minute land in three days of hour partitions.

When ``ADPLATFORM_SCHEMA_REGISTRY_URL`` is set, the registry-less schema id of each bid
request (``-N``: version N of the repository's schema) is replaced by the registry's id of
that schema version; the Avro body is unchanged.

The producer is librdkafka's (confluent-kafka), idempotent with ``acks=all``: a broker that
stops and comes back while the run is sent costs neither a record nor a duplicate. With
kafka-python's idempotent producer the same stop once left 29 records twice in the topic
(the broker chaos test, docs/chaos.md), and it is 12x slower (docs/simulator.md).
"""

from __future__ import annotations

import heapq
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adplatform import contracts
from adplatform.errors import UserError
from adplatform.settings import Settings
from adplatform.simulator import writers
from adplatform.simulator.clock import HOUR_MS

TOPICS = (contracts.TOPIC_BID_REQUESTS, contracts.TOPIC_AD_IMPRESSIONS)
# Kafka 4 brokers reject record timestamps more than an hour ahead of their clock
# (log.message.timestamp.after.max.ms = 3600000 by default).
FUTURE_LIMIT_MS = 3_600_000
# How long publishing waits for a broker to answer before it says that none does.
BROKER_WAIT_S = 10.0

log = logging.getLogger(__name__)


@dataclass
class PublishResult:
    records: int = 0
    seconds: float = 0.0
    by_topic: dict[str, int] = field(default_factory=dict)

    @property
    def records_per_s(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


def producer_config(settings: Settings) -> dict[str, Any]:
    """librdkafka producer settings: no loss, no duplicates from retries, big batches."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap,
        "client.id": "adplatform-simulator",
        "acks": "all",
        "enable.idempotence": True,
        # Idempotence keeps order and exactly-once per partition with up to 5 in flight.
        "max.in.flight.requests.per.connection": 5,
        "linger.ms": 20,
        "batch.size": 512 * 1024,
        "request.timeout.ms": 30_000,
        # A record still unacknowledged after 5 min (broker gone for good) fails the run.
        "message.timeout.ms": 300_000,
        # librdkafka's own log lines go through Python logging, not straight to stderr.
        "logger": log,
    }
    if settings.kafka_security_protocol != "PLAINTEXT":
        config.update(
            {
                "security.protocol": settings.kafka_security_protocol,
                "sasl.mechanism": settings.kafka_sasl_mechanism,
                "sasl.username": settings.kafka_sasl_username,
                "sasl.password": settings.kafka_sasl_password,
            }
        )
    return config


def records(out_dir: Path) -> Iterator[tuple[int, str, bytes | None, bytes]]:
    """(timestamp_ms, topic, key, value) of a run, merged in arrival order."""

    def one_file(topic: str, path: Path) -> Iterator[tuple[int, str, str, int, Any, bytes]]:
        for index, rec in enumerate(writers.read_kafka_records(path)):
            yield rec["timestamp_ms"], topic, path.name, index, rec["key"], rec["value"]

    streams = [
        one_file(topic, path) for topic in TOPICS for path in writers.kafka_files(out_dir, topic)
    ]
    for ts, topic, _, _, key, value in heapq.merge(*streams, key=lambda r: r[:4]):
        yield ts, topic, key, value


def _newest_arrival_ms(out_dir: Path) -> int | None:
    """Latest possible arrival of the run's Kafka records (end of the newest arrival hour)."""
    path = out_dir / writers.MANIFEST
    if not path.exists():
        return None
    raw = json.loads(path.read_text(encoding="utf-8"))["raw_records"]
    hours = [
        h
        for t in ("bid_requests", "ad_impressions")
        for h in raw.get(t, {}).get("by_arrival_hour", {})
    ]
    if not hours:
        return None
    newest = datetime.strptime(max(hours), "%Y-%m-%dT%H").replace(tzinfo=UTC)
    return int(newest.timestamp() * 1000) + HOUR_MS


class _Reframer:
    """Swaps registry-less schema ids for Schema Registry ids (registered on first use)."""

    def __init__(self, settings: Settings) -> None:
        url = settings.schema_registry_url
        self.registry = contracts.SchemaRegistryClient(url) if url else None
        self.ids: dict[int, int] = {}

    def __call__(self, value: bytes) -> bytes:
        if self.registry is None:
            return value
        try:
            local_id, body = contracts.unframe(value)
        except contracts.DecodeError:
            return value  # a corrupt payload is published as it is
        version = -local_id
        if version not in contracts.BID_REQUEST_SCHEMA_FILES:
            return value
        if local_id not in self.ids:
            text = contracts.bid_request_schema_text(version)
            self.ids[local_id] = self.registry.register(contracts.BID_REQUEST_SUBJECT, text)
        return contracts.frame(self.ids[local_id], body)


def publish(
    out_dir: Path,
    settings: Settings,
    progress: Callable[[int], None] | None = None,
    producer_factory: Callable[..., Any] | None = None,
    topic_prefix: str = "",
) -> PublishResult:
    """Send every Kafka record of a run; returns counts and the measured rate.

    ``topic_prefix`` sends to other topics than the platform's (benchmarks, experiments).
    """
    from confluent_kafka import KafkaException, Producer

    newest = _newest_arrival_ms(out_dir)
    if newest is not None and newest > time.time() * 1000 + FUTURE_LIMIT_MS:
        raise UserError(
            "the run's simulated arrivals reach past the wall clock + 1 h, and Kafka 4 rejects "
            "such timestamps (log.message.timestamp.after.max.ms); simulate with an earlier "
            "--start-date"
        )
    producer = (producer_factory or Producer)(producer_config(settings))
    try:
        producer.list_topics(timeout=BROKER_WAIT_S)
    except KafkaException:
        raise UserError(
            f"no Kafka broker answers at {settings.kafka_bootstrap}; "
            "start one with `adplatform stack up` or set ADPLATFORM_KAFKA_HOST/PORT"
        ) from None
    reframe = _Reframer(settings)
    errors: list[Any] = []

    def delivered(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(err)

    result = PublishResult(by_topic={t: 0 for t in TOPICS})
    started = time.monotonic()
    try:
        for ts, topic, key, value in records(out_dir):
            if topic == contracts.TOPIC_BID_REQUESTS:
                value = reframe(value)
            while True:
                try:
                    producer.produce(
                        topic_prefix + topic,
                        value=value,
                        key=key,
                        timestamp=ts,
                        on_delivery=delivered,
                    )
                    break
                except BufferError:  # the local queue is full: let deliveries drain it
                    producer.poll(0.1)
            producer.poll(0)
            result.records += 1
            result.by_topic[topic] += 1
            if progress is not None and result.records % 1000 == 0:
                progress(1000)
            if errors:
                break
        producer.flush()
    except KafkaException as exc:
        raise UserError(f"publishing to Kafka at {settings.kafka_bootstrap} failed: {exc}") from exc
    if errors:
        raise UserError(f"Kafka refused a record, publishing stopped: {errors[0]}")
    if progress is not None:
        progress(result.records % 1000)
    result.seconds = time.monotonic() - started
    return result
