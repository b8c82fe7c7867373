"""Restating the days late records reach: which daily runs are cleared through the Airflow
API, which wait, and which late hours are forgotten (a fake API, a local lake)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from adplatform.errors import UserError
from adplatform.hdfs import LocalFileSystem
from adplatform.landing import markers
from adplatform.orchestration import restate
from adplatform.settings import Settings


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class FakeApi:
    """Runs of adtech_daily by day; records every clear with its body."""

    def __init__(self, runs: dict[date, str]) -> None:
        self.runs = runs
        self.cleared: list[tuple[str, dict]] = []

    def call(self, method, path, ok=(200,), **kwargs):
        if method == "GET":
            day = date.fromisoformat(kwargs["params"]["logical_date_gte"][:10])
            assert kwargs["params"]["logical_date_lte"] == kwargs["params"]["logical_date_gte"]
            state = self.runs.get(day)
            runs = [{"dag_run_id": f"scheduled__{day}", "state": state}] if state else []
            return {"dag_runs": runs}
        assert method == "POST" and path.endswith("/clear"), path
        self.cleared.append((path.split("/")[-2], kwargs["json"]))
        return {}


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(lake_uri=f"file://{tmp_path}/lake")


def test_the_days_reading_an_hour_are_the_jobs_window():
    s = Settings()  # grace 6 h, future tolerance 1 h
    assert restate.days_reading(t("2025-01-06 12:00"), s) == [date(2025, 1, 6)]
    # The evening before a day and the grace hours after it are read by two days.
    assert restate.days_reading(t("2025-01-06 22:00"), s) == [date(2025, 1, 6), date(2025, 1, 7)]
    assert restate.days_reading(t("2025-01-07 05:00"), s) == [date(2025, 1, 6), date(2025, 1, 7)]
    assert restate.days_reading(t("2025-01-07 06:00"), s) == [date(2025, 1, 7)]


def test_finished_runs_are_cleared_a_running_one_waits_and_a_day_without_run_is_left(settings):
    fs = LocalFileSystem()
    markers.record_late(fs, settings, "bid_requests", t("2025-01-06 12:00"), 3, run_id="l1")
    markers.record_late(fs, settings, "tracking", t("2025-01-07 02:00"), 1, run_id="l2")
    markers.record_late(fs, settings, "ad_impressions", t("2025-01-08 10:00"), 5, run_id="l3")
    markers.record_late(fs, settings, "ad_impressions", t("2025-01-09 10:00"), 2, run_id="l3")
    api = FakeApi(
        {
            date(2025, 1, 6): "success",
            date(2025, 1, 7): "failed",
            date(2025, 1, 8): "running",
            # 2025-01-09 has no run yet: it will read the hour when it comes.
        }
    )

    done = restate.restate_late(settings, lambda: api, fs, log=lambda line: None)

    assert [run for run, _ in api.cleared] == ["scheduled__2025-01-06", "scheduled__2025-01-07"]
    assert api.cleared[0][1] == {
        "dry_run": False,
        "only_failed": False,
        "note": "restated: late records in bid_requests 2025-01-06T12:00:00Z (3), "
        "tracking 2025-01-07T02:00:00Z (1)",
    }
    assert done.waiting == {date(2025, 1, 8): "running"}
    assert sorted(done.forgotten) == [
        ("ad_impressions", t("2025-01-09 10:00")),
        ("bid_requests", t("2025-01-06 12:00")),
        ("tracking", t("2025-01-07 02:00")),
    ]
    assert [h.hour for h in markers.late_hours(fs, settings, "ad_impressions")] == [
        t("2025-01-08 10:00")
    ]
    assert done.lines() == [
        "cleared adtech_daily 2025-01-06 (scheduled__2025-01-06)",
        "cleared adtech_daily 2025-01-07 (scheduled__2025-01-07)",
        "adtech_daily 2025-01-08 is running: restated once it has finished",
    ]

    # Once it has finished, the next restate clears it and nothing is left.
    api.runs[date(2025, 1, 8)] = "success"
    again = restate.restate_late(settings, lambda: api, fs, log=lambda line: None)
    assert list(again.cleared) == [date(2025, 1, 8)]
    assert all(not markers.late_hours(fs, settings, s) for s in restate.LANDING_SOURCES)


def test_nothing_recorded_never_calls_the_airflow_api(settings):
    def connect():
        raise AssertionError("the API was called")

    done = restate.restate_late(settings, connect, LocalFileSystem(), log=lambda line: None)
    assert done.lines() == ["no daily run to restate"]


def test_an_hour_that_got_more_late_records_meanwhile_is_kept(settings):
    fs = LocalFileSystem()
    markers.record_late(fs, settings, "bid_requests", t("2025-01-06 12:00"), 3, run_id="l1")
    (seen,) = markers.late_hours(fs, settings, "bid_requests")
    markers.record_late(fs, settings, "bid_requests", t("2025-01-06 12:00"), 4, run_id="l2")
    assert markers.forget_late(fs, seen) is False
    assert [h.records for h in markers.late_hours(fs, settings, "bid_requests")] == [4]


def test_restating_a_day_by_hand_clears_its_run_or_refuses_in_one_line():
    api = FakeApi({date(2025, 1, 6): "success", date(2025, 1, 7): "running"})
    assert restate.restate_day(api, date(2025, 1, 6), "by hand") == "scheduled__2025-01-06"
    assert api.cleared == [
        ("scheduled__2025-01-06", {"dry_run": False, "only_failed": False, "note": "by hand"})
    ]
    with pytest.raises(UserError, match=r"2025-01-07 .* is running: restate it once"):
        restate.restate_day(api, date(2025, 1, 7), "by hand")
    with pytest.raises(UserError, match="no run for 2025-01-08"):
        restate.restate_day(api, date(2025, 1, 8), "by hand")
