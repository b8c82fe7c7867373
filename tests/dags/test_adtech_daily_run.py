"""adtech_daily for two consecutive days through the test stack's Airflow, on simulator data
with faults, exactly as ``adplatform demo`` runs it (the session fixture ``daily_pipeline``):
the simulated run is published to Kafka and dropped into the tracking inbox, one run of each
landing DAG lands it, and unpausing ``adtech_daily`` lets the scheduler's catchup create the
two runs (the test stack's ``pipeline_start_date`` and ``pipeline_end_date`` are the two
simulated days).

Every task of both runs must succeed, ``campaign_daily`` must equal the simulator's ground
truth row for row and every clean job's reconciliation its expected outcomes. Running the
first day again (triggered in the web UI, with a failed try that Airflow retries) and
checking that it changes nothing is ``tests/browser/test_airflow_ui.py``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from adplatform import ground_truth
from adplatform.demo import simulation_dir
from adplatform.simulator.manifest import load
from tests.dags.pipeline_fixtures import DAILY_OPTIONS

pytestmark = [pytest.mark.stack, pytest.mark.slow]


def test_two_days_run_through_the_scheduler_and_equal_the_ground_truth(daily_pipeline):
    settings, days = daily_pipeline.settings, daily_pipeline.days
    first = settings.pipeline_start
    assert days == [first, first + timedelta(days=1)]
    assert set(daily_pipeline.states.values()) == {"success"}, daily_pipeline.states
    assert daily_pipeline.run_types == dict.fromkeys(days, "scheduled")  # catchup, no trigger
    for day in days:
        tasks = daily_pipeline.task_states[day]
        assert set(tasks.values()) == {"success"}, (day, tasks)

    truth = ground_truth.check(settings, load(simulation_dir(settings)), days)
    assert truth.truth_rows, "the simulated days have campaign rows"
    assert truth.campaign_daily_mismatches == [], "\n".join(truth.summary())
    assert truth.outcome_mismatches == [], "\n".join(truth.summary())
    assert truth.unbalanced == []
    # Faults were injected and ended in quarantine, and the sums are not trivial.
    quarantined = sum(sum(o["quarantined"].values()) for o in truth.lake_outcomes.values())
    assert quarantined > 0
    assert sum(r["impressions"] for r in truth.lake_rows.values()) == sum(
        r["impressions"] for r in truth.truth_rows.values()
    ) > DAILY_OPTIONS.events_per_day  # fmt: skip


def test_campaign_reports_equal_the_ground_truth(daily_pipeline):
    """The analysts' two main reports, run unchanged through HiveServer2, give the truth."""
    from adplatform.reports.queries import BY_NAME, ReportParameters
    from adplatform.reports.runner import run_report

    settings, days = daily_pipeline.settings, daily_pipeline.days
    truth = load(simulation_dir(settings))["expected"]["campaign_daily"]
    truth = [r for r in truth if r["dt"] in {d.isoformat() for d in days}]
    measures = ("impressions", "clicks", "conversions", "spend_micros", "revenue_micros")
    params = ReportParameters(days[0], days[-1])

    def summed(key: str) -> dict[str, dict[str, int]]:
        sums: dict[str, dict[str, int]] = {}
        for row in truth:
            into = sums.setdefault(row[key], dict.fromkeys(measures, 0))
            for m in measures:
                into[m] += row[m]
        return sums

    performance = run_report(settings, BY_NAME["campaign_performance"], params).records()
    assert {r["campaign_id"]: {m: int(r[m]) for m in measures} for r in performance} == summed(
        "campaign_id"
    )
    trend = run_report(settings, BY_NAME["daily_trend"], params).records()
    assert {str(r["dt"]): {m: int(r[m]) for m in measures} for r in trend} == summed("dt")
