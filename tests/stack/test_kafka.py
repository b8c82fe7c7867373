"""The embedded Kafka broker (KRaft) with the kafka-python client."""

from __future__ import annotations

import uuid

import pytest
from kafka import KafkaConsumer, KafkaProducer

pytestmark = pytest.mark.stack


def _consume(settings, topic: str, group: str, max_records: int) -> list[bytes]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=10_000,
    )
    values = []
    for record in consumer:
        values.append(record.value)
        if len(values) == max_records:
            break
    consumer.commit()
    consumer.close()
    return values


def test_produce_consume_and_resume_from_committed_offsets(kafka_settings):
    topic, group = f"test-{uuid.uuid4().hex[:8]}", "test-group"
    producer = KafkaProducer(bootstrap_servers=kafka_settings.kafka_bootstrap, acks="all")
    sent = [f"event-{i}".encode() for i in range(10)]
    for value in sent:
        # One partition key: the order of the values is the order they are read back.
        producer.send(topic, key=b"k", value=value)
    producer.flush()
    producer.close()

    first = _consume(kafka_settings, topic, group, max_records=4)
    # A new consumer in the same group starts after the committed offset: no re-read.
    rest = _consume(kafka_settings, topic, group, max_records=100)

    assert first == sent[:4]
    assert rest == sent[4:]
