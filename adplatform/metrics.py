"""Metric names of the platform, and the helper every batch job uses to push its metrics.

One place for names: the stream monitor registers its metrics with ``StreamMetrics``, batch
jobs push theirs with ``BatchRun``, and the alert rules and Grafana dashboards under
``monitoring/`` may only query names listed in ``CATALOGUE`` (a test enforces it).

Pushgateway grouping (why the keys are what they are)
-----------------------------------------------------
The Pushgateway keeps every group it was sent until someone deletes it, and Prometheus
scrapes all of them on every scrape. So:

* ``run_id`` is a *label on the samples*, never part of a grouping key. A grouping key with
  the run id would create a new group per run and the groups would pile up forever.
* Job metrics go to the group ``{job, source}`` with POST (``pushadd``), which replaces only
  the metric families it carries. Each run pushes the complete set of run-scoped families
  (rows read/written/quarantined/deduplicated, duration, outcome), so nothing of an older run
  lingers beside the new run id; the success-scoped families (last success time, expected
  interval, newest event time, landing hour closed) are pushed only by successful runs, so a
  failed run does not erase when the job last succeeded or how fresh its published data is.
* Data-quality results go to the group ``{job, source, suite}`` with PUT, which replaces the
  whole group: a new validation of a suite removes every expectation series of the previous
  validation of that suite, and a run that dies before validating leaves the last validation
  of that data in place, which is still the truth about it.
* Two concurrent runs of the same job and source (a backfill with several active runs)
  overwrite each other's run-scoped values; the last push wins. Per-run history of counts is
  kept by Prometheus while each value was current, and for good in the reconciliation table.

The number of groups is therefore bounded by (jobs x sources) + (jobs x sources x suites),
whatever the number of runs.

A push never fails a job: it is retried with exponential backoff and, when the Pushgateway
stays unreachable, one warning line is logged and the job goes on.
"""

from __future__ import annotations

import logging
import time
import urllib.error
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType

from prometheus_client import CollectorRegistry, Counter, Gauge, pushadd_to_gateway
from prometheus_client import push_to_gateway as _put_to_gateway

from adplatform import settings as settings_module

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# Names. Batch metrics are gauges holding the value of the latest run (a pushed counter would
# be a gauge in disguise: the Pushgateway does not add runs up).
# ---------------------------------------------------------------------------------------------

BATCH_ROWS_READ = "adtech_batch_rows_read"
BATCH_ROWS_WRITTEN = "adtech_batch_rows_written"
BATCH_ROWS_QUARANTINED = "adtech_batch_rows_quarantined"
BATCH_ROWS_DEDUPLICATED = "adtech_batch_rows_deduplicated"
BATCH_DURATION_SECONDS = "adtech_batch_duration_seconds"
BATCH_RUN_SUCCESS = "adtech_batch_run_success"
BATCH_LAST_SUCCESS_TIMESTAMP = "adtech_batch_last_success_timestamp_seconds"
BATCH_LAST_FAILURE_TIMESTAMP = "adtech_batch_last_failure_timestamp_seconds"
BATCH_EXPECTED_INTERVAL_SECONDS = "adtech_batch_expected_interval_seconds"
BATCH_NEWEST_EVENT_TIMESTAMP = "adtech_batch_newest_event_timestamp_seconds"
LANDING_CLOSED_HOUR_TIMESTAMP = "adtech_landing_closed_hour_timestamp_seconds"
LANDING_LATE_RECORDS = "adtech_landing_late_records"

DQ_EXPECTATION_SUCCESS = "adtech_dq_expectation_success"
DQ_UNEXPECTED_COUNT = "adtech_dq_unexpected_count"
DQ_VALIDATION_TIMESTAMP = "adtech_dq_validation_timestamp_seconds"

