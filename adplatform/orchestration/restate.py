"""Restating the days that late records reach (``adplatform restate``, and the landing DAGs'
``restate_late_days`` task after every landing run).

A record that lands in an arrival hour already closed (clock skew between producers, a
re-sent record, a tracking file after its hour was closed) is landed in the hour of its
timestamp, counted (``adtech_landing_late_records``, alert ``LandingLateRecords``) and its
hour recorded in ``landing/<source>/_LATE/`` (``adplatform.landing.markers.record_late``).
Every daily run whose arrival window holds that hour read the hour without it. Restating
clears those runs of ``adtech_daily`` through the Airflow REST API, so that the scheduler
runs them again (idempotent: every job replaces the partitions of its day) and the records
reach ``campaign_daily``.

For each recorded hour and each day whose window holds it:

* no run of the day yet (or before the pipeline's first day): nothing to do, the run will
  read the hour when it comes;
* a finished run (``success`` or ``failed``): cleared, every task, with a note naming the
  hours;
* a run queued or running: left alone; the hour stays recorded and the next restate
  clears the run once it has finished (it may have read the hour before the records came).

An hour is forgotten once every day it reaches was handled, unless more late records were
recorded in it meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from adplatform.errors import UserError
from adplatform.hdfs import FileSystem, filesystem
from adplatform.landing import markers
from adplatform.landing.hours import HOUR
from adplatform.maintenance import LANDING_SOURCES
from adplatform.settings import Settings

DAILY_DAG = "adtech_daily"
FINISHED = ("success", "failed")


class Api(Protocol):
    """What restating needs of ``adplatform.airflow_api.AirflowApi``."""

    def call(self, method: str, path: str, ok: tuple[int, ...] = (200,), **kwargs: Any) -> Any: ...


@dataclass
class Restatement:
    """What one restate did: days cleared, days left for later, hours forgotten."""

    cleared: dict[date, str] = field(default_factory=dict)
    waiting: dict[date, str] = field(default_factory=dict)
    forgotten: list[tuple[str, datetime]] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"cleared {DAILY_DAG} {d} ({run})" for d, run in sorted(self.cleared.items())]
        out += [
            f"{DAILY_DAG} {d} is {state}: restated once it has finished"
            for d, state in sorted(self.waiting.items())
        ]
        if not (self.cleared or self.waiting):
            out.append("no daily run to restate")
        return out


def days_reading(hour: datetime, settings: Settings) -> list[date]:
    """The days whose daily run reads the arrival ``hour`` (the jobs' own window)."""
    from adplatform.contracts import Rules
    from spark_jobs.common.event_time import arrival_window

    rules = Rules.from_settings(settings)
    lo = (hour - timedelta(days=1) - rules.late_grace).date()
    hi = (hour + HOUR + rules.future_tolerance).date()
    days = []
    day = lo
    while day <= hi:
        first, last = arrival_window(day, rules)
        if first <= hour <= last:
            days.append(day)
        day += timedelta(days=1)
    return days


def runs_of(api: Api, day: date) -> list[dict]:
    """The runs of the daily DAG for ``day`` (logical date midnight UTC)."""
    at = f"{day.isoformat()}T00:00:00Z"
    answer = api.call(
        "GET",
        f"/dags/{DAILY_DAG}/dagRuns",
        params={"logical_date_gte": at, "logical_date_lte": at},
    )
    return answer["dag_runs"]


def clear_run(api: Api, run_id: str, note: str) -> None:
    api.call(
        "POST",
        f"/dags/{DAILY_DAG}/dagRuns/{run_id}/clear",
        json={"dry_run": False, "only_failed": False, "note": note[:1000]},
    )


def restate_day(api: Api, day: date, note: str) -> str:
    """Clear the finished run of ``day``; refuses (one line) when there is none."""
    runs = runs_of(api, day)
    if not runs:
        raise UserError(f"{DAILY_DAG} has no run for {day}: nothing to restate")
    for run in runs:
        if run["state"] not in FINISHED:
            raise UserError(
                f"{DAILY_DAG} {day} ({run['dag_run_id']}) is {run['state']}: "
                "restate it once it has finished"
            )
    for run in runs:
        clear_run(api, run["dag_run_id"], note)
    return runs[0]["dag_run_id"]


def restate_late(
    settings: Settings,
    connect: Callable[[], Api],
    fs: FileSystem | None = None,
    sources: Iterable[str] = LANDING_SOURCES,
    log: Callable[[str], None] = print,
) -> Restatement:
    """Clear the finished daily runs that read a recorded late hour; forget handled hours.

    ``connect`` gives the Airflow API; it is called only when a late hour is recorded, so
    the hourly task costs one listing per source when there is nothing to restate.
    """
    fs = fs or filesystem(settings.lake, settings)
    late = [h for source in sources for h in markers.late_hours(fs, settings, source)]
    done = Restatement()
    if not late:
        return done
    api = connect()
    by_day: dict[date, list[markers.LateHour]] = {}
    for hour in late:
        for day in days_reading(hour.hour, settings):
            by_day.setdefault(day, []).append(hour)
    for day, hours in sorted(by_day.items()):
        runs = runs_of(api, day)
        busy = [r for r in runs if r["state"] not in FINISHED]
        if busy:
            done.waiting[day] = busy[0]["state"]
            continue
        note = "restated: late records in " + ", ".join(
            f"{h.source} {markers.iso(h.hour)} ({h.records})" for h in hours
        )
        for run in runs:
            clear_run(api, run["dag_run_id"], note)
            done.cleared[day] = run["dag_run_id"]
            log(f"restate: cleared {DAILY_DAG} {day} ({run['dag_run_id']}): {note}")
    for hour in late:
        waits = any(d in done.waiting for d in days_reading(hour.hour, settings))
        if not waits and markers.forget_late(fs, hour):
            done.forgotten.append((hour.source, hour.hour))
    return done
