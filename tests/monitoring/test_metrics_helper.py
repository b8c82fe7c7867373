"""adplatform.metrics against a real Pushgateway: exact values and labels read back from its
/metrics, the grouping that keeps runs apart without piling them up, and a job that keeps
going when the gateway is down."""

from __future__ import annotations

import http.server
import logging
import threading
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from adplatform import metrics
from adplatform.metrics import BatchRun
from adplatform.settings import Settings

from .conftest import free_port

Sample = tuple[str, frozenset[tuple[str, str]], float]


def adtech_samples(gateway: str) -> set[Sample]:
    """Every adtech_* sample the gateway exposes, as (name, labels, value)."""
    with urllib.request.urlopen(f"{gateway}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return {
        (s.name, frozenset(s.labels.items()), s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("adtech_")
    }


def sample(name: str, value: float, **labels: str) -> Sample:
    return (name, frozenset({"instance": "", **labels}.items()), float(value))


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def run_labels(job: str, source: str, run_id: str) -> dict[str, str]:
    return {"job": job, "source": source, "run_id": run_id}


NEWEST_EVENT = datetime(2024, 5, 1, 23, 59, 0, tzinfo=UTC)
NEWEST_EVENT_EPOCH = 1714607940.0


def test_successful_run_pushes_exact_values_and_labels(pushgateway: str) -> None:
    clock = Clock(1000.0)
    with BatchRun(
        "clean_impressions",
        "impressions",
        "scheduled__2024-05-01T00:00:00+00:00",
        gateway=pushgateway,
        clock=clock,
    ) as run:
        run.rows_read(60)
        run.rows_read(40)
        run.rows_written(90)
        run.rows_quarantined(6)
        run.rows_deduplicated(4)
        run.newest_event(NEWEST_EVENT)
        run.newest_event(None)
        run.newest_event(datetime(2024, 5, 1, 12, 0, tzinfo=UTC))
        clock.now = 1042.5
    assert run.pushed is True

    labels = run_labels("clean_impressions", "impressions", "scheduled__2024-05-01T00:00:00+00:00")
    assert adtech_samples(pushgateway) == {
        sample("adtech_batch_rows_read", 100, **labels),
        sample("adtech_batch_rows_written", 90, **labels),
        sample("adtech_batch_rows_quarantined", 6, **labels),
        sample("adtech_batch_rows_deduplicated", 4, **labels),
        sample("adtech_batch_duration_seconds", 42.5, **labels),
        sample("adtech_batch_run_success", 1, **labels),
        sample("adtech_batch_last_success_timestamp_seconds", 1042.5, **labels),
        sample("adtech_batch_expected_interval_seconds", 86400, **labels),
        sample("adtech_batch_newest_event_timestamp_seconds", NEWEST_EVENT_EPOCH, **labels),
    }


def test_settings_give_the_gateway_url(pushgateway: str) -> None:
    port = int(pushgateway.rsplit(":", 1)[1])
    settings = Settings(host="127.0.0.1", pushgateway_port=port)
    with BatchRun("land_kafka", "ad_impressions", "r1", settings=settings, clock=Clock(7.0)) as run:
        run.landing_hour_closed(datetime(2024, 5, 1, 1, 0, tzinfo=UTC))
        run.landing_hour_closed(datetime(2024, 5, 1, 0, 0, tzinfo=UTC))
    assert sample(
        "adtech_landing_closed_hour_timestamp_seconds",
        1714525200,
        **run_labels("land_kafka", "ad_impressions", "r1"),
    ) in adtech_samples(pushgateway)


def test_a_new_run_replaces_the_previous_run_instead_of_piling_up(pushgateway: str) -> None:
    for run_id, rows, now in (("run-1", 10, 100.0), ("run-2", 20, 200.0)):
        with BatchRun(
            "clean_tracking", "clicks", run_id, gateway=pushgateway, clock=Clock(now)
        ) as run:
            run.rows_read(rows)
            run.rows_written(rows)

    samples = adtech_samples(pushgateway)
    assert {dict(labels)["run_id"] for _, labels, _ in samples} == {"run-2"}
    assert (
        sample("adtech_batch_rows_read", 20, **run_labels("clean_tracking", "clicks", "run-2"))
        in samples
    )
    assert (
        sample(
            "adtech_batch_last_success_timestamp_seconds",
            200,
            **run_labels("clean_tracking", "clicks", "run-2"),
        )
        in samples
    )


def test_a_failed_run_keeps_the_last_success_and_the_freshness_of_published_data(
    pushgateway: str,
) -> None:
    with BatchRun(
        "clean_impressions", "impressions", "run-1", gateway=pushgateway, clock=Clock(100.0)
    ) as run:
        run.rows_read(10)
        run.rows_written(10)
        run.newest_event(NEWEST_EVENT_EPOCH)

    clock = Clock(500.0)
    with (
        pytest.raises(RuntimeError, match="reconciliation"),
        BatchRun(
            "clean_impressions", "impressions", "run-2", gateway=pushgateway, clock=clock
        ) as run,
    ):
        run.rows_read(7)
        clock.now = 530.0
        raise RuntimeError("reconciliation does not add up")

    run1 = run_labels("clean_impressions", "impressions", "run-1")
    run2 = run_labels("clean_impressions", "impressions", "run-2")
    assert adtech_samples(pushgateway) == {
        sample("adtech_batch_rows_read", 7, **run2),
        sample("adtech_batch_rows_written", 0, **run2),
        sample("adtech_batch_rows_quarantined", 0, **run2),
        sample("adtech_batch_rows_deduplicated", 0, **run2),
        sample("adtech_batch_duration_seconds", 30, **run2),
        sample("adtech_batch_run_success", 0, **run2),
        sample("adtech_batch_last_failure_timestamp_seconds", 530, **run2),
        sample("adtech_batch_last_success_timestamp_seconds", 100, **run1),
        sample("adtech_batch_expected_interval_seconds", 86400, **run1),
        sample("adtech_batch_newest_event_timestamp_seconds", NEWEST_EVENT_EPOCH, **run1),
    }


@pytest.mark.parametrize(("code", "succeeded"), [(0, True), (None, True), (1, False)])
def test_system_exit_counts_by_its_code(
    pushgateway: str, code: int | None, succeeded: bool
) -> None:
    with pytest.raises(SystemExit), BatchRun("aggregate", "ad_funnel", "r", gateway=pushgateway):
        raise SystemExit(code)
    outcome = {name: value for name, _, value in adtech_samples(pushgateway)}
    assert outcome["adtech_batch_run_success"] == (1.0 if succeeded else 0.0)


def test_quality_results_replace_the_previous_validation_of_their_suite_only(
    pushgateway: str,
) -> None:
    with BatchRun("dq_raw", "impressions", "run-1", gateway=pushgateway, clock=Clock(10.0)) as run:
        run.expectation("impressions", "expect_column_values_to_not_be_null(user_id)", success=True)
        run.expectation(
            "impressions",
            "expect_column_values_to_be_unique(impression_id)",
            success=False,
            unexpected_count=3,
        )
        run.expectation(
            "impressions_raw_freshness",
            "expect_column_max_to_be_between(event_ts)",
            success=True,
            severity="warning",
        )
    with BatchRun("dq_raw", "impressions", "run-2", gateway=pushgateway, clock=Clock(20.0)) as run:
        run.expectation(
            "impressions",
            "expect_column_values_to_be_unique(impression_id)",
            success=True,
            unexpected_count=0,
        )

    dq = {s for s in adtech_samples(pushgateway) if s[0].startswith("adtech_dq_")}

    def dq_labels(suite: str, expectation: str, severity: str, run_id: str) -> dict[str, str]:
        return {
            "job": "dq_raw",
            "source": "impressions",
            "suite": suite,
            "expectation": expectation,
            "severity": severity,
            "run_id": run_id,
        }

    unique = dq_labels(
        "impressions", "expect_column_values_to_be_unique(impression_id)", "critical", "run-2"
    )
    fresh = dq_labels(
        "impressions_raw_freshness", "expect_column_max_to_be_between(event_ts)", "warning", "run-1"
    )
    validated = {"job": "dq_raw", "source": "impressions"}
    assert dq == {
        sample("adtech_dq_expectation_success", 1, **unique),
        sample("adtech_dq_unexpected_count", 0, **unique),
        sample(
            "adtech_dq_validation_timestamp_seconds",
            20,
            suite="impressions",
            run_id="run-2",
            **validated,
        ),
        sample("adtech_dq_expectation_success", 1, **fresh),
        sample("adtech_dq_unexpected_count", 0, **fresh),
        sample(
            "adtech_dq_validation_timestamp_seconds",
            10,
            suite="impressions_raw_freshness",
            run_id="run-1",
            **validated,
        ),
    }


def test_quality_results_of_a_failing_run_are_pushed(pushgateway: str) -> None:
    with (
        pytest.raises(ValueError, match="critical"),
        BatchRun("build_ad_funnel", "ad_funnel", "r9", gateway=pushgateway) as run,
    ):
        run.expectation(
            "ad_funnel",
            "expect_column_values_to_be_unique(impression_id)",
            success=False,
            unexpected_count=2,
        )
        raise ValueError("critical expectation failed")
    names = {(name, value) for name, _, value in adtech_samples(pushgateway)}
    assert ("adtech_dq_expectation_success", 0.0) in names
    assert ("adtech_dq_unexpected_count", 2.0) in names
    assert ("adtech_batch_run_success", 0.0) in names


def airflow_context(task_id: str, run_id: str, source: str | None) -> dict[str, object]:
    class TaskInstance:
        pass

    ti = TaskInstance()
    ti.task_id = task_id  # type: ignore[attr-defined]
    ti.run_id = run_id  # type: ignore[attr-defined]
    params = {"source": source} if source is not None else {}
    return {"ti": ti, "run_id": run_id, "params": params}


def test_airflow_callbacks_push_the_outcome_of_the_task(
    pushgateway: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = pushgateway.rsplit(":", 1)[1]
    monkeypatch.setenv("ADPLATFORM_PUSHGATEWAY_PORT", port)
    monkeypatch.setenv("ADPLATFORM_HOST", "127.0.0.1")
    monkeypatch.delenv("ADPLATFORM_PUSHGATEWAY_HOST", raising=False)

    metrics.task_failure_callback(airflow_context("wait_for_landing", "scheduled__d1", None))
    metrics.task_success_callback(
        airflow_context("clean_impressions", "scheduled__d1", "impressions")
    )

    samples = adtech_samples(pushgateway)
    failure = next(s for s in samples if s[0] == "adtech_batch_last_failure_timestamp_seconds")
    success = next(s for s in samples if s[0] == "adtech_batch_last_success_timestamp_seconds")
    assert dict(failure[1]) == {
        "instance": "",
        "job": "wait_for_landing",
        "source": "",
        "run_id": "scheduled__d1",
    }
    assert dict(success[1]) == {
        "instance": "",
        "job": "clean_impressions",
        "source": "impressions",
        "run_id": "scheduled__d1",
    }
    assert len(samples) == 2


def test_push_job_outcome_replaces_only_its_own_family(pushgateway: str) -> None:
    with BatchRun(
        "clean_bids", "bid_requests", "r1", gateway=pushgateway, clock=Clock(50.0)
    ) as run:
        run.rows_read(5)
    assert metrics.push_job_outcome(
        "clean_bids",
        "r2",
        succeeded=False,
        source="bid_requests",
        gateway=pushgateway,
        clock=Clock(60.0),
    )
    samples = adtech_samples(pushgateway)
    assert (
        sample("adtech_batch_rows_read", 5, **run_labels("clean_bids", "bid_requests", "r1"))
        in samples
    )
    assert (
        sample(
            "adtech_batch_last_failure_timestamp_seconds",
            60,
            **run_labels("clean_bids", "bid_requests", "r2"),
        )
        in samples
    )


# --- the gateway is down or refuses ----------------------------------------------------------


def test_an_unreachable_gateway_costs_retries_and_one_warning_never_the_job(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gateway = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    sleeps: list[float] = []
    caplog.set_level(logging.WARNING, logger="adplatform.metrics")

    with BatchRun(
        "clean_impressions", "impressions", "r1", gateway=gateway, sleep=sleeps.append
    ) as run:
        run.rows_read(1)
        run.expectation("impressions", "expect_table_row_count_to_be_between", success=True)
        run.expectation("impressions_extra", "expect_column_to_exist(ip)", success=True)

    assert run.pushed is False
    assert sleeps == [0.5, 1.0]  # three attempts for the first push, the others not tried
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "\n" not in message
    assert "job=clean_impressions source=impressions run_id=r1" in message
    assert gateway in message
    assert "the job goes on" in message


class ScriptedGateway:
    """An HTTP server answering pushes with scripted status codes, counting the requests."""

    def __init__(self, codes: list[int]) -> None:
        self.codes = codes
        self.requests = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                code = outer.codes[min(outer.requests, len(outer.codes) - 1)]
                outer.requests += 1
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted() -> Iterator[type[ScriptedGateway]]:
    servers: list[ScriptedGateway] = []

    def make(codes: list[int]) -> ScriptedGateway:
        server = ScriptedGateway(codes)
        servers.append(server)
        return server

    yield make  # type: ignore[misc]
    for server in servers:
        server.close()


def test_a_transient_server_error_is_retried_with_backoff(scripted, caplog) -> None:
    gateway = scripted([503, 200])
    sleeps: list[float] = []
    caplog.set_level(logging.WARNING, logger="adplatform.metrics")
    with BatchRun("j", "s", "r", gateway=gateway.url, sleep=sleeps.append, push_backoff_s=0.25):
        pass
    assert gateway.requests == 2
    assert sleeps == [0.25]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_persistent_server_error_gives_up_after_the_attempts(scripted, caplog) -> None:
    gateway = scripted([503])
    caplog.set_level(logging.WARNING, logger="adplatform.metrics")
    with BatchRun("j", "s", "r", gateway=gateway.url, sleep=lambda s: None, push_attempts=4) as run:
        pass
    assert gateway.requests == 4
    assert run.pushed is False
    assert "HTTP 503" in caplog.records[-1].getMessage()


def test_a_refused_push_is_not_retried(scripted, caplog) -> None:
    gateway = scripted([400])
    caplog.set_level(logging.WARNING, logger="adplatform.metrics")
    with BatchRun("j", "s", "r", gateway=gateway.url, sleep=lambda s: None) as run:
        pass
    assert gateway.requests == 1
    assert run.pushed is False
    assert "HTTP 400" in caplog.records[-1].getMessage()


# --- arguments -------------------------------------------------------------------------------


def test_bad_arguments_are_refused_where_they_are_made() -> None:
    with pytest.raises(ValueError, match="run_id"):
        BatchRun("j", "s", "", gateway="http://127.0.0.1:1")
    run = BatchRun("j", "s", "r", gateway="http://127.0.0.1:1")
    with pytest.raises(ValueError, match="negative"):
        run.rows_read(-1)
    with pytest.raises(ValueError, match="severity"):
        run.expectation("suite", "e", success=True, severity="fatal")


def test_naive_datetimes_are_local_time_like_pyspark_collect() -> None:
    run = BatchRun("j", "s", "r", gateway="http://127.0.0.1:1")
    aware = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    naive_local = aware.astimezone().replace(tzinfo=None)
    run.newest_event(naive_local)
    assert run._newest_event == aware.timestamp()


def test_manual_run_id_has_airflows_format() -> None:
    assert (
        metrics.manual_run_id(datetime(2024, 5, 1, 3, 4, 5, tzinfo=UTC))
        == "manual__2024-05-01T03:04:05+00:00"
    )


# --- the stream monitor's metrics ------------------------------------------------------------


def test_stream_metrics_expose_the_catalogue_names() -> None:
    registry = CollectorRegistry()
    m = metrics.StreamMetrics(registry)
    topic = "ad_impressions"
    m.records.labels(topic=topic).inc(10)
    m.bytes.labels(topic=topic).inc(2048)
    m.parse_errors.labels(topic=topic).inc(1)
    m.schema_violations.labels(topic=topic).inc(2)
    m.duplicates.labels(topic=topic).inc(3)
    for quantile, value in zip(metrics.EVENT_LAG_QUANTILES, (1.0, 5.0, 9.0), strict=True):
        m.event_lag.labels(topic=topic, quantile=quantile).set(value)
    m.event_lag_mean.labels(topic=topic).set(2.0)
    m.volume_expected.labels(topic=topic).set(600)
    m.volume_anomaly_score.labels(topic=topic).set(-1.5)
    m.consumer_lag.labels(topic=topic).set(0)
    m.last_batch.labels(topic=topic).set(1.7e9)

    text = generate_latest(registry).decode()
    exposed = {
        s.name
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if not s.name.endswith("_created")
    }
    stream_names = {
        spec.name for spec in metrics.CATALOGUE if spec.name.startswith("adtech_stream_")
    }
    assert exposed == stream_names
    assert 'adtech_stream_event_lag_seconds{quantile="0.95",topic="ad_impressions"} 5.0' in text


def test_the_catalogue_is_consistent() -> None:
    names = [spec.name for spec in metrics.CATALOGUE]
    assert len(names) == len(set(names)) == len(metrics.METRIC_NAMES)
    for spec in metrics.CATALOGUE:
        assert spec.name.startswith("adtech_")
        assert spec.kind in {"gauge", "counter"}
        assert (spec.kind == "counter") == spec.name.endswith("_total"), spec.name
        assert spec.help and spec.emitter and spec.labels