STREAM_RECORDS_TOTAL = "adtech_stream_records_total"
STREAM_BYTES_TOTAL = "adtech_stream_bytes_total"
STREAM_PARSE_ERRORS_TOTAL = "adtech_stream_parse_errors_total"
STREAM_SCHEMA_VIOLATIONS_TOTAL = "adtech_stream_schema_violations_total"
STREAM_DUPLICATES_TOTAL = "adtech_stream_duplicates_total"
STREAM_EVENT_LAG_SECONDS = "adtech_stream_event_lag_seconds"
STREAM_EVENT_LAG_MEAN_SECONDS = "adtech_stream_event_lag_mean_seconds"
STREAM_VOLUME_EXPECTED_RECORDS = "adtech_stream_volume_expected_records"
STREAM_VOLUME_ANOMALY_SCORE = "adtech_stream_volume_anomaly_score"
STREAM_CONSUMER_LAG_RECORDS = "adtech_stream_consumer_lag_records"
STREAM_LAST_BATCH_TIMESTAMP = "adtech_stream_last_batch_timestamp_seconds"

# Quantiles of STREAM_EVENT_LAG_SECONDS, as the values of its `quantile` label.
EVENT_LAG_QUANTILES = ("0.5", "0.95", "0.99")
# Allowed values of the `severity` label of data-quality results.
DQ_SEVERITIES = ("critical", "warning")

BATCH_LABELS = ("job", "source", "run_id")
DQ_LABELS = ("job", "source", "suite", "expectation", "severity", "run_id")
STREAM_LABELS = ("topic",)

EMITTER_BATCH = "each batch job, through `BatchRun` (Pushgateway)"
EMITTER_CALLBACK = "`BatchRun` on a failed attempt; Airflow task callbacks (Pushgateway)"
EMITTER_LANDING = "the Kafka landing job, through `BatchRun.landing_hour_closed` (Pushgateway)"
EMITTER_LATE = "both landing jobs, through `BatchRun.late_records` (Pushgateway)"
EMITTER_DQ = "the data-quality tasks, through `BatchRun.expectation` (Pushgateway)"
EMITTER_STREAM = "the stream monitor's `/metrics` endpoint, through `StreamMetrics`"


@dataclass(frozen=True)
class MetricSpec:
    """What a metric is: its exposed name, type, labels as Prometheus stores them, meaning."""

    name: str
    kind: str
    labels: tuple[str, ...]
    help: str
    emitter: str


