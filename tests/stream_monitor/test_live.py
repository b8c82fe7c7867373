"""The stream monitor live: real Kafka, HDFS, Prometheus and Alertmanager on free ports, the
monitor started by spark-submit as the stack starts it, and a webhook receiver started here.

One monitor process runs at a time; the tests run in file order and share it:

1. fresh records reach Prometheus within 60 s, with exact counts and a plausible lag (the
   measured delay from producing to seeing the count in Prometheus is printed);
2. a simulator run with faults: records, bytes, parse errors, schema violations and
   duplicates in Prometheus equal what the plain-Python reference of the contract says;
3. a restart reads what arrived while it was down, once, and nothing from before, and still
   knows the ids it saw before (dedup state) and its volume baseline;
4. a burst of malformed records raises ParseErrorRateHigh, and Alertmanager delivers it to
   the webhook receiver.
"""

from __future__ import annotations

import dataclasses
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from kafka import KafkaProducer

from adplatform import contracts, lake
from adplatform.contracts import Reason, Rules
from adplatform.settings import Settings
from adplatform.simulator import reference
from adplatform.stack import manager
from adplatform.stack.stream_monitor import StreamMonitor
from tests.stack_fixtures import free_port_settings

from . import records as make

pytestmark = [pytest.mark.stack, pytest.mark.slow]

IMPS, BIDS = contracts.TOPIC_AD_IMPRESSIONS, contracts.TOPIC_BID_REQUESTS
SERVICES = ("kafka", "hdfs-datanode", "prometheus", "alertmanager")
VISIBLE_WITHIN_S = 60
# Payloads that can not be decoded at all (docs/data-contracts.md §3, step 1 of each source).
UNDECODABLE = {
    Reason.INVALID_UTF8,
    Reason.MALFORMED_JSON,
    Reason.BAD_MAGIC_BYTE,
    Reason.UNKNOWN_SCHEMA_ID,
    Reason.UNDECODABLE_AVRO,
}


class Webhook:
    """Collects what Alertmanager posts."""

    def __init__(self) -> None:
        self.payloads: list[dict] = []
        received = self.payloads

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclasses.dataclass
class Live:
    settings: Settings
    webhook: Webhook
    producer: KafkaProducer
    workdir: Path
    monitor: StreamMonitor = dataclasses.field(default_factory=StreamMonitor)

    @property
    def handle(self):
        return manager.handle(self.settings, self.monitor)

    def start_monitor(self) -> None:
        """Start the monitor exactly as `adplatform stack up` starts a service."""
        settings, service = self.settings, self.monitor
        service.prepare(settings)
        env = {**os.environ, **settings.as_env(), **service.env(settings)}
        self.handle.start(service.command(settings), env, cwd=service.home(settings))
        deadline = time.monotonic() + settings.start_timeout_s
        while not service.healthy(settings):
            if self.handle.pid() is None:
                pytest.fail(f"the stream monitor exited; see {self.handle.log_file}")
            if time.monotonic() > deadline:
                pytest.fail(f"the stream monitor was not healthy within "
                            f"{settings.start_timeout_s}s; see {self.handle.log_file}")  # fmt: skip
            time.sleep(1)

    def stop_monitor(self) -> None:
        self.handle.stop()

    def send(self, topic: str, values: list[bytes]) -> float:
        """Produce the values and wait for the broker's acks; returns the time they were sent."""
        sent = time.time()
        for value in values:
            self.producer.send(topic, value)
        self.producer.flush()
        return sent

    def query(self, expr: str) -> dict[str, float]:
        """Instant query of the stream monitor's series, by topic."""
        response = requests.get(
            f"{self.settings.prometheus_url}/api/v1/query", params={"query": expr}, timeout=10
        )
        result = response.json()["data"]["result"]
        return {r["metric"].get("topic", ""): float(r["value"][1]) for r in result}


def eventually(check: Callable[[], object], timeout_s: float, what: str) -> object:
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    pytest.fail(f"{what} did not happen within {timeout_s:.0f}s (last: {last!r})")


def counters(live: Live, metric: str) -> dict[str, float]:
    return live.query(f'{metric}{{job="stream_monitor"}}')


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    workdir = tmp_path_factory.mktemp("stream_monitor_live")
    webhook = Webhook()
    settings = free_port_settings(workdir / "home", alert_webhook=webhook.url)
    producer = None
    live = None
    try:
        manager.up(settings, SERVICES)
        producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
        live = Live(settings, webhook, producer, workdir)
        live.start_monitor()
        yield live
    finally:
        if live is not None:
            live.stop_monitor()
        if producer is not None:
            producer.close()
        manager.down(settings, SERVICES)
        webhook.close()


