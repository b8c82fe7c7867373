"""The daily run's landing sensor on a local lake: a quiet source never blocks a day, a
partition that is behind never closes hours early, and a day retention deleted fails at once.

The lake is written with landing's own rules (``adplatform.landing.hours``) and marker
writer, as ``TopicLanding.close`` writes it after a run over simulated days.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from airflow.sdk.exceptions import AirflowFailException

from adplatform.hdfs import LocalFileSystem, join
from adplatform.landing import hours as rules
from adplatform.landing import markers
from adplatform.orchestration import sensors
from adplatform.orchestration.sensors import LandingMarkersSensor
from adplatform.settings import Settings

DAY = date(2025, 1, 6)  # the pipeline's first day
SOURCES = ("bid_requests", "ad_impressions", "tracking")
# Landing ran long after the simulated days: every partition drained up to this hour.
DRAINED = datetime(2025, 3, 20, 9, tzinfo=UTC)  # beyond the 31 recent days marked


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("ADPLATFORM_LAKE_URI", f"file://{tmp_path}/lake")
    return Settings(lake_uri=f"file://{tmp_path}/lake")


def land(settings: Settings, source: str, data_hours: list[datetime], frontier: datetime) -> None:
    """A first landing run: data files in ``data_hours``, then landing's markers up to
    ``frontier`` and the frontier itself."""
    fs = LocalFileSystem()
    for hour in data_hours:
        fs.create(join(markers.hour_path(settings, source, hour), "part-0.parquet"), b"x")
    start = rules.first_hour(data_hours, frontier)
    closing = [
        (h, {"records": int(h in data_hours)}, "drained")
        for h in rules.hours_to_mark(start, frontier, data_hours)
    ]
    markers.write_new_markers(fs, settings, source, closing, run_id="r", marked=set())
    markers.write_closed_through(fs, settings, source, frontier, "r")


def poke(ds: date = DAY) -> bool:
    sensor = LandingMarkersSensor(task_id="landing_markers", sources=SOURCES, ds=ds.isoformat())
    return sensor.poke({})


def every_hour(first: str, days: int) -> list[datetime]:
    return [t(first) + timedelta(hours=h) for h in range(24 * days)]


def test_a_source_silent_until_day_two_does_not_block_day_one(settings):
    land(settings, "ad_impressions", every_hour("2025-01-06 00:00", 3), DRAINED)
    land(settings, "tracking", every_hour("2025-01-06 00:00", 3), DRAINED)
    # No bid request before 2025-01-07: landing marks from 2025-01-06 00:00 on, but the
    # day's window starts at 2025-01-05 22:00.
    land(settings, "bid_requests", every_hour("2025-01-07 00:00", 2), DRAINED)
    fs = LocalFileSystem()
    assert not markers.has_marker(fs, settings, "bid_requests", t("2025-01-05 22:00"))

    assert sensors.waiting_for(settings, DAY, SOURCES) == {}
    assert poke() is True
    # Four quiet days after the data, no marker written: closed too.
    assert not markers.has_marker(fs, settings, "bid_requests", t("2025-01-12 12:00"))
    assert poke(date(2025, 1, 12)) is True


def test_an_unmarked_hour_that_holds_data_stays_open(settings):
    for source in SOURCES:
        land(settings, source, every_hour("2025-01-06 00:00", 2), DRAINED)
    fs = LocalFileSystem()
    # Records committed into an hour before the frontier whose marker is not written yet
    # (a late batch between its renames and its marker).
    hour = t("2025-01-05 23:00")
    fs.delete(markers.marker_path(settings, "bid_requests", hour))
    fs.create(join(markers.hour_path(settings, "bid_requests", hour), "part-1.parquet"), b"x")

    assert sensors.waiting_for(settings, DAY, SOURCES) == {"bid_requests": ([hour], DRAINED)}
    assert poke() is False


def test_a_partition_that_is_behind_holds_the_frontier_and_the_log_names_source_and_hour(
    settings,
):
    for source in ("ad_impressions", "tracking"):
        land(settings, source, every_hour("2025-01-05 00:00", 4), DRAINED)
    # Partition 0 is at 2025-01-07 05:30; partition 1 has landed only up to 10:20 of day 1
    # and was not drained (the run had no --until past it).
    frontier = rules.kafka_frontier({0: t("2025-01-07 05:30"), 1: t("2025-01-06 10:20")}, None)
    assert frontier == t("2025-01-06 10:00")
    land(settings, "bid_requests", every_hour("2025-01-05 00:00", 1), frontier)

    waiting = sensors.waiting_for(settings, DAY, SOURCES)
    assert list(waiting) == ["bid_requests"]
    still_open, closed_through = waiting["bid_requests"]
    assert still_open == [t("2025-01-06 10:00") + timedelta(hours=h) for h in range(20)]
    assert sensors.describe_wait("bid_requests", still_open, closed_through, 32) == (
        "bid_requests: waiting for arrival hour 2025-01-06T10:00:00Z and 19 later hours "
        "(12 of 32 hours closed); landing has closed bid_requests through 2025-01-06T10:00:00Z"
    )
    assert poke() is False


def test_a_source_landing_never_closed_is_waited_for(settings):
    for source in ("ad_impressions", "tracking"):
        land(settings, source, every_hour("2025-01-06 00:00", 2), DRAINED)
    waiting = sensors.waiting_for(settings, DAY, SOURCES)
    assert list(waiting) == ["bid_requests"] and waiting["bid_requests"][1] is None
    assert len(waiting["bid_requests"][0]) == 32
    assert sensors.describe_wait("bid_requests", *waiting["bid_requests"], 32).endswith(
        "(0 of 32 hours closed); landing has closed no hour of bid_requests yet"
    )


def test_a_day_retention_deleted_fails_at_once_instead_of_passing_as_empty(settings):
    for source in SOURCES:
        land(settings, source, every_hour("2025-01-06 00:00", 2), DRAINED)
    fs = LocalFileSystem()
    for source in SOURCES:
        markers.write_retained_from(fs, settings, source, date(2025, 1, 7))
    for hour in every_hour("2025-01-05 00:00", 2):
        fs.delete(markers.hour_path(settings, "tracking", hour), recursive=True)

    with pytest.raises(AirflowFailException, match="landing retention deleted") as failed:
        poke()
    assert "\n" not in str(failed.value)