CATALOGUE: tuple[MetricSpec, ...] = (
    MetricSpec(BATCH_ROWS_READ, "gauge", BATCH_LABELS, "Rows the latest run read", EMITTER_BATCH),
    MetricSpec(
        BATCH_ROWS_WRITTEN,
        "gauge",
        BATCH_LABELS,
        "Rows the latest run wrote to its curated output",
        EMITTER_BATCH,
    ),
    MetricSpec(
        BATCH_ROWS_QUARANTINED,
        "gauge",
        BATCH_LABELS,
        "Rows the latest run sent to the quarantine table",
        EMITTER_BATCH,
    ),
    MetricSpec(
        BATCH_ROWS_DEDUPLICATED,
        "gauge",
        BATCH_LABELS,
        "Duplicate rows the latest run counted and dropped",
        EMITTER_BATCH,
    ),
    MetricSpec(
        BATCH_DURATION_SECONDS,
        "gauge",
        BATCH_LABELS,
        "Wall time of the latest run, failed or not, in seconds",
        EMITTER_BATCH,
    ),
    MetricSpec(
        BATCH_RUN_SUCCESS,
        "gauge",
        BATCH_LABELS,
        "1 if the latest run succeeded, 0 if it failed",
        EMITTER_BATCH,
    ),
    MetricSpec(
        BATCH_LAST_SUCCESS_TIMESTAMP,
        "gauge",
        BATCH_LABELS,
        "Unix time the job last finished successfully (run_id: that run)",
        EMITTER_BATCH + "; Airflow success callback",
    ),
    MetricSpec(
        BATCH_LAST_FAILURE_TIMESTAMP,
        "gauge",
        BATCH_LABELS,
        "Unix time a run of the job last failed (run_id: that run)",
        EMITTER_CALLBACK,
    ),
    MetricSpec(
        BATCH_EXPECTED_INTERVAL_SECONDS,
        "gauge",
        BATCH_LABELS,
        "Seconds between two scheduled runs of the job (86400 for a daily job)",
        EMITTER_BATCH,
    ),
    MetricSpec(
        BATCH_NEWEST_EVENT_TIMESTAMP,
        "gauge",
        BATCH_LABELS,
        "Event time (Unix) of the newest record the last successful run published",
        EMITTER_BATCH,
    ),
    MetricSpec(
        LANDING_CLOSED_HOUR_TIMESTAMP,
        "gauge",
        BATCH_LABELS,
        "End (Unix time) of the newest arrival hour that landing closed with a done marker",
        EMITTER_LANDING,
    ),
    MetricSpec(
        LANDING_LATE_RECORDS,
        "gauge",
        BATCH_LABELS,
        "Records (tracking: CSV rows) the latest landing run put into arrival hours that were "
        "already closed; the days that read them are restated",
        EMITTER_LATE,
    ),
    MetricSpec(
        DQ_EXPECTATION_SUCCESS,
        "gauge",
        DQ_LABELS,
        "1 if the expectation held in the latest validation of its suite, else 0",
        EMITTER_DQ,
    ),
    MetricSpec(
        DQ_UNEXPECTED_COUNT,
        "gauge",
        DQ_LABELS,
        "Rows that broke the expectation in the latest validation of its suite",
        EMITTER_DQ,
    ),
    MetricSpec(
        DQ_VALIDATION_TIMESTAMP,
        "gauge",
        ("job", "source", "suite", "run_id"),
        "Unix time the suite was last validated",
        EMITTER_DQ,
    ),
    MetricSpec(
        STREAM_RECORDS_TOTAL,
        "counter",
        STREAM_LABELS,
        "Records read from the topic, good or bad",
        EMITTER_STREAM,
    ),
    MetricSpec(
        STREAM_BYTES_TOTAL,
        "counter",
        STREAM_LABELS,
        "Bytes of record values read from the topic",
        EMITTER_STREAM,
    ),
    MetricSpec(
        STREAM_PARSE_ERRORS_TOTAL,
        "counter",
        STREAM_LABELS,
        "Records that could not be decoded (malformed JSON, undecodable Avro)",
        EMITTER_STREAM,
    ),
    MetricSpec(
        STREAM_SCHEMA_VIOLATIONS_TOTAL,
        "counter",
        STREAM_LABELS,
        "Decoded records that break the schema (missing field, wrong type, impossible value)",
        EMITTER_STREAM,
    ),
    MetricSpec(
        STREAM_DUPLICATES_TOTAL,
        "counter",
        STREAM_LABELS,
        "Records whose id was already seen within the monitor's dedup window",
        EMITTER_STREAM,
    ),
    MetricSpec(
        STREAM_EVENT_LAG_SECONDS,
        "gauge",
        (*STREAM_LABELS, "quantile"),
        "Processing time minus event time over the last processed minute, at each quantile "
        "(0.5, 0.95, 0.99)",
        EMITTER_STREAM,
    ),
    MetricSpec(
        STREAM_EVENT_LAG_MEAN_SECONDS,
        "gauge",
        STREAM_LABELS,
        "Mean of processing time minus event time over the last processed minute",
        EMITTER_STREAM,
    ),
    MetricSpec(
        STREAM_VOLUME_EXPECTED_RECORDS,
        "gauge",
        STREAM_LABELS,
        "Records per minute the moving baseline expects for this time of day",
        EMITTER_STREAM,
    ),
    MetricSpec(
        STREAM_VOLUME_ANOMALY_SCORE,
        "gauge",
        STREAM_LABELS,
        "Standard deviations of the last minute's volume from the baseline (negative: fewer)",
        EMITTER_STREAM,
    ),
    MetricSpec(
        STREAM_CONSUMER_LAG_RECORDS,
        "gauge",
        STREAM_LABELS,
        "Offsets the monitor's Kafka consumer is behind the newest offset (max over partitions)",
        EMITTER_STREAM,
    ),
    MetricSpec(
        STREAM_LAST_BATCH_TIMESTAMP,
        "gauge",
        STREAM_LABELS,
        "Unix time the monitor last finished a micro-batch of the topic",
        EMITTER_STREAM,
    ),
)

