"""What the monitor does per micro-batch and in between, and the metrics it keeps.

``Monitor.process_batch`` is the ``foreachBatch`` function: it measures a micro-batch with
the transforms (Spark work only), then publishes the numbers to the Prometheus metrics of
``adplatform.metrics.StreamMetrics`` all at once. A housekeeping thread closes minutes into
the volume baseline, expires the event-lag window and compares Kafka's newest offsets with
what the query last committed (from a listener on Spark's progress reports): the consumer
lag.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQueryListener

from adplatform import lake
from adplatform.contracts import Rules
from adplatform.metrics import EVENT_LAG_QUANTILES, StreamMetrics
from adplatform.settings import Settings
from spark_jobs.stream_monitor import transforms
from spark_jobs.stream_monitor.baseline import MinuteVolumes, VolumeBaseline
from spark_jobs.stream_monitor.state import DedupState, LakeFiles

log = logging.getLogger("stream_monitor")

QUERY_NAME = "stream_monitor"
LAG_WINDOW = timedelta(minutes=1)
HOUSEKEEPING_INTERVAL_S = 5.0


@dataclass(frozen=True)
class Measured:
    """What one micro-batch measured, per topic."""

    totals: dict[str, dict]
    duplicates: dict[str, int]
    lag_summary: dict[str, dict]
    steps: dict[str, float]


@dataclass(frozen=True)
class Options:
    trigger_s: int = 10
    dedup_window: timedelta = timedelta(minutes=10)
    max_offsets_per_trigger: int = 50_000


def checkpoint_root(settings: Settings) -> str:
    return lake.checkpoint_path(settings, QUERY_NAME)


Offsets = dict[str, dict[str, int]]  # topic -> partition -> offset, as Spark reports them


def parse_offsets(text: str | None) -> Offsets:
    """A Kafka source offset of Spark's progress reports (JSON) as numbers."""
    if not text:
        return {}
    return {t: {p: int(o) for p, o in parts.items()} for t, parts in json.loads(text).items()}


def offsets_behind(latest: Offsets, read: Offsets) -> dict[str, int]:
    """Per topic of ``latest``, the most offsets any partition is ahead of ``read``; a
    partition not read yet is behind by all it holds."""
    behind: dict[str, int] = {}
    for topic, partitions in latest.items():
        done = read.get(topic, {})
        behind[topic] = max(
            (max(0, newest - done.get(p, 0)) for p, newest in partitions.items()), default=0
        )
    return behind


