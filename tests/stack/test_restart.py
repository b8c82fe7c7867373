"""After `stack down` and `stack up`, Kafka's topic data and HDFS's files are still there."""

from __future__ import annotations

import getpass

import pytest
import requests
from kafka import KafkaConsumer, KafkaProducer

from adplatform.stack import manager
from tests.stack_fixtures import free_port_settings

pytestmark = pytest.mark.stack

SERVICES = ["kafka", "hdfs-datanode"]


def _webhdfs(settings, path: str) -> str:
    return f"http://{settings.host}:{settings.hdfs_namenode_http_port}/webhdfs/v1{path}"


def test_data_survives_a_restart(tmp_path):
    # A stack of its own: restarting the shared test stack would disturb other tests.
    settings = free_port_settings(tmp_path)
    try:
        manager.up(settings, SERVICES)
        producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
        for i in range(5):
            producer.send("restart-test", key=b"k", value=f"v{i}".encode())
        producer.flush()
        producer.close()
        created = requests.put(
            _webhdfs(settings, "/restart/file.txt"),
            params={"op": "CREATE", "user.name": getpass.getuser(), "overwrite": "true"},
            data=b"kept across restarts",
            timeout=30,
        )
        assert created.status_code == 201, created.text

        manager.down(settings, SERVICES)
        assert all(r.pid is None for r in manager.status(settings, SERVICES))
        manager.up(settings, SERVICES)

        consumer = KafkaConsumer(
            "restart-test",
            bootstrap_servers=settings.kafka_bootstrap,
            auto_offset_reset="earliest",
            consumer_timeout_ms=10_000,
        )
        assert [r.value for r in consumer] == [f"v{i}".encode() for i in range(5)]
        consumer.close()
        content = requests.get(
            _webhdfs(settings, "/restart/file.txt"),
            params={"op": "OPEN", "user.name": getpass.getuser()},
            timeout=30,
        )
        assert content.content == b"kept across restarts"
    finally:
        manager.down(settings, SERVICES)
