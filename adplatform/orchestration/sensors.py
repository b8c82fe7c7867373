"""Sensors that wait on the landing zone, not on the clock (semantic 6).

Both run in ``reschedule`` mode: between two pokes they give their worker slot back, so a
day waiting for its grace period costs nothing. They read the lake through WebHDFS (or the
local folder of a ``file://`` lake) with the settings of the worker, i.e. of the stack that
runs them.

* ``LandingMarkersSensor``: the daily run of ``ds`` starts once every arrival hour it reads
  is closed, for every source: the hours ``ds-1 22:00 … ds+1 (grace-1):00`` of
  ``spark_jobs.common.event_time.arrival_hours`` (docs/data-contracts.md §2), i.e. the day
  itself plus the grace period. An hour is closed when it has its done marker, or when the
  source's frontier is past it and nothing landed in it (``markers.open_hours``: a quiet
  source never blocks a day). Each poke logs, per source, the first hour it waits for and
  how far landing has closed that source. A day whose window reaches before what landing
  retention kept fails at once, in one line (``markers.require_retained``).
* ``TrackingFileSensor``: the hourly intake starts once the click-tracking file of its hour
  is in the inbox (``tracking_inbox``, else the lake's inbox) and older than
  ``tracking_min_file_age_s`` (the intake leaves younger files alone), or once that hour was
  landed by an earlier intake.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import AirflowFailException

from adplatform import lake
from adplatform import settings as settings_module
from adplatform.settings import Settings

# How often a sensor looks, at first; with exponential backoff up to MAX_POKE_INTERVAL.
POKE_INTERVAL = timedelta(minutes=2)
MAX_POKE_INTERVAL = timedelta(minutes=15)
# The daily run starts after midnight and its last hour closes after the grace period
# (6 h by default): a day whose markers are still missing a day later is a landing fault.
MARKERS_TIMEOUT = timedelta(hours=24)
# A tracking file arrives minutes after its hour; after the grace period it would be too
# late for its day anyway.
TRACKING_FILE_TIMEOUT = timedelta(hours=6)


def daily_hours(settings: Settings, ds: date) -> list[datetime]:
    """Every arrival hour the daily run of ``ds`` reads (the batch jobs' own definition)."""
    # pyspark is imported here, at poke time, never when the DAG file is parsed.
    from adplatform.contracts import Rules
    from spark_jobs.common.event_time import arrival_hours

    return arrival_hours(ds, Rules.from_settings(settings))


def waiting_for(
    settings: Settings, ds: date, sources: Sequence[str]
) -> dict[str, tuple[list[datetime], datetime | None]]:
    """Per source with hours still open: those hours and how far the source is closed.

    Raises ``UserError`` when the window reaches before what landing retention kept.
    """
    from adplatform.hdfs import filesystem
    from adplatform.landing import markers

    fs = filesystem(settings.lake, settings)
    hours = daily_hours(settings, ds)
    waiting = {}
    for source in sources:
        markers.require_retained(settings, source, hours, f"the daily run of {ds}", fs=fs)
        still_open = markers.open_hours(settings, source, hours, fs=fs)
        if still_open:
            waiting[source] = (still_open, markers.read_closed_through(fs, settings, source))
    return waiting


def describe_wait(
    source: str, still_open: Sequence[datetime], closed_through: datetime | None, total: int
) -> str:
    """One log line: which source and hour the sensor waits for, and how far landing is."""
    from adplatform.landing.markers import iso

    frontier = (
        f"landing has closed {source} through {iso(closed_through)}"
        if closed_through is not None
        else f"landing has closed no hour of {source} yet"
    )
    more = f" and {len(still_open) - 1} later hours" if len(still_open) > 1 else ""
    return (
        f"{source}: waiting for arrival hour {iso(still_open[0])}{more} "
        f"({total - len(still_open)} of {total} hours closed); {frontier}"
    )


def hour_markers(settings: Settings, hour: datetime, sources: Sequence[str]) -> list[str]:
    """Done markers of one arrival hour, for each source."""
    hour = hour.astimezone(UTC)
    return [lake.done_marker_path(settings, s, hour.date(), hour.hour) for s in sources]


def missing(settings: Settings, uris: Sequence[str]) -> list[str]:
    """The URIs among ``uris`` that do not exist (in the lake, or a local folder)."""
    from adplatform.hdfs import filesystem

    return [uri for uri in uris if not filesystem(uri, settings).exists(uri)]


def tracking_inbox(settings: Settings) -> str:
    """Where the click-tracking files arrive: ``tracking_inbox``, else the lake's inbox."""
    return settings.tracking_inbox or lake.inbox_path(settings)


def tracking_file_name(hour: datetime) -> str:
    """Name of the click-tracking file of an hour (the contract's file name pattern)."""
    from adplatform.contracts import tracking_csv_spec

    hour = hour.astimezone(UTC)
    pattern = tracking_csv_spec()["file_name_pattern"]
    return pattern.replace("{YYYYMMDD}", f"{hour:%Y%m%d}").replace("{HH}", f"{hour:%H}")


class LandingMarkersSensor(BaseSensorOperator):
    """Waits until the arrival hours the daily run of ``ds`` reads are closed for ``sources``."""

    template_fields: Sequence[str] = ("ds",)

    def __init__(self, *, sources: Sequence[str], ds: str = "{{ ds }}", **kwargs: Any) -> None:
        kwargs.setdefault("mode", "reschedule")
        kwargs.setdefault("poke_interval", POKE_INTERVAL)
        kwargs.setdefault("exponential_backoff", True)
        kwargs.setdefault("max_wait", MAX_POKE_INTERVAL)
        kwargs.setdefault("timeout", MARKERS_TIMEOUT)
        super().__init__(**kwargs)
        self.sources = tuple(sources)
        self.ds = ds

    def poke(self, context: Any) -> bool:
        from adplatform.errors import UserError

        settings = settings_module.load()
        ds = date.fromisoformat(self.ds)
        try:
            waiting = waiting_for(settings, ds, self.sources)
        except UserError as exc:
            # Waiting cannot bring deleted landing back: fail now, with the reason.
            raise AirflowFailException(str(exc)) from None
        total = len(daily_hours(settings, ds))
        for source, (still_open, closed_through) in waiting.items():
            self.log.info(describe_wait(source, still_open, closed_through, total))
        if waiting:
            return False
        self.log.info(
            "every arrival hour of %s is closed for %s (%d hours each)",
            self.ds,
            ", ".join(self.sources),
            total,
        )
        return True


class TrackingFileSensor(BaseSensorOperator):
    """Waits for the click-tracking file of ``hour`` in the inbox (or its hour landed)."""

    template_fields: Sequence[str] = ("hour",)

    def __init__(self, *, hour: str = "{{ data_interval_start | ts }}", **kwargs: Any) -> None:
        kwargs.setdefault("mode", "reschedule")
        kwargs.setdefault("poke_interval", POKE_INTERVAL)
        kwargs.setdefault("exponential_backoff", True)
        kwargs.setdefault("max_wait", MAX_POKE_INTERVAL)
        kwargs.setdefault("timeout", TRACKING_FILE_TIMEOUT)
        super().__init__(**kwargs)
        self.hour = hour

    def poke(self, context: Any) -> bool:
        from adplatform.hdfs import filesystem, join

        settings = settings_module.load()
        hour = datetime.fromisoformat(self.hour)
        if not missing(settings, hour_markers(settings, hour, [lake.TRACKING_SOURCE])):
            self.log.info("the tracking hour %s is landed already", hour.isoformat())
            return True
        inbox_file = join(tracking_inbox(settings), tracking_file_name(hour))
        status = filesystem(inbox_file, settings).status(inbox_file)
        if status is None:
            self.log.info("waiting for %s", inbox_file)
            return False
        # The intake leaves a file this young alone: it may still be being written.
        age_s = datetime.now(UTC).timestamp() - status.mtime_s
        if age_s < settings.tracking_min_file_age_s:
            self.log.info("%s is %.0f s old; waiting until it is settled", inbox_file, age_s)
            return False
        self.log.info("found %s", inbox_file)
        return True
