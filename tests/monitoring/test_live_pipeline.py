"""The whole monitoring path with real services on free ports: BatchRun pushes to a real
Pushgateway, StreamMetrics is served like the stream monitor serves it, a real Prometheus
scrapes both and evaluates monitoring/prometheus/rules/, a real Alertmanager with the rendered
monitoring/alertmanager/alertmanager.yml routes and inhibits, and a webhook receiver started
here gets the notifications. Every dashboard query must return data from that Prometheus."""

from __future__ import annotations

import http.server
import json
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, start_http_server

from adplatform.metrics import BatchRun, StreamMetrics

from .conftest import (
    ALERTMANAGER_CONFIG,
    RULES_DIR,
    Service,
    free_port,
    require_tool,
    start_pushgateway,
    wait_http,
)
from .dashboards import as_promql, dashboard_queries

TOPICS = ("ad_impressions", "bid_requests")


class Webhook:
    """Collects the JSON that Alertmanager posts."""

    def __init__(self) -> None:
        self.payloads: list[dict] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.payloads.append(json.loads(body))
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


@dataclass
class Live:
    prometheus: str
    alertmanager: str
    pushgateway: str
    webhook: Webhook
    services: list[Service] = field(default_factory=list)


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def query(prometheus: str, expr: str) -> dict:
    url = f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        return get_json(url)
    except urllib.error.HTTPError as exc:
        return json.loads(exc.read())


def eventually(check: Callable[[], object], timeout_s: float, what: str) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.5)
    pytest.fail(f"{what} did not happen within {timeout_s}s")


def push_batch_runs(pushgateway: str) -> None:
    now = time.time()
    with BatchRun("clean_impressions", "impressions", "scheduled__ok", gateway=pushgateway) as run:
        run.rows_read(1000)
        run.rows_written(990)
        run.rows_quarantined(4)
        run.rows_deduplicated(6)
        run.newest_event(now - 3600)
    with BatchRun("clean_tracking", "clicks", "scheduled__bad_input", gateway=pushgateway) as run:
        run.rows_read(100)
        run.rows_quarantined(30)  # 30%: QuarantineRateHigh at both levels
        run.rows_written(70)
        run.newest_event(now - 3600)
    with BatchRun(
        "land_kafka",
        "ad_impressions",
        "scheduled__h",
        gateway=pushgateway,
        expected_interval_s=3600,
    ) as run:
        run.rows_read(500)
        run.rows_written(500)
        run.landing_hour_closed(now - 600)
        run.late_records(0)  # every landing run pushes it, 0 when no hour got late records
    with (
        pytest.raises(RuntimeError),
        BatchRun("clean_bids", "bid_requests", "scheduled__broken", gateway=pushgateway) as run,
    ):
        run.rows_read(10)
        raise RuntimeError("the job failed")
    with (
        pytest.raises(RuntimeError),
        BatchRun("build_ad_funnel", "ad_funnel", "scheduled__funnel", gateway=pushgateway) as run,
    ):
        run.expectation(
            "ad_funnel",
            "expect_column_values_to_be_unique(impression_id)",
            success=False,
            unexpected_count=2,
        )
        run.expectation("ad_funnel", "expect_column_values_to_not_be_null(user_id)", success=True)
        raise RuntimeError("critical expectation failed")


def feed_stream_metrics(stream: StreamMetrics, stop: threading.Event) -> None:
    """What the monitor does per micro-batch, a few times a second."""
    for topic in TOPICS:
        stream.records.labels(topic=topic).inc(0)
    while not stop.is_set():
        now = time.time()
        for topic in TOPICS:
            stream.records.labels(topic=topic).inc(200)
            stream.bytes.labels(topic=topic).inc(200 * 512)
            stream.parse_errors.labels(topic=topic).inc(1)
            stream.schema_violations.labels(topic=topic).inc(1)
            stream.duplicates.labels(topic=topic).inc(2)
            for q, lag in zip(("0.5", "0.95", "0.99"), (2.0, 8.0, 15.0), strict=True):
                stream.event_lag.labels(topic=topic, quantile=q).set(lag)
            stream.event_lag_mean.labels(topic=topic).set(3.0)
            stream.volume_expected.labels(topic=topic).set(24000)
            stream.volume_anomaly_score.labels(topic=topic).set(0.3)
            stream.consumer_lag.labels(topic=topic).set(0)
            stream.last_batch.labels(topic=topic).set(now)
        stop.wait(0.2)


