"""Timestamp grammar, future events, lateness and the arrival window of a daily run."""

from __future__ import annotations

from datetime import UTC, date, datetime

from pyspark.sql import functions as F

from adplatform.contracts import Rules
from spark_jobs.common.event_time import (
    arrival_hours,
    arrival_window,
    is_future,
    is_in_time,
    parse_event_ts,
)

RULES = Rules()  # grace 6 h, future tolerance 1 h


def _utc(*args: int) -> datetime:
    return datetime(*args)  # the session time zone is UTC; collect() gives naive UTC


def test_parse_event_ts(spark):
    cases = {
        "2025-03-01T12:00:00Z": _utc(2025, 3, 1, 12, 0, 0),
        "2025-03-01T01:30:00+02:00": _utc(2025, 2, 28, 23, 30, 0),
        "2025-02-28T23:30:00-01:15": _utc(2025, 3, 1, 0, 45, 0),
        "2025-03-01T12:00:00.5Z": _utc(2025, 3, 1, 12, 0, 0, 500000),
        "2025-03-01T12:00:00.123456Z": _utc(2025, 3, 1, 12, 0, 0, 123456),
        "2024-02-29T00:00:00Z": _utc(2024, 2, 29),
        "2025-03-01T12:00:00+23:59": _utc(2025, 2, 28, 12, 1, 0),
        "2023-02-29T00:00:00Z": None,  # not a leap year
        "2025-13-01T00:00:00Z": None,
        "2025-04-31T00:00:00Z": None,
        "2025-03-01T24:00:00Z": None,
        "2025-03-01T12:60:00Z": None,
        "2025-03-01T12:00:60Z": None,  # no leap seconds
        "2025-03-01T12:00:00+24:00": None,
        "2025-03-01T12:00:00+01:60": None,
        "2025-03-01T12:00:00": None,  # no zone
        "2025-03-01 12:00:00Z": None,
        "2025-03-01T12:00:00z": None,
        "2025-03-01T12:00:00.1234567Z": None,
        "0000-01-01T00:00:00Z": None,
        "1740000000": None,
        "": None,
        None: None,
    }
    df = spark.createDataFrame([(k,) for k in cases], "s string")
    got = {r.s: r.ts for r in df.select("s", parse_event_ts(F.col("s")).alias("ts")).collect()}
    assert got == cases


def test_future_and_in_time(spark):
    rows = [
        # event_ts, arrival hour, future?, in time?
        ("2025-03-01 11:59:59", "2025-03-01 10:00:00", False, True),
        ("2025-03-01 12:00:00", "2025-03-01 10:00:00", False, True),  # exactly hour + 2 h
        ("2025-03-01 12:00:01", "2025-03-01 10:00:00", True, True),
        ("2025-03-01 23:00:00", "2025-03-02 05:00:00", False, True),  # last hour in grace
        ("2025-03-01 23:00:00", "2025-03-02 06:00:00", False, False),  # first hour too late
        ("2025-03-01 00:00:00", "2025-03-05 00:00:00", False, False),
    ]
    df = spark.createDataFrame(rows, "e string, a string, f boolean, t boolean").select(
        F.to_timestamp("e").alias("e"), F.to_timestamp("a").alias("a"), "f", "t"
    )
    got = df.select(
        is_future(F.col("e"), F.col("a"), RULES).alias("f"),
        is_in_time(F.col("e"), F.col("a"), RULES).alias("t"),
    ).collect()
    assert [(r.f, r.t) for r in got] == [(f, t) for _, _, f, t in rows]


def test_arrival_window_of_a_day():
    first, last = arrival_window(date(2025, 3, 1), RULES)
    assert first == datetime(2025, 2, 28, 22, tzinfo=UTC)
    assert last == datetime(2025, 3, 2, 5, tzinfo=UTC)
    assert len(arrival_hours(date(2025, 3, 1), RULES)) == 2 + 24 + 6
