"""`adplatform simulate` and publishing to Kafka (a fake producer, and a live broker)."""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from datetime import date, datetime, timedelta
from typing import ClassVar

import fastavro
import pytest

from adplatform import contracts
from adplatform.errors import UserError
from adplatform.settings import load
from adplatform.simulator import cli
from adplatform.simulator.generate import SimConfig, simulate
from adplatform.simulator.publish import TOPICS, producer_config, publish, records
from tests.contracts.fake_registry import fake_registry


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="adplatform")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["simulate", *argv])
    return args.func(args)


def test_simulate_command_writes_a_run_with_its_manifest(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["--out", str(out), "--days", "1", "--events-per-day", "300", "--seed", "5"]
    assert run_cli(*argv, "--fault-rate", "0", "--fault", "malformed_json=0.1") == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["seed"] == 5
    assert manifest["config"]["fault_rates"]["malformed_json"] == 0.1
    assert manifest["config"]["fault_rates"]["duplicate"] == 0
    assert set(manifest["faults_total"]["impressions"]) == {"malformed_json"}
    err = capsys.readouterr().err
    assert "simulate [" in err and "100%" in err
    assert "ground truth in" in err

    with pytest.raises(UserError, match="not empty"):
        run_cli(*argv)
    assert run_cli(*argv, "--force") == 0  # replaces an earlier run

    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not a simulator output folder"):
        run_cli("--out", str(other), "--force")
    assert (other / "notes.txt").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--fault", "malformed_json"], "NAME=RATE"),
        (["--fault", "bogus=0.1"], "unknown fault bogus"),
        (["--fault-rate", "1.5"], "not between 0 and 1"),
        (["--fault-rate", "0.2"], "add up to"),
        (["--days", "0"], "at least 1"),
    ],
)
def test_simulate_command_reports_bad_arguments_in_one_line(tmp_path, argv, message):
    with pytest.raises(UserError, match=message):
        run_cli("--out", str(tmp_path / "run"), *argv)


def test_publish_only_needs_a_run(tmp_path):
    with pytest.raises(UserError, match=r"holds no manifest\.json"):
        run_cli("--out", str(tmp_path), "--publish-only")


def test_producer_is_configured_for_no_loss_and_no_duplicates():
    config = producer_config(load({}))
    assert config["acks"] == "all"
    assert config["enable.idempotence"] is True
    assert config["max.in.flight.requests.per.connection"] <= 5
    assert config["linger.ms"] > 0 and config["batch.size"] >= 64 * 1024
    sasl = producer_config(
        load(
            {
                "ADPLATFORM_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "ADPLATFORM_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
                "ADPLATFORM_KAFKA_SASL_USERNAME": "sim",
                "ADPLATFORM_KAFKA_SASL_PASSWORD": "from-env",
            }
        )
    )
    assert sasl["security.protocol"] == "SASL_PLAINTEXT"
    assert sasl["sasl.username"] == "sim"
    assert sasl["sasl.password"] == "from-env"


class FakeProducer:
    """confluent_kafka.Producer's surface that publish uses; records what it is given."""

    sent: ClassVar[list] = []

    def __init__(self, config):
        self.config = config
        FakeProducer.sent = []

    def list_topics(self, timeout):
        return {}

    def produce(self, topic, value, key, timestamp, on_delivery):
        FakeProducer.sent.append((topic, key, value, timestamp))
        on_delivery(None, None)

    def poll(self, timeout):
        return 0

    def flush(self):
        return 0


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("small") / "run"
    return out, simulate(SimConfig(days=2, events_per_day=400, seed=11), out)


def test_publish_sends_every_record_in_arrival_order_with_its_timestamp(small_run):
    out, manifest = small_run
    result = publish(out, load({}), producer_factory=FakeProducer)
    sent = FakeProducer.sent
    assert result.records == len(sent)
    assert result.by_topic == {
        contracts.TOPIC_BID_REQUESTS: manifest["raw_records"]["bid_requests"]["total"],
        contracts.TOPIC_AD_IMPRESSIONS: manifest["raw_records"]["ad_impressions"]["total"],
    }
    stamps = [s[3] for s in sent]
    assert stamps == sorted(stamps)
    # Exactly the records of the files, nothing more, nothing less.
    on_disk = Counter()
    for topic in TOPICS:
        for path in sorted((out / "kafka" / topic).glob("*.avro")):
            with path.open("rb") as fo:
                on_disk.update(
                    (topic, r["key"], r["value"], r["timestamp_ms"]) for r in fastavro.reader(fo)
                )
    assert Counter(sent) == on_disk
    assert min(stamps) >= int(
        datetime.fromisoformat("2025-01-06T00:00:00+00:00").timestamp() * 1000
    )