def test_fresh_records_are_in_prometheus_within_60s(live: Live):
    event_age = timedelta(seconds=30)
    at = datetime.now(UTC) - event_age
    impressions = [make.impression(at) for _ in range(40)]
    impressions += [make.malformed_impression(), make.impression(at, win_price_micros="1")]
    bids = [make.bid_request(at) for _ in range(60)] + [make.json_instead_of_avro()]
    live.send(BIDS, bids)
    sent = live.send(IMPS, impressions)

    def counts_visible():
        seen = counters(live, "adtech_stream_records_total")
        return seen == {IMPS: 42, BIDS: 61} and seen

    eventually(counts_visible, VISIBLE_WITHIN_S, "the record counts in Prometheus")
    visible = time.time()
    print(f"\nstream monitor: produced -> count in Prometheus in {visible - sent:.1f}s")

    assert counters(live, "adtech_stream_bytes_total") == {
        IMPS: sum(map(len, impressions)),
        BIDS: sum(map(len, bids)),
    }
    assert counters(live, "adtech_stream_parse_errors_total") == {IMPS: 1, BIDS: 1}
    assert counters(live, "adtech_stream_schema_violations_total") == {IMPS: 1, BIDS: 0}
    assert counters(live, "adtech_stream_duplicates_total") == {IMPS: 0, BIDS: 0}

    lag = eventually(
        lambda: (
            (g := live.query('adtech_stream_event_lag_seconds{quantile="0.95"}'))
            and len(g) == 2
            and g
        ),
        10,
        "the event-lag gauges",
    )
    for topic, seconds in lag.items():
        # Measured between sending and the count becoming visible.
        assert sent - at.timestamp() <= seconds <= visible - at.timestamp(), topic
    assert set(live.query("adtech_stream_event_lag_mean_seconds")) == {IMPS, BIDS}
    assert set(live.query("adtech_stream_last_batch_timestamp_seconds")) == {IMPS, BIDS}
    eventually(
        lambda: live.query("adtech_stream_consumer_lag_records") == {IMPS: 0, BIDS: 0},
        15,
        "a consumer lag of zero once everything is read",
    )


def reference_counts(run: Path) -> dict[str, Counter]:
    """Per topic, what the contract's plain-Python reference says the monitor must count.

    ``too_late`` is decided by the daily run that owns a record, not in flight: such a
    record is valid for the monitor. Duplicates are repeats of a valid record's id.
    """
    checker = reference.Reference(Rules())
    topics = {"bid_requests": BIDS, "impressions": IMPS}
    counts = {topic: Counter() for topic in topics.values()}
    ids: dict[str, Counter] = {topic: Counter() for topic in topics.values()}
    for raw in reference.read_raw(run):
        if raw.source not in topics:
            continue
        topic, checked = topics[raw.source], checker.check(raw)
        counts[topic]["records"] += 1
        counts[topic]["bytes"] += len(raw.payload)
        if checked.reason in UNDECODABLE:
            counts[topic]["parse_errors"] += 1
        elif checked.reason not in (None, Reason.TOO_LATE):
            counts[topic]["schema_violations"] += 1
        else:
            ids[topic][checked.fields.get("id") or checked.fields.get("impression_id")] += 1
    for topic, seen in ids.items():
        counts[topic]["duplicates"] = sum(n - 1 for n in seen.values())
    return counts


def test_simulator_faults_are_counted_as_the_reference_says(live: Live):
    before = {
        name: counters(live, f"adtech_stream_{name}_total")
        for name in ("records", "bytes", "parse_errors", "schema_violations", "duplicates")
    }
    run = live.workdir / "simulated"
    # Days back: the simulator's "too late" records arrive up to three days after their
    # event, and Kafka refuses timestamps ahead of its clock.
    start = (datetime.now(UTC) - timedelta(days=5)).date().isoformat()
    argv = [sys.executable, "-m", "adplatform.cli", "simulate", "--out", str(run), "--seed", "5",
            "--days", "1", "--start-date", start, "--events-per-day", "300",
            "--fault-rate", "0.03", "--kafka"]  # fmt: skip
    env = {**os.environ, **live.settings.as_env()}
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]

    expected = reference_counts(run)
    assert all(expected[t]["parse_errors"] and expected[t]["duplicates"] for t in (IMPS, BIDS))

    def increases() -> dict[str, dict[str, float]]:
        return {
            name: {t: v - before[name].get(t, 0) for t, v in counters(
                live, f"adtech_stream_{name}_total").items()}
            for name in before
        }  # fmt: skip

    eventually(
        lambda: increases()["records"] == {t: expected[t]["records"] for t in (IMPS, BIDS)},
        120,
        "every simulated record counted",
    )
    got = increases()
    for name in before:
        assert got[name] == {t: expected[t][name] for t in (IMPS, BIDS)}, name


