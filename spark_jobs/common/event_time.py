"""Event time, arrival time and the daily run that owns a record (docs/data-contracts.md §2).

* ``parse_event_ts``: the ISO-8601 grammar of the contracts, with calendar checks, to a UTC
  timestamp, or null (``unparsable_timestamp``).
* Arrival hour: the Kafka timestamp truncated to the hour, or the tracking file's hour.
* A valid record is *in time* for its event date ``D`` when its arrival hour is before
  ``D + 1 day + grace``; it is *in the future* when its ``event_ts`` is later than the end of
  its arrival hour plus the clock-skew tolerance.
* ``arrival_window``: the arrival hours the daily run for ``D`` reads.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from pyspark.sql import Column
from pyspark.sql import functions as F

from adplatform.contracts import Reason, Rules

# docs/data-contracts.md, "Timestamp grammar".
TS_GRAMMAR = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
    r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
_ZONE = r"(Z|[+-][0-9]{2}:[0-9]{2})$"
_OFFSET = r"[+-][0-9]{2}:[0-9]{2}$"
_HOUR = timedelta(hours=1)


def parse_event_ts(text: Column) -> Column:
    """UTC timestamp of an ISO-8601 string with zone; null unless it is a real instant."""
    # The grammar (offsets up to 23:59) by a regex; the calendar (month lengths, leap years,
    # hours 0-23, no second 60) by the strict datetime parser on the local part; year 0,
    # which that parser accepts and the contract does not, by hand. The offset is applied
    # by hand because java.time refuses offsets beyond 18:00 that the contract allows.
    local = F.try_to_timestamp(
        F.regexp_replace(text, _ZONE, ""), F.lit("yyyy-MM-dd'T'HH:mm:ss[.SSSSSS]")
    )
    offset = F.regexp_extract(text, _OFFSET, 0)
    offset_s = F.when(offset == "", F.lit(0)).otherwise(
        F.when(F.substring(offset, 1, 1) == "-", F.lit(-1)).otherwise(F.lit(1))
        * (
            F.substring(offset, 2, 2).cast("int") * 3600
            + F.substring(offset, 5, 2).cast("int") * 60
        )
    )
    valid = F.coalesce(text.rlike(TS_GRAMMAR), F.lit(False)) & ~text.startswith("0000")
    utc = F.timestamp_micros(F.unix_micros(local) - offset_s.cast("bigint") * 1_000_000)
    return F.when(valid, utc)


def _seconds(span: timedelta) -> Column:
    return F.expr(f"INTERVAL {int(span.total_seconds())} SECONDS")


def arrival_hour(arrival_ts: Column) -> Column:
    """The landing partition hour of a Kafka record: its timestamp truncated to the hour."""
    return F.date_trunc("hour", arrival_ts)


def is_future(event_ts: Column, arrival_hour_ts: Column, rules: Rules) -> Column:
    """``event_ts`` later than the end of the arrival hour plus the clock-skew tolerance."""
    return event_ts > arrival_hour_ts + _seconds(_HOUR + rules.future_tolerance)


def is_in_time(event_ts: Column, arrival_hour_ts: Column, rules: Rules) -> Column:
    """The arrival hour is before ``event date + 1 day + grace``."""
    deadline = F.to_timestamp(F.date_add(F.to_date(event_ts), 1)) + _seconds(rules.late_grace)
    return arrival_hour_ts < deadline


def arrival_window(ds: date, rules: Rules) -> tuple[datetime, datetime]:
    """[first, last] arrival hours the daily run for ``ds`` reads, as UTC datetimes.

    From ``ds - 1 day + (24 h - 1 h - tolerance)`` (records of ``ds`` stamped up to the
    future tolerance ahead of their arrival hour) to ``ds + 1 day + grace - 1 h`` (the last
    hour still in time). Every record whose arrival date is ``ds`` lies inside, too.
    """
    start = datetime(ds.year, ds.month, ds.day, tzinfo=UTC)
    first = start - _HOUR - rules.future_tolerance
    last = start + timedelta(days=1) + rules.late_grace - _HOUR
    return first, max(last, start + timedelta(hours=23))


def arrival_hours(ds: date, rules: Rules) -> list[datetime]:
    """Every arrival hour of ``arrival_window``."""
    first, last = arrival_window(ds, rules)
    hours = []
    hour = first
    while hour <= last:
        hours.append(hour)
        hour += _HOUR
    return hours


def owner_day(event_ts: Column, arrival_hour_ts: Column, rules: Rules) -> Column:
    """The day whose daily run accounts for the record (docs/data-contracts.md §2).

    The event date when ``event_ts`` could be read (even if another check fails), is not in
    the future and is in time; otherwise the arrival date.
    """
    by_event = (
        event_ts.isNotNull()
        & ~is_future(event_ts, arrival_hour_ts, rules)
        & is_in_time(event_ts, arrival_hour_ts, rules)
    )
    return F.when(by_event, F.to_date(event_ts)).otherwise(F.to_date(arrival_hour_ts))


def with_lateness(
    reason: Column, event_ts: Column, arrival_hour_ts: Column, rules: Rules
) -> Column:
    """The validation reason, or ``too_late`` for a valid record that is not in time."""
    too_late = F.when(~is_in_time(event_ts, arrival_hour_ts, rules), F.lit(Reason.TOO_LATE))
    return F.coalesce(reason, too_late)
