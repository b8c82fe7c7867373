"""connectors/: HDFS sink configs agree with the data contracts, and register.sh is an
idempotent PUT of each config (run against a stand-in of the Kafka Connect REST API)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from adplatform import contracts, settings
from tests.deploy import compose_file as cf

CONNECTORS = cf.REPO / "connectors"
CONFIGS = {p.stem: json.loads(p.read_text()) for p in sorted(CONNECTORS.glob("*.json"))}
BY_TOPIC = {c["topics"]: c for c in CONFIGS.values()}
EVENT_TIME_FIELD = "event_ts"


def test_one_connector_per_contract_topic():
    assert set(BY_TOPIC) == {contracts.TOPIC_AD_IMPRESSIONS, contracts.TOPIC_BID_REQUESTS}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_common_rules(name):
    config = CONFIGS[name]
    assert config["name"] == name
    assert config["connector.class"] == "io.confluent.connect.hdfs.HdfsSinkConnector"
    # Partitioned by the record's own event time, hourly, in UTC; never by wall clock.
    assert config["partitioner.class"].endswith("TimeBasedPartitioner")
    assert config["timestamp.extractor"] == "RecordField"
    assert config["timestamp.field"] == EVENT_TIME_FIELD
    assert config["timezone"] == "UTC"
    assert config["partition.duration.ms"] == "3600000"
    # Files are closed by size, by record time, and on a schedule for quiet partitions.
    assert int(config["flush.size"]) > 0
    assert int(config["rotate.interval.ms"]) > 0
    assert int(config["rotate.schedule.interval.ms"]) > 0
    # Bad records go to a dead-letter topic with the reason in its headers.
    assert config["errors.tolerance"] == "all"
    assert config["errors.deadletterqueue.topic.name"] == f"{config['topics']}_dlq"
    assert config["errors.deadletterqueue.context.headers.enable"] == "true"
    # Payloads carry IPs and device ids: never copy them into the worker's log.
    assert config["errors.log.include.messages"] == "false"
    assert config["hive.integration"] == "false", "the Hive DDL in hive/ owns the tables"


def test_impressions_are_schemaless_json_with_event_ts_in_the_contract():
    config = BY_TOPIC[contracts.TOPIC_AD_IMPRESSIONS]
    assert config["value.converter"] == "org.apache.kafka.connect.json.JsonConverter"
    assert config["value.converter.schemas.enable"] == "false"
    assert config["format.class"] == "io.confluent.connect.hdfs.json.JsonFormat"
    schema = contracts.impression_json_schema()
    assert EVENT_TIME_FIELD in schema["required"]


def test_bid_requests_are_avro_through_the_schema_registry_with_event_ts_in_the_schema():
    config = BY_TOPIC[contracts.TOPIC_BID_REQUESTS]
    assert config["value.converter"] == "io.confluent.connect.avro.AvroConverter"
    assert config["value.converter.schema.registry.url"] == "${env:ADPLATFORM_SCHEMA_REGISTRY_URL}"
    assert config["format.class"] == "io.confluent.connect.hdfs.avro.AvroFormat"
    assert config["schema.compatibility"] == "BACKWARD"
    fields = {f["name"]: f for f in contracts.bid_request_schema()["fields"]}
    assert fields[EVENT_TIME_FIELD]["type"]["logicalType"] == "timestamp-millis"


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_env_references_are_settings_set_on_the_connect_worker(name):
    fields = {f.name for f in settings.dataclasses.fields(settings.Settings)}
    worker_env = cf.environment(cf.compose().services["kafka-connect"])
    platform_env = cf.environment(cf.compose().services["airflow-scheduler"])
    for ref in re.findall(r"\$\{env:([A-Z0-9_]+)\}", json.dumps(CONFIGS[name])):
        assert ref.removeprefix(settings.ENV_PREFIX).lower() in fields
        # The worker sees the same value the jobs do.
        assert worker_env[ref] == platform_env[ref], ref
    assert worker_env["CONNECT_CONFIG_PROVIDERS"] == "env"


def test_dead_letter_topics_exist_in_compose():
    topics = cf.environment(cf.compose().services["kafka-init"])["KAFKA_TOPICS"]
    for config in CONFIGS.values():
        assert config["errors.deadletterqueue.topic.name"] + ":" in topics


# ---- register.sh against a stand-in Connect REST API ----------------------------------------


class FakeConnect:
    """Records PUT /connectors/<name>/config; answers status with a chosen state."""

    def __init__(self, state: str = "RUNNING") -> None:
        self.state = state
        self.configs: dict[str, dict] = {}
        self.puts: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path == "/connectors":
                    return self._send(200, sorted(fake.configs))
                match = re.fullmatch(r"/connectors/([^/]+)/status", self.path)
                if match and match.group(1) in fake.configs:
                    task = {"id": 0, "state": fake.state, "worker_id": "w:8083"}
                    return self._send(
                        200,
                        {
                            "name": match.group(1),
                            "connector": {"state": fake.state},
                            "tasks": [task],
                        },
                    )
                return self._send(404, {"error_code": 404})

            def do_PUT(self):
                match = re.fullmatch(r"/connectors/([^/]+)/config", self.path)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                created = match.group(1) not in fake.configs
                fake.configs[match.group(1)] = body
                fake.puts.append(match.group(1))
                self._send(201 if created else 200, {"name": match.group(1), "config": body})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_connect():
    fakes: list[FakeConnect] = []

    def make(state: str = "RUNNING") -> FakeConnect:
        fakes.append(FakeConnect(state))
        return fakes[-1]

    yield make
    for fake in fakes:
        fake.close()


def _register(url: str, *configs: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("curl") is None:
        pytest.fail("register.sh needs curl: apt-get install curl")
    return subprocess.run(
        ["bash", str(CONNECTORS / "register.sh"), *map(str, configs)],
        env={"CONNECT_URL": url, "REGISTER_TIMEOUT_S": "10", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_register_puts_every_config_and_is_idempotent(fake_connect):
    fake = fake_connect()
    first = _register(fake.url)
    assert first.returncode == 0, first.stderr
    assert sorted(fake.puts) == sorted(CONFIGS)
    assert fake.configs == CONFIGS
    second = _register(fake.url)
    assert second.returncode == 0, second.stderr
    assert fake.configs == CONFIGS, "running it again changes nothing"
    assert "RUNNING" in second.stdout


def test_register_fails_loudly_when_a_connector_fails(fake_connect):
    result = _register(fake_connect("FAILED").url)
    assert result.returncode != 0
    assert "FAILED:" in result.stderr
    assert "not RUNNING within" not in result.stderr, "reported at once, not after a timeout"


def test_register_refuses_a_file_whose_name_differs_from_its_connector(fake_connect, tmp_path):
    wrong = tmp_path / "other-name.json"
    wrong.write_text(json.dumps(CONFIGS[sorted(CONFIGS)[0]]))
    result = _register(fake_connect().url, wrong)
    assert result.returncode != 0
    assert "must be" in result.stderr