METRIC_NAMES: frozenset[str] = frozenset(spec.name for spec in CATALOGUE)
_SPECS = {spec.name: spec for spec in CATALOGUE}

# Labels that come from the Pushgateway grouping key, not from the samples themselves.
_GROUP_LABELS = ("job", "source")
_DQ_GROUP_LABELS = ("job", "source", "suite")


def _sample_labels(name: str, group_labels: tuple[str, ...]) -> list[str]:
    return [label for label in _SPECS[name].labels if label not in group_labels]


# ---------------------------------------------------------------------------------------------
# Streaming
# ---------------------------------------------------------------------------------------------


class StreamMetrics:
    """The stream monitor's metrics, registered in ``registry`` under the catalogue's names.

    The monitor calls e.g. ``m.records.labels(topic=t).inc(n)`` and
    ``m.event_lag.labels(topic=t, quantile="0.95").set(s)``, then serves ``registry``.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        def counter(name: str) -> Counter:
            spec = _SPECS[name]
            return Counter(name, spec.help, list(spec.labels), registry=registry)

        def gauge(name: str) -> Gauge:
            spec = _SPECS[name]
            return Gauge(name, spec.help, list(spec.labels), registry=registry)

        self.records = counter(STREAM_RECORDS_TOTAL)
        self.bytes = counter(STREAM_BYTES_TOTAL)
        self.parse_errors = counter(STREAM_PARSE_ERRORS_TOTAL)
        self.schema_violations = counter(STREAM_SCHEMA_VIOLATIONS_TOTAL)
        self.duplicates = counter(STREAM_DUPLICATES_TOTAL)
        self.event_lag = gauge(STREAM_EVENT_LAG_SECONDS)
        self.event_lag_mean = gauge(STREAM_EVENT_LAG_MEAN_SECONDS)
        self.volume_expected = gauge(STREAM_VOLUME_EXPECTED_RECORDS)
        self.volume_anomaly_score = gauge(STREAM_VOLUME_ANOMALY_SCORE)
        self.consumer_lag = gauge(STREAM_CONSUMER_LAG_RECORDS)
        self.last_batch = gauge(STREAM_LAST_BATCH_TIMESTAMP)


# ---------------------------------------------------------------------------------------------
# Pushing
# ---------------------------------------------------------------------------------------------

PUSH_BACKOFF_S = 0.5
PUSH_TIMEOUT_S = 5.0
DAILY_S = 86400.0


def manual_run_id(now: datetime | None = None) -> str:
    """A run id in Airflow's format for runs started by hand, outside Airflow."""
    now = now or datetime.now(UTC)
    return f"manual__{now.astimezone(UTC).isoformat(timespec='seconds')}"


def _epoch(ts: datetime | float) -> float:
    # A naive datetime is taken as local time, which is what PySpark's collect() returns.
    return ts.timestamp() if isinstance(ts, datetime) else float(ts)


