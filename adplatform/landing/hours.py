"""When an arrival hour of a landed source is complete ("closed"), as pure functions.

Semantic 6 of DESIGN.md: landing writes a done marker for every hour it closes, and the
daily DAG waits on those markers, not on the clock. Arrival time is the Kafka record
timestamp (the simulated arrival for simulator data), never the wall clock, so the same
rules close three simulated days published in one minute.

* **Kafka topic.** An hour is closed on a partition once a record with a later timestamp has
  been landed from that partition ("moved past"), or once the partition has been drained
  up to a point in time after the hour ("drained": the run read everything the partition
  held when it started, and ``--until``, the Airflow data interval end, is after the hour).
  An hour is closed for the topic when it is closed on every partition: the *frontier* is
  the earliest hour that is not, and every hour before it is closed.
* **Tracking CSV.** One file per arrival hour, delivered in hour order: the hour of a landed
  (or quarantined) file is closed, and so is every hour before it; hours up to ``--until``
  are closed once the inbox is drained. A file still being written holds the frontier at
  its hour.

Every closed hour with data gets a marker. An empty closed hour (no traffic) gets one too
when it lies within ``NEAR_DATA`` of an hour with data or within ``RECENT`` before the
frontier: the daily run of a day looks a few hours beyond the day on both sides and must
find those markers, while one record with an absurd timestamp (year 1970) must not make a
run write half a million markers for the empty years in between.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

HOUR = timedelta(hours=1)
NEAR_DATA = timedelta(days=2)
RECENT = timedelta(days=31)


def utc(ts: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken as UTC already."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def hour_floor(ts: datetime) -> datetime:
    return utc(ts).replace(minute=0, second=0, microsecond=0)


def hour_range(start: datetime, end: datetime) -> list[datetime]:
    """The hours ``start <= h < end`` (both on hour boundaries)."""
    out, hour = [], hour_floor(start)
    while hour < end:
        out.append(hour)
        hour += HOUR
    return out


def kafka_frontier(
    newest_by_partition: Mapping[int, datetime | None], drained_until: datetime | None
) -> datetime | None:
    """Start of the first hour not yet closed for the topic, or None if none is closed.

    ``newest_by_partition`` holds, for every partition of the topic, the newest landed
    record timestamp (None when the partition has landed nothing that counts); the hour of
    that record is not closed yet, the hours before it are. ``drained_until`` is the point
    up to which every partition is known to be drained (``min(--until, run start)``).
    """
    if not newest_by_partition:
        return None
    drained = hour_floor(drained_until) if drained_until is not None else None
    frontiers = []
    for newest in newest_by_partition.values():
        candidates = [c for c in (newest and hour_floor(newest), drained) if c is not None]
        if not candidates:
            return None
        frontiers.append(max(candidates))
    return min(frontiers)


def tracking_frontier(
    newest_file_hour: datetime | None,
    pending_hours: Iterable[datetime],
    drained_until: datetime | None,
) -> datetime | None:
    """Start of the first tracking hour not yet closed, or None.

    ``newest_file_hour``: the newest hour whose file was landed or quarantined (that hour is
    complete: one file per hour). ``pending_hours``: hours of files still being written;
    none of them is closed. ``drained_until``: the run emptied the inbox at that time.
    """
    candidates = []
    if newest_file_hour is not None:
        candidates.append(hour_floor(newest_file_hour) + HOUR)
    if drained_until is not None:
        candidates.append(hour_floor(drained_until))
    if not candidates:
        return None
    frontier = max(candidates)
    pending = [hour_floor(h) for h in pending_hours]
    if pending:
        frontier = min(frontier, min(pending))
    return frontier


def first_hour(data_hours: Iterable[datetime], frontier: datetime) -> datetime:
    """Where marking starts when a source has never closed an hour.

    The day before the first hour with data (a daily run looks back into it), or the day
    before the frontier for a source that has landed nothing yet.
    """
    data = [hour_floor(h) for h in data_hours]
    anchor = min(data) if data else frontier - HOUR
    return anchor.replace(hour=0) - timedelta(days=1)


def hours_to_mark(
    start: datetime,
    frontier: datetime,
    data_hours: Iterable[datetime],
    near_data: timedelta = NEAR_DATA,
    recent: timedelta = RECENT,
) -> list[datetime]:
    """The closed hours in ``[start, frontier)`` that get a done marker, oldest first.

    Every hour with data; every empty hour within ``near_data`` of an hour with data (those
    outside the range count as neighbours too) or within ``recent`` before the frontier.
    """
    start, frontier = hour_floor(start), hour_floor(frontier)
    if start >= frontier:
        return []
    chosen = set(hour_range(max(start, frontier - recent), frontier))
    for hour in {hour_floor(h) for h in data_hours}:
        lo, hi = max(start, hour - near_data), min(frontier, hour + near_data + HOUR)
        chosen.update(hour_range(lo, hi))
    return sorted(chosen)
