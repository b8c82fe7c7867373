"""When an arrival hour is closed, on hand-written partition frontiers (no services)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adplatform.landing.hours import (
    first_hour,
    hour_range,
    hours_to_mark,
    kafka_frontier,
    tracking_frontier,
)


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_an_hour_is_closed_once_every_partition_moved_past_it():
    newest = {0: t("2025-01-06 10:59:59"), 1: t("2025-01-06 13:00:00")}
    # Partition 0 has not shown anything of 11:00 yet: 10:00 is still open.
    assert kafka_frontier(newest, None) == t("2025-01-06 10:00")


def test_a_record_exactly_on_the_hour_closes_the_hour_before():
    newest = {0: t("2025-01-06 11:00:00"), 1: t("2025-01-06 11:00:00")}
    assert kafka_frontier(newest, None) == t("2025-01-06 11:00")


def test_a_drained_partition_closes_hours_up_to_until():
    newest = {0: t("2025-01-06 13:30"), 1: t("2025-01-06 10:15")}
    assert kafka_frontier(newest, t("2025-01-06 12:00")) == t("2025-01-06 12:00")
    # `until` inside an hour closes only the hours that ended before it.
    assert kafka_frontier(newest, t("2025-01-06 12:59:59")) == t("2025-01-06 12:00")
    # A partition that moved further than `until` is not held back by it.
    assert kafka_frontier({0: t("2025-01-06 15:10")}, t("2025-01-06 12:00")) == t(
        "2025-01-06 15:00"
    )


def test_a_silent_partition_closes_nothing_without_until():
    assert kafka_frontier({0: t("2025-01-06 13:30"), 1: None}, None) is None
    assert kafka_frontier({0: None, 1: None}, t("2025-01-06 09:20")) == t("2025-01-06 09:00")
    assert kafka_frontier({}, t("2025-01-06 09:20")) is None


def test_tracking_hour_of_a_landed_file_is_closed_and_a_pending_file_holds_the_frontier():
    assert tracking_frontier(t("2025-01-06 10:00"), [], None) == t("2025-01-06 11:00")
    assert tracking_frontier(t("2025-01-06 10:00"), [], t("2025-01-06 14:05")) == t(
        "2025-01-06 14:00"
    )
    pending = [t("2025-01-06 12:00")]
    assert tracking_frontier(t("2025-01-06 10:00"), pending, t("2025-01-06 14:05")) == t(
        "2025-01-06 12:00"
    )
    assert tracking_frontier(None, [], None) is None


def test_marking_starts_the_day_before_the_first_data():
    assert first_hour([t("2025-01-06 07:00"), t("2025-01-07 01:00")], t("2025-01-08 00:00")) == t(
        "2025-01-05 00:00"
    )
    assert first_hour([], t("2025-01-08 05:00")) == t("2025-01-07 00:00")


def test_every_hour_of_a_normal_range_is_marked():
    start, frontier = t("2025-01-05 00:00"), t("2025-01-09 00:00")
    data = [t("2025-01-06 00:00") + timedelta(hours=h) for h in range(72)]
    assert hours_to_mark(start, frontier, data) == hour_range(start, frontier)


def test_an_absurd_timestamp_does_not_mark_the_empty_years_in_between():
    frontier = t("2025-01-09 00:00")
    start = first_hour([t("1970-01-01 00:00")], frontier)
    marked = hours_to_mark(start, frontier, [t("1970-01-01 00:00"), t("2025-01-08 10:00")])
    # 1970-01-01 00:00 and its 2 days before and after (clipped at the start),
    # plus the 31 days before the frontier.
    assert t("1970-01-01 00:00") in marked
    assert t("1970-01-03 00:00") in marked and t("1970-01-03 01:00") not in marked
    assert t("2024-12-09 00:00") in marked and t("2024-12-08 23:00") not in marked
    assert len(marked) == (24 + 49) + 31 * 24


def test_nothing_is_marked_at_or_after_the_frontier_or_before_the_start():
    marked = hours_to_mark(t("2025-01-06 10:00"), t("2025-01-06 12:00"), [t("2025-01-06 13:00")])
    assert marked == [t("2025-01-06 10:00"), t("2025-01-06 11:00")]
    assert hours_to_mark(t("2025-01-06 12:00"), t("2025-01-06 12:00"), []) == []