class _Pusher:
    """Pushes registries to one Pushgateway; after one push gave up, the rest are skipped."""

    def __init__(
        self,
        gateway: str,
        what: str,
        attempts: int,
        backoff_s: float,
        timeout_s: float,
        sleep: Callable[[float], None],
    ) -> None:
        self.gateway = gateway
        self.what = what
        self.attempts = max(1, attempts)
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.sleep = sleep
        self.gave_up = False

    def push(
        self, job: str, grouping_key: dict[str, str], registry: CollectorRegistry, replace: bool
    ) -> bool:
        if self.gave_up:
            return False
        send = _put_to_gateway if replace else pushadd_to_gateway
        error: Exception | None = None
        for attempt in range(self.attempts):
            try:
                send(
                    self.gateway,
                    job=job,
                    registry=registry,
                    grouping_key=grouping_key,
                    timeout=self.timeout_s,
                )
                return True
            except urllib.error.HTTPError as exc:
                error = exc
                if 400 <= exc.code < 500:
                    break  # the gateway refused the content: sending it again cannot help
            except OSError as exc:
                error = exc
            log.debug("push to %s failed (attempt %d): %s", self.gateway, attempt + 1, error)
            if attempt + 1 < self.attempts:
                self.sleep(self.backoff_s * 2**attempt)
        self.gave_up = True
        log.warning(
            "metrics of %s not pushed to the Pushgateway at %s: %s; the job goes on without them",
            self.what,
            self.gateway,
            _reason(error),
        )
        return False


def _reason(error: Exception | None) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    return str(error)


def _attempts(settings: settings_module.Settings | None, attempts: int | None) -> int:
    if attempts is not None:
        return attempts
    return (settings or settings_module.load()).pushgateway_push_attempts


def _gateway_url(settings: settings_module.Settings | None, gateway: str | None) -> str:
    if gateway:
        return gateway
    return (settings or settings_module.load()).pushgateway_url


@dataclass
class _Validation:
    first_seen: float
    results: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)


