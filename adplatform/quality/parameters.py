"""Run-time parameters of the suites: the run's time windows, vocabularies and dimension ids.

A suite names a value it only knows at run time as ``{"$PARAMETER": "<name>"}`` (GX 1.x
expectation parameters); this module computes every such value for one run. All times are
UTC. Timestamps are handed to GX as *naive local* datetimes, because that is what PySpark
returns when GX collects a column's max or min, and PySpark turns a naive datetime into an
instant by the same local-time rule when it filters; on the usual UTC machine local is UTC.

The windows, for a run of day ``D`` (``first_day``/``last_day`` = the days the data covers,
``D``/``D`` except for the funnel job, which rebuilds several days):

* ``window_start``, ``window_end``: ``first_day`` 00:00 and ``last_day + 1`` 00:00 (end
  excluded): where a published event time lies;
* ``arrival_start``, ``arrival_end``: the run's arrival window (docs/data-contracts.md §2),
  its first hour and its last hour + 1 h;
* ``raw_event_start``, ``raw_event_end``: ``window_start`` - 1 day and ``arrival_end`` +
  the future tolerance: where a sensible raw event time lies;
* ``fresh_event_after``: ``window_end`` - 3 h, the newest published event must be later;
* ``fresh_arrival_after``: ``arrival_end`` - 3 h, the newest landed record must be later;
* ``impression_ts_start``: ``window_start`` - click window, the earliest impression a click
  can join; ``touch_ts_start``: ``window_start`` - the longest attribution look-back;
* ``click_window_s``: the click window in seconds; ``max_yob``: the year of ``D``;
* ``device_types``, ``country_codes``, ``conversion_types``: the vocabularies the jobs
  normalise to; ``dim_campaign_ids``: the campaign ids of ``adtech.dim_campaign``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from adplatform.contracts import CONVERSION_TYPES, Rules

# How far before the end of its window the newest record of a complete day must be. Three
# hours, not one: the night hours of the daily traffic curve are thin at demo volumes.
FRESHNESS_SLACK = timedelta(hours=3)
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _local(ts: datetime) -> datetime:
    """A UTC instant as the naive local datetime PySpark uses for it."""
    return ts.astimezone().replace(tzinfo=None)


def _vocabularies() -> dict[str, list[str]]:
    # The jobs normalise to these vocabularies; the suites check against the same lists.
    from spark_jobs.common.countries import ALPHA2
    from spark_jobs.common.devices import DEVICE_TYPES

    return {
        "device_types": list(DEVICE_TYPES),
        "country_codes": sorted(ALPHA2),
        "conversion_types": list(CONVERSION_TYPES),
    }


def run_parameters(
    ds: date,
    rules: Rules,
    *,
    days: tuple[date, date] | None = None,
    dim_campaign_ids: list[str] | None = None,
) -> dict[str, Any]:
    """Every parameter a suite may use, for the run of ``ds`` covering ``days``."""
    from spark_jobs.common.event_time import arrival_window

    first_day, last_day = days or (ds, ds)
    if first_day > last_day:
        raise ValueError(f"days must be (first, last), got {first_day} > {last_day}")
    window_start = _midnight(first_day)
    window_end = _midnight(last_day) + _DAY
    first_hour, last_hour = arrival_window(ds, rules)
    arrival_end = last_hour + _HOUR
    lookback = max(rules.last_click_lookback, rules.last_view_lookback)
    return {
        "ds": ds,
        "first_day": first_day,
        "last_day": last_day,
        "window_start": _local(window_start),
        "window_end": _local(window_end),
        "arrival_start": _local(first_hour),
        "arrival_end": _local(arrival_end),
        "raw_event_start": _local(window_start - _DAY),
        "raw_event_end": _local(arrival_end + rules.future_tolerance),
        "fresh_event_after": _local(window_end - FRESHNESS_SLACK),
        "fresh_arrival_after": _local(arrival_end - FRESHNESS_SLACK),
        "impression_ts_start": _local(window_start - rules.click_window),
        "touch_ts_start": _local(window_start - lookback),
        "click_window_s": int(rules.click_window.total_seconds()),
        "max_yob": ds.year,
        "dim_campaign_ids": sorted(dim_campaign_ids or []),
        **_vocabularies(),
    }