class Monitor:
    """What happens per micro-batch and in between; holds the metrics and the state."""

    def __init__(
        self,
        spark: SparkSession,
        settings: Settings,
        metrics: StreamMetrics,
        options: Options,
        latest_offsets: Callable[[], Offsets | None],
        clock=time.time,
    ) -> None:
        self.spark = spark
        self.settings = settings
        self.metrics = metrics
        self.options = options
        self.latest_offsets = latest_offsets
        self.read_offsets: Offsets | None = None
        self.clock = clock
        self.rules = Rules.from_settings(settings)
        self.files = LakeFiles(spark)
        self.root = checkpoint_root(settings)
        self.dedup = DedupState(spark, self.files, f"{self.root}/dedup")
        self.baseline_uri = f"{self.root}/volume_baseline.json"
        text = self.files.read_text(self.baseline_uri)
        self.baseline = VolumeBaseline.from_json(json.loads(text)) if text else VolumeBaseline()
        log.info(
            "volume baseline: %d topic-hours restored from %s",
            sum(len(hours) for hours in self.baseline.buckets.values()),
            self.baseline_uri,
        )
        self.volumes = MinuteVolumes(transforms.TOPICS, self._now())
        self.lags: deque[tuple[datetime, DataFrame]] = deque()
        self.lock = threading.Lock()
        self.running_since: datetime | None = None
        for topic in transforms.TOPICS:
            # A counter must exist before its first increase, or rate() misses that increase.
            for counter in (
                metrics.records,
                metrics.bytes,
                metrics.parse_errors,
                metrics.schema_violations,
                metrics.duplicates,
            ):
                counter.labels(topic=topic).inc(0)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def warm_up(self) -> None:
        """Measure two junk records once, against a scratch dedup state, and forget them:
        the Python workers and the generated code are then ready for the first real
        micro-batch, which takes seconds instead of half a minute."""
        now = self._now()
        sample = self.spark.createDataFrame(
            [(topic, 0, 0, now, None, b"\x00") for topic in transforms.TOPICS],
            transforms.RECORD_SCHEMA,
        )
        self.spark.sparkContext.setJobDescription("warm-up")
        real, scratch = self.dedup, f"{self.root}/warm_up"
        self.dedup = DedupState(self.spark, self.files, scratch)
        try:
            self._measure(sample, 0, now)
        finally:
            self.spark.sparkContext.setJobDescription(None)
            self.dedup = real
            self.files.delete(scratch)
            with self.lock:
                while self.lags:
                    self.lags.popleft()[1].unpersist()

    # -- per micro-batch ---------------------------------------------------------------------

    def process_batch(self, batch: DataFrame, batch_id: int) -> None:
        now = self._now()
        with self.lock:
            self.running_since = now
        try:
            measured = self._measure(batch, batch_id, now)
        finally:
            with self.lock:
                self.running_since = None
        self._publish(measured, now)
        steps = ", ".join(f"{name} {s:.1f}s" for name, s in measured.steps.items())
        log.info(
            "batch %d: %s in %.1fs (%s)",
            batch_id,
            ", ".join(f"{t}={r['records']}" for t, r in measured.totals.items()) or "no records",
            self.clock() - now.timestamp(),
            steps,
        )

    def _measure(self, batch: DataFrame, batch_id: int, now: datetime) -> Measured:
        """The Spark work of one micro-batch; changes no metric."""
        steps: dict[str, float] = {}
        started = time.monotonic()

        def step(name: str) -> None:
            nonlocal started
            steps[name] = time.monotonic() - started
            started = time.monotonic()

        # Kafka is read once and every record classified once. The first checkpoint makes
        # the classification read the same kind of scan as ``warm_up`` did, so its generated
        # code is already compiled; the second cuts the wide parsing plan off, so each number
        # below is a small job over a few narrow columns.
        records = batch.localCheckpoint(eager=True)
        step("read")
        classified = (
            transforms.classify_records(records, self.rules, self.settings.schema_registry_url)
            .select("topic", "bytes", "outcome", "event_id", "event_ts")
            .localCheckpoint(eager=True)
        )
        step("classify")
        totals = {r["topic"]: r.asDict() for r in transforms.topic_totals(classified).collect()}
        step("count")
        if not totals:  # the first batch of a new query; offsets moved by markers only
            return Measured({}, {}, self._lag_summary_locked(now), steps)
        seen = self.dedup.before(batch_id)
        ids = transforms.dedup_ids(classified, seen, now, self.options.dedup_window)
        saved = self.dedup.save(batch_id, ids)
        duplicates = {
            r["topic"]: r["duplicates"] for r in transforms.duplicate_counts(saved).collect()
        }
        step("dedup")
        lags = transforms.event_lags(classified, now).persist()
        with self.lock:
            # Dated when measured: a batch that took long still counts for a whole minute.
            self.lags.append((self._now(), lags))
        summary = self._lag_summary_locked(self._now())
        step("lag")
        return Measured(totals, duplicates, summary, steps)

    def _publish(self, measured: Measured, now: datetime) -> None:
        """Turn a measured micro-batch into metrics, all at once."""
        m = self.metrics
        with self.lock:
            for topic, row in measured.totals.items():
                m.records.labels(topic=topic).inc(row["records"])
                m.bytes.labels(topic=topic).inc(row["bytes"] or 0)
                m.parse_errors.labels(topic=topic).inc(row["parse_errors"])
                m.schema_violations.labels(topic=topic).inc(row["schema_violations"])
                self.volumes.add(topic, now, row["records"])
            for topic, count in measured.duplicates.items():
                m.duplicates.labels(topic=topic).inc(count or 0)
            self._set_lag_gauges(measured.lag_summary)
            finished = self.clock()
            for topic in transforms.TOPICS:
                m.last_batch.labels(topic=topic).set(finished)

    def _lag_summary_locked(self, now: datetime) -> dict[str, dict]:
        with self.lock:
            self._drop_old_lags(now)
            return self._lag_summary()

    def _drop_old_lags(self, now: datetime) -> None:
        while self.lags and self.lags[0][0] <= now - LAG_WINDOW:
            _, old = self.lags.popleft()
            old.unpersist()

    def _lag_summary(self) -> dict[str, dict]:
        frames = [df for _, df in self.lags]
        if not frames:
            return {}
        union = frames[0]
        for df in frames[1:]:
            union = union.unionByName(df)
        return {r["topic"]: r.asDict() for r in transforms.lag_summary(union).collect()}

    def _set_lag_gauges(self, summary: dict[str, dict]) -> None:
        m = self.metrics
        for topic in transforms.TOPICS:
            row = summary.get(topic)
            if row is None:
                # No valid record in the last minute: no lag to report, not a lag of zero.
                for quantile in EVENT_LAG_QUANTILES:
                    _remove(m.event_lag, topic, quantile)
                _remove(m.event_lag_mean, topic)
                continue
            values = (row["lag_p50_s"], row["lag_p95_s"], row["lag_p99_s"])
            for quantile, value in zip(EVENT_LAG_QUANTILES, values, strict=True):
                m.event_lag.labels(topic=topic, quantile=quantile).set(value)
            m.event_lag_mean.labels(topic=topic).set(row["lag_mean_s"])

    # -- between micro-batches ---------------------------------------------------------------

    def housekeeping(self) -> None:
        """Close finished minutes into the baseline and expire the lag window."""
        now = self._now()
        with self.lock:
            closed = self.volumes.close(now, self.running_since)
            if self.running_since is None and self.lags and self.lags[-1][0] <= now - LAG_WINDOW:
                self._drop_old_lags(now)
                self._set_lag_gauges({})
            for topic, minute, records in closed:
                score = self.baseline.observe(topic, minute, records)
                self.metrics.volume_anomaly_score.labels(topic=topic).set(score.score)
            state = json.dumps(self.baseline.to_json()) if closed else None
        if state is not None:
            self.files.write_text(self.baseline_uri, state)
        # Only once the baseline is on the lake may the gauge show what it learnt: a restart
        # right after the gauge changed then restores the same baseline (the restart test
        # stopped the monitor between the two and found nothing to restore).
        with self.lock:
            for topic in transforms.TOPICS:
                expected = self.baseline.expected(topic, now)
                if expected is not None:
                    self.metrics.volume_expected.labels(topic=topic).set(expected)

    def on_progress(self, end_offsets: str | None) -> None:
        """A micro-batch committed: it read up to ``end_offsets``."""
        offsets = parse_offsets(end_offsets)
        if offsets:
            with self.lock:
                self.read_offsets = offsets

    def update_consumer_lag(self) -> None:
        """Newest offsets in Kafka against what the query read: asked of the broker every
        round, so a query that is stuck shows a growing lag instead of its last report."""
        with self.lock:
            read = self.read_offsets
        if read is None:  # nothing committed by this process yet
            return
        latest = self.latest_offsets()
        if latest is None:  # broker unreachable: keep the last numbers
            return
        for topic, behind in offsets_behind(latest, read).items():
            self.metrics.consumer_lag.labels(topic=topic).set(behind)


def _remove(gauge, *labels: str) -> None:
    with contextlib.suppress(KeyError):  # never set
        gauge.remove(*labels)


class ProgressListener(StreamingQueryListener):
    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor

    def onQueryStarted(self, event) -> None:
        pass

    def onQueryProgress(self, event) -> None:
        progress = event.progress
        if progress.name != QUERY_NAME:
            return
        for source in progress.sources:
            self.monitor.on_progress(source.endOffset)

    def onQueryTerminated(self, event) -> None:
        pass


def housekeeping_loop(monitor: Monitor, stop: threading.Event) -> None:
    while not stop.wait(HOUSEKEEPING_INTERVAL_S):
        try:
            monitor.housekeeping()
            monitor.update_consumer_lag()
        except Exception:  # the next round tries again; the query must go on
            log.exception("housekeeping failed")