class BatchRun:
    """Collects the metrics of one run of one batch job on one source table and pushes them.

    Use it as a context manager: the metrics are pushed when the block exits, as a success
    when it ends normally (or with ``SystemExit(0)``) and as a failure when an exception leaves
    it; the exception is never swallowed. A Pushgateway that cannot be reached costs a few
    retries and one warning line, never the job.

        with BatchRun("clean_impressions", "impressions", run_id, settings=s) as run:
            run.rows_read(n_in)
            ...
            run.rows_written(n_out)
            run.newest_event(max_event_ts)

    The ``job`` label should be the Airflow task id that runs the job, so that the task
    callbacks (``task_failure_callback``) and the job's own pushes describe the same job.
    """

    def __init__(
        self,
        job: str,
        source: str,
        run_id: str,
        *,
        settings: settings_module.Settings | None = None,
        gateway: str | None = None,
        expected_interval_s: float = DAILY_S,
        push_attempts: int | None = None,
        push_backoff_s: float = PUSH_BACKOFF_S,
        push_timeout_s: float = PUSH_TIMEOUT_S,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not job or not source or not run_id:
            raise ValueError(
                f"BatchRun needs a job, a source and a run_id (got {job!r}, {source!r}, {run_id!r})"
            )
        if expected_interval_s <= 0:
            raise ValueError(f"expected_interval_s must be positive, got {expected_interval_s}")
        self.job = job
        self.source = source
        self.run_id = run_id
        self.expected_interval_s = float(expected_interval_s)
        self._clock = clock
        self._pusher = _Pusher(
            _gateway_url(settings, gateway),
            f"job={job} source={source} run_id={run_id}",
            _attempts(settings, push_attempts),
            push_backoff_s,
            push_timeout_s,
            sleep,
        )
        self._counts = {
            BATCH_ROWS_READ: 0,
            BATCH_ROWS_WRITTEN: 0,
            BATCH_ROWS_QUARANTINED: 0,
            BATCH_ROWS_DEDUPLICATED: 0,
        }
        self._newest_event: float | None = None
        self._closed_hour: float | None = None
        self._late_records: int | None = None
        self._validations: dict[str, _Validation] = {}
        self._started: float | None = None
        self.pushed: bool | None = None

    # -- recording ---------------------------------------------------------------------------

    def _add(self, name: str, n: int) -> None:
        if n < 0:
            raise ValueError(f"{name}: a row count cannot be negative ({n})")
        self._counts[name] += int(n)

    def rows_read(self, n: int) -> None:
        """Add ``n`` to the rows this run read."""
        self._add(BATCH_ROWS_READ, n)

    def rows_written(self, n: int) -> None:
        """Add ``n`` to the rows this run wrote to its curated output."""
        self._add(BATCH_ROWS_WRITTEN, n)

    def rows_quarantined(self, n: int) -> None:
        """Add ``n`` to the rows this run quarantined."""
        self._add(BATCH_ROWS_QUARANTINED, n)

    def rows_deduplicated(self, n: int) -> None:
        """Add ``n`` to the duplicates this run counted and dropped."""
        self._add(BATCH_ROWS_DEDUPLICATED, n)

    def newest_event(self, ts: datetime | float | None) -> None:
        """Record the event time of the newest published record (keeps the maximum).

        ``None`` (an empty input's ``max``) is ignored; a naive datetime is local time.
        """
        if ts is not None:
            value = _epoch(ts)
            if self._newest_event is None or value > self._newest_event:
                self._newest_event = value

    def landing_hour_closed(self, hour_end: datetime | float) -> None:
        """Record the end of an arrival hour landing closed with a done marker (keeps max)."""
        value = _epoch(hour_end)
        if self._closed_hour is None or value > self._closed_hour:
            self._closed_hour = value

    def late_records(self, n: int) -> None:
        """Add ``n`` records that landed in already closed hours (landing jobs only: a
        landing run calls it even with 0, so the gauge says the latest run had none)."""
        if n < 0:
            raise ValueError(f"late records cannot be negative ({n})")
        self._late_records = (self._late_records or 0) + int(n)

    def expectation(
        self,
        suite: str,
        expectation: str,
        *,
        success: bool,
        unexpected_count: int = 0,
        severity: str = "critical",
    ) -> None:
        """Record one data-quality result; ``expectation`` names the check and its column."""
        if severity not in DQ_SEVERITIES:
            raise ValueError(f"severity must be one of {DQ_SEVERITIES}, got {severity!r}")
        if not suite or not expectation:
            raise ValueError("a data-quality result needs a suite and an expectation name")
        validation = self._validations.setdefault(suite, _Validation(self._clock()))
        validation.results[(expectation, severity)] = (
            1.0 if success else 0.0,
            float(unexpected_count),
        )

    # -- pushing -----------------------------------------------------------------------------

    def __enter__(self) -> BatchRun:
        self._started = self._clock()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        succeeded = exc_type is None or (isinstance(exc, SystemExit) and exc.code in (None, 0))
        self.finish(succeeded)

    def finish(self, succeeded: bool) -> bool:
        """Push the run's metrics as a success or a failure; True if everything was pushed."""
        now = self._clock()
        started = self._started if self._started is not None else now
        registry = CollectorRegistry()

        def gauge(name: str, value: float) -> None:
            g = Gauge(
                name, _SPECS[name].help, _sample_labels(name, _GROUP_LABELS), registry=registry
            )
            g.labels(run_id=self.run_id).set(value)

        for name, count in self._counts.items():
            gauge(name, count)
        gauge(BATCH_DURATION_SECONDS, max(0.0, now - started))
        gauge(BATCH_RUN_SUCCESS, 1.0 if succeeded else 0.0)
        if succeeded:
            gauge(BATCH_LAST_SUCCESS_TIMESTAMP, now)
            gauge(BATCH_EXPECTED_INTERVAL_SECONDS, self.expected_interval_s)
            if self._newest_event is not None:
                gauge(BATCH_NEWEST_EVENT_TIMESTAMP, self._newest_event)
            if self._closed_hour is not None:
                gauge(LANDING_CLOSED_HOUR_TIMESTAMP, self._closed_hour)
        else:
            gauge(BATCH_LAST_FAILURE_TIMESTAMP, now)
        # Not only on success: a run that counted late records before it failed did land
        # them (its committed batches stay).
        if self._late_records is not None:
            gauge(LANDING_LATE_RECORDS, self._late_records)

        ok = self._pusher.push(self.job, {"source": self.source}, registry, replace=False)
        for suite, validation in self._validations.items():
            ok = self._push_validation(suite, validation) and ok
        self.pushed = ok
        return ok

    def _push_validation(self, suite: str, validation: _Validation) -> bool:
        registry = CollectorRegistry()
        success = Gauge(
            DQ_EXPECTATION_SUCCESS,
            _SPECS[DQ_EXPECTATION_SUCCESS].help,
            _sample_labels(DQ_EXPECTATION_SUCCESS, _DQ_GROUP_LABELS),
            registry=registry,
        )
        unexpected = Gauge(
            DQ_UNEXPECTED_COUNT,
            _SPECS[DQ_UNEXPECTED_COUNT].help,
            _sample_labels(DQ_UNEXPECTED_COUNT, _DQ_GROUP_LABELS),
            registry=registry,
        )
        validated = Gauge(
            DQ_VALIDATION_TIMESTAMP,
            _SPECS[DQ_VALIDATION_TIMESTAMP].help,
            _sample_labels(DQ_VALIDATION_TIMESTAMP, _DQ_GROUP_LABELS),
            registry=registry,
        )
        for (expectation, severity), (ok, count) in validation.results.items():
            labels = {"expectation": expectation, "severity": severity, "run_id": self.run_id}
            success.labels(**labels).set(ok)
            unexpected.labels(**labels).set(count)
        validated.labels(run_id=self.run_id).set(validation.first_seen)
        grouping_key = {"source": self.source, "suite": suite}
        return self._pusher.push(self.job, grouping_key, registry, replace=True)


# ---------------------------------------------------------------------------------------------
# Outcomes pushed from outside a job (Airflow task callbacks)
# ---------------------------------------------------------------------------------------------


def push_job_outcome(
    job: str,
    run_id: str,
    *,
    succeeded: bool,
    source: str = "",
    settings: settings_module.Settings | None = None,
    gateway: str | None = None,
    push_attempts: int | None = None,
    push_backoff_s: float = PUSH_BACKOFF_S,
    push_timeout_s: float = PUSH_TIMEOUT_S,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Push only the last success or last failure time of a job; True if it was pushed.

    For what a job cannot report itself: a task killed by Airflow, a spark-submit that never
    started, a sensor that timed out. Only that one family is replaced in the job's group.
    """
    name = BATCH_LAST_SUCCESS_TIMESTAMP if succeeded else BATCH_LAST_FAILURE_TIMESTAMP
    registry = CollectorRegistry()
    gauge = Gauge(name, _SPECS[name].help, _sample_labels(name, _GROUP_LABELS), registry=registry)
    gauge.labels(run_id=run_id).set(clock())
    pusher = _Pusher(
        _gateway_url(settings, gateway),
        f"job={job} source={source} run_id={run_id}",
        _attempts(settings, push_attempts),
        push_backoff_s,
        push_timeout_s,
        sleep,
    )
    return pusher.push(job, {"source": source}, registry, replace=False)


def _callback_labels(context: Mapping[str, object]) -> tuple[str, str, str]:
    ti = context["ti"]
    params = context.get("params") or {}
    source = params.get("source", "") if isinstance(params, Mapping) else ""
    run_id = str(context.get("run_id") or getattr(ti, "run_id", ""))
    return str(ti.task_id), str(source or ""), run_id


def task_failure_callback(context: Mapping[str, object]) -> None:
    """Airflow ``on_failure_callback``: the task failed for good (its retries are spent).

    job = the task id, source = the task's ``source`` param (or ""), run_id = the DAG run id.
    """
    job, source, run_id = _callback_labels(context)
    push_job_outcome(job, run_id, succeeded=False, source=source)


def task_success_callback(context: Mapping[str, object]) -> None:
    """Airflow ``on_success_callback``: clears a failure of tasks that push no metrics."""
    job, source, run_id = _callback_labels(context)
    push_job_outcome(job, run_id, succeeded=True, source=source)