def test_publish_swaps_local_schema_ids_for_registry_ids(small_run):
    out, _ = small_run
    with fake_registry() as url:
        settings = load({"ADPLATFORM_SCHEMA_REGISTRY_URL": url})
        publish(out, settings, producer_factory=FakeProducer)
        bids = [s for s in FakeProducer.sent if s[0] == contracts.TOPIC_BID_REQUESTS]
        codec = contracts.BidRequestCodec(contracts.SchemaRegistryClient(url))
        decoded = 0
        for _, _, value, _ in bids:
            if value[:1] == b"\x00" and len(value) > 5:
                assert value[1:5] == b"\x00\x00\x00\x64"  # registry id 100
                try:
                    codec.decode(value)
                    decoded += 1
                except contracts.DecodeError:
                    pass  # the injected truncations stay truncated
        assert decoded > 0.9 * len(bids)


class RefusingProducer(FakeProducer):
    """A broker that refuses every record (as a too-large or unauthorized one would be)."""

    def produce(self, topic, value, key, timestamp, on_delivery):
        FakeProducer.sent.append((topic, key, value, timestamp))
        on_delivery("MSG_SIZE_TOO_LARGE", None)


def test_publish_stops_at_the_first_refused_record(small_run):
    out, _ = small_run
    with pytest.raises(UserError, match=r"Kafka refused a record.*MSG_SIZE_TOO_LARGE"):
        publish(out, load({}), producer_factory=RefusingProducer)
    assert len(FakeProducer.sent) == 1


def test_publish_refuses_arrivals_in_the_future(tmp_path):
    out = tmp_path / "run"
    # Two days ahead: every arrival is more than a day past the clock at any time of day
    # (a run of today, tested late in the evening, would have arrived already).
    simulate(SimConfig(days=1, events_per_day=20, start_date=date.today() + timedelta(days=2)), out)
    with pytest.raises(UserError, match="earlier --start-date"):
        publish(out, load({}), producer_factory=FakeProducer)


def test_publish_without_a_broker_says_what_to_do(small_run, monkeypatch):
    out, _ = small_run
    from adplatform.simulator import publish as publish_module
    from adplatform.stack.process import free_port

    monkeypatch.setattr(publish_module, "BROKER_WAIT_S", 1.0)
    settings = load({"ADPLATFORM_KAFKA_PORT": str(free_port())})
    with pytest.raises(UserError, match="no Kafka broker answers"):
        publish(out, settings)


@pytest.mark.stack
def test_publish_to_a_live_broker_and_read_everything_back(kafka_settings, tmp_path):
    from kafka import KafkaConsumer, TopicPartition

    # A start date no other test uses, so that its records can be told apart by timestamp
    # (in the past: Kafka 4 rejects timestamps more than an hour ahead of its clock).
    start = date(2019, 5, 5)
    out = tmp_path / "run"
    manifest = simulate(SimConfig(days=1, events_per_day=500, seed=3, start_date=start), out)
    result = publish(out, kafka_settings)
    raw = manifest["raw_records"]
    assert result.records == raw["bid_requests"]["total"] + raw["ad_impressions"]["total"]
    print(f"published {result.records} records at {result.records_per_s:,.0f} records/s")

    consumer = KafkaConsumer(
        bootstrap_servers=kafka_settings.kafka_bootstrap,
        enable_auto_commit=False,
        consumer_timeout_ms=5000,
    )
    partitions = [
        TopicPartition(topic, p) for topic in TOPICS for p in consumer.partitions_for_topic(topic)
    ]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    end = consumer.end_offsets(partitions)
    lo = int(datetime.fromisoformat(f"{start}T00:00:00+00:00").timestamp() * 1000)
    hi = lo + int(timedelta(days=10).total_seconds() * 1000)
    got = Counter()
    deadline = time.monotonic() + 60
    while any(consumer.position(tp) < end[tp] for tp in partitions):
        assert time.monotonic() < deadline, "could not read the topics back"
        for tp, batch in consumer.poll(timeout_ms=1000).items():
            for msg in batch:
                if lo <= msg.timestamp < hi:
                    got[tp.topic, msg.key, msg.value, msg.timestamp] += 1
    consumer.close()
    expected = Counter((topic, key, value, ts) for ts, topic, key, value in records(out))
    assert got == expected


@pytest.mark.stack
def test_publish_benchmark_runs_against_a_live_broker(kafka_settings, tmp_path):
    from adplatform.simulator.bench import run

    events = int(os.environ.get("ADPLATFORM_BENCH_EVENTS_PER_DAY", "2000"))
    result = run(kafka_settings, events_per_day=events, days=1, work=tmp_path)
    print(json.dumps(result, indent=1))
    assert result["records"] > 3 * events  # bid requests (about 2.5 per impression) + impressions
    assert result["simulator_publish_records_per_s"] > 0