def test_a_restart_counts_what_arrived_meanwhile_once_and_nothing_before(live: Live):
    checkpoint = lake.checkpoint_path(live.settings, "stream_monitor")
    seen_before = make.impression(datetime.now(UTC), "imp-seen-before-restart")
    before = counters(live, "adtech_stream_records_total")[IMPS]
    live.send(IMPS, [seen_before])
    # Visible in Prometheus: its micro-batch finished (and committed) a scrape ago.
    eventually(
        lambda: counters(live, "adtech_stream_records_total")[IMPS] == before + 1,
        VISIBLE_WITHIN_S,
        "the record sent before the restart",
    )
    # The baseline has learnt a closed minute of both topics (the first minute after the
    # start closes up to two minutes later), so there is something to restore.
    eventually(
        lambda: len(live.query("adtech_stream_volume_expected_records")) == 2,
        150,
        "a closed minute in the volume baseline before the restart",
    )
    live.stop_monitor()

    at = datetime.now(UTC) - timedelta(seconds=5)
    meanwhile_imps = [make.impression(at) for _ in range(7)] + [seen_before]
    meanwhile_bids = [make.bid_request(at) for _ in range(5)]
    live.send(IMPS, meanwhile_imps)
    live.send(BIDS, meanwhile_bids)

    log_size = live.handle.log_file.stat().st_size
    live.start_monitor()
    # The baseline comes back from the lake: what it learnt before the restart, read before
    # the first micro-batch (a fresh baseline would say 0 topic-hours).
    restarted_log = live.handle.log_file.read_bytes()[log_size:].decode(errors="replace")
    restored = re.search(r"volume baseline: (\d+) topic-hours restored", restarted_log)
    assert restored, f"no baseline line in {live.handle.log_file}"
    assert int(restored.group(1)) >= 2, f"the volume baseline restored from {checkpoint}"
    eventually(
        lambda: len(live.query("adtech_stream_volume_expected_records")) == 2,
        VISIBLE_WITHIN_S,
        "the restored volume baseline in Prometheus",
    )
    # A new process starts its counters at zero: after the restart they hold exactly what
    # arrived while it was down, not one record more.
    eventually(
        lambda: counters(live, "adtech_stream_records_total") == {IMPS: 8, BIDS: 5},
        VISIBLE_WITHIN_S,
        "the records that arrived during the restart",
    )
    time.sleep(3 * live.settings.prometheus_scrape_interval_s + 10)
    assert counters(live, "adtech_stream_records_total") == {IMPS: 8, BIDS: 5}
    # The id seen before the restart is still known: its re-send is a duplicate.
    assert counters(live, "adtech_stream_duplicates_total") == {IMPS: 1, BIDS: 0}


def test_a_burst_of_malformed_records_pages_through_alertmanager(live: Live):
    at = datetime.now(UTC)
    # Far above 10 % of the impressions of the last 5 minutes, the simulated ones included.
    burst = [make.malformed_impression() for _ in range(200)]
    burst += [make.impression(at) for _ in range(20)]
    sent = live.send(IMPS, burst)

    def delivered():
        for payload in live.webhook.payloads:
            for alert in payload["alerts"]:
                labels = alert["labels"]
                if (
                    alert["status"] == "firing"
                    and labels["alertname"] == "ParseErrorRateHigh"
                    and labels.get("topic") == IMPS
                    and labels["severity"] == "critical"
                ):
                    return payload
        return None

    # Counted within a minute, pending for the rule's 1 minute, then Alertmanager's 10 s
    # group wait for critical alerts.
    payload = eventually(delivered, 180, "ParseErrorRateHigh delivered to the webhook")
    print(f"\nstream monitor: malformed burst -> page delivered in {time.time() - sent:.0f}s")
    assert payload["receiver"] == "oncall-critical"
    alert = next(a for a in payload["alerts"] if a["labels"]["alertname"] == "ParseErrorRateHigh")
    assert alert["annotations"]["runbook_url"] == "docs/monitoring.md#parseerrorratehigh"