def prometheus_config(pushgateway: str, stream_port: int, alertmanager: str) -> str:
    def target(url: str) -> str:
        return url.split("://", 1)[1]

    return json.dumps(
        {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES_DIR / "*.yml")],
            "alerting": {
                "alertmanagers": [{"static_configs": [{"targets": [target(alertmanager)]}]}]
            },
            "scrape_configs": [
                {
                    "job_name": "pushgateway",
                    "honor_labels": True,
                    "static_configs": [{"targets": [target(pushgateway)]}],
                },
                {
                    "job_name": "stream_monitor",
                    "static_configs": [{"targets": [f"127.0.0.1:{stream_port}"]}],
                },
            ],
        }
    )


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    prometheus_bin = require_tool("prometheus")
    alertmanager_bin = require_tool("prometheus-alertmanager")
    workdir: Path = tmp_path_factory.mktemp("live")
    services: list[Service] = []
    webhook = Webhook()
    stop = threading.Event()
    stream_server = None
    try:
        pg_service, pushgateway = start_pushgateway(workdir)
        services.append(pg_service)

        registry = CollectorRegistry()
        stream = StreamMetrics(registry)
        stream_port = free_port()
        stream_server, _ = start_http_server(stream_port, addr="127.0.0.1", registry=registry)
        threading.Thread(target=feed_stream_metrics, args=(stream, stop), daemon=True).start()

        am_port = free_port()
        alertmanager = f"http://127.0.0.1:{am_port}"
        am_config = workdir / "alertmanager.yml"
        am_config.write_text(
            ALERTMANAGER_CONFIG.read_text().replace("{{WEBHOOK_URL}}", webhook.url)
        )
        am = Service(
            [
                alertmanager_bin,
                f"--config.file={am_config}",
                f"--storage.path={workdir / 'alertmanager'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
            ],
            workdir,
            "alertmanager",
        )
        services.append(am)
        wait_http(f"{alertmanager}/-/ready", proc=am.proc)

        prom_port = free_port()
        prometheus = f"http://127.0.0.1:{prom_port}"
        prom_config = workdir / "prometheus.yml"
        prom_config.write_text(prometheus_config(pushgateway, stream_port, alertmanager))
        prom = Service(
            [
                prometheus_bin,
                f"--config.file={prom_config}",
                f"--storage.tsdb.path={workdir / 'prometheus'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            workdir,
            "prometheus",
        )
        services.append(prom)
        wait_http(f"{prometheus}/-/ready", proc=prom.proc)

        push_batch_runs(pushgateway)
        yield Live(prometheus, alertmanager, pushgateway, webhook, services)
    finally:
        stop.set()
        if stream_server is not None:
            stream_server.shutdown()
        for service in reversed(services):
            service.stop()
        webhook.close()


def test_every_dashboard_query_returns_data(live: Live) -> None:
    # Rates need a few scrapes of the stream endpoint.
    eventually(
        lambda: query(live.prometheus, "rate(adtech_stream_records_total[30s]) > 0")["data"][
            "result"
        ],
        30,
        "stream metrics in Prometheus",
    )
    eventually(
        lambda: query(live.prometheus, "adtech_dq_expectation_success")["data"]["result"],
        30,
        "batch metrics in Prometheus",
    )
    empty = []
    for board, title, expr in dashboard_queries():
        answer = query(live.prometheus, as_promql(expr))
        assert answer["status"] == "success", f"{board} / {title}: {answer.get('error')}"
        if not answer["data"]["result"]:
            empty.append(f"{board} / {title}: {expr}")
    assert empty == [], "queries without data"


def firing(live: Live) -> set[tuple[str, str, str, str]]:
    alerts = get_json(f"{live.prometheus}/api/v1/alerts")["data"]["alerts"]
    return {
        (
            a["labels"]["alertname"],
            a["labels"]["severity"],
            a["labels"].get("job", ""),
            a["labels"].get("run_id", ""),
        )
        for a in alerts
        if a["state"] == "firing"
    }


def test_alerts_fire_with_the_run_id_and_resolve_when_the_job_succeeds(live: Live) -> None:
    expected = {
        ("BatchJobFailed", "warning", "clean_bids", "scheduled__broken"),
        ("BatchJobFailed", "warning", "build_ad_funnel", "scheduled__funnel"),
        ("DataQualityCriticalFailure", "critical", "build_ad_funnel", "scheduled__funnel"),
        ("QuarantineRateHigh", "warning", "clean_tracking", "scheduled__bad_input"),
        ("QuarantineRateHigh", "critical", "clean_tracking", "scheduled__bad_input"),
    }
    eventually(lambda: expected <= firing(live), 60, f"alerts {expected} firing")
    unexpected = {a for a in firing(live) if a[2] in {"clean_impressions", "land_kafka"}}
    assert unexpected == set(), "healthy jobs raised alerts"

    with BatchRun(
        "clean_bids", "bid_requests", "scheduled__retry", gateway=live.pushgateway
    ) as run:
        run.rows_read(10)
        run.rows_written(10)
    eventually(
        lambda: (
            not {a for a in firing(live) if a[:3] == ("BatchJobFailed", "warning", "clean_bids")}
        ),
        60,
        "BatchJobFailed resolving after a successful run",
    )


def test_alertmanager_delivers_by_severity_and_inhibits_the_warning(live: Live) -> None:
    def delivered() -> set[tuple[str, str, str]]:
        return {
            (payload["receiver"], alert["labels"]["alertname"], alert["labels"]["severity"])
            for payload in live.webhook.payloads
            for alert in payload["alerts"]
            if alert["status"] == "firing"
        }

    eventually(
        lambda: (
            {
                ("oncall-critical", "DataQualityCriticalFailure", "critical"),
                ("oncall-critical", "QuarantineRateHigh", "critical"),
            }
            <= delivered()
        ),
        60,
        "critical alerts delivered to the webhook",
    )

    def quarantine_warning() -> dict | None:
        alerts = get_json(
            f"{live.alertmanager}/api/v2/alerts?"
            + urllib.parse.urlencode({"filter": 'alertname="QuarantineRateHigh"'})
        )
        return next((a for a in alerts if a["labels"]["severity"] == "warning"), None)

    warning = eventually(quarantine_warning, 30, "the warning level in Alertmanager")
    assert warning["status"]["state"] == "suppressed"
    assert warning["status"]["inhibitedBy"]

    # The warning route waits longer (group_wait 30s) before its first notification.
    eventually(
        lambda: (
            ("oncall-warning", "DataQualityCriticalFailure", "critical") not in delivered()
            and ("oncall-warning", "QuarantineRateHigh", "warning") not in delivered()
            and any(receiver == "oncall-warning" for receiver, _, _ in delivered())
        ),
        60,
        "a warning delivered to oncall-warning",
    )
