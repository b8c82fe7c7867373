"""adtech_daily for two consecutive days through the test stack's Airflow, on simulator data
with faults, exactly as ``adplatform demo`` runs it: the simulated run is published to Kafka
and dropped into the tracking inbox, one run of each landing DAG lands it, and unpausing
``adtech_daily`` lets the scheduler's catchup create the two runs (the test stack's
``pipeline_start_date`` and ``pipeline_end_date`` are the two simulated days).

Every task of both runs must succeed, ``campaign_daily`` must equal the simulator's ground
truth row for row and every clean job's reconciliation its expected outcomes; running the
first day again must change nothing.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from adplatform import ground_truth, lake
from adplatform.demo import DAILY_DAG, DemoOptions, run_pipeline, simulation_dir
from adplatform.simulator.manifest import load
from tests.dags.pipeline_fixtures import hive_cursor

pytestmark = [pytest.mark.stack, pytest.mark.slow]

OPTIONS = DemoOptions(seed=7, days=2, events_per_day=800, fault_rate=0.02)
RUN_TIMEOUT_S = 30 * 60
SNAPSHOT_QUERIES = {
    "campaign_daily": "SELECT * FROM {db}.campaign_daily WHERE dt BETWEEN '{first}' AND '{last}'",
    "ad_funnel": "SELECT impression_id, clicked, conversions, conversion_value_micros "
    "FROM {db}.ad_funnel WHERE dt BETWEEN '{first}' AND '{last}'",
    "reconciliation": "SELECT dt, job, source, rows_in, curated, quarantined, duplicates, ok "
    "FROM {db}.reconciliation WHERE dt BETWEEN '{first}' AND '{last}'",
    "quarantine": "SELECT source, reason, COUNT(*) FROM {db}.quarantine "
    "WHERE dt BETWEEN '{first}' AND '{last}' GROUP BY source, reason",
}


@pytest.fixture(scope="module")
def daily(pipeline_stack, airflow_api, test_stack):
    settings = test_stack.require("kafka")  # the pipeline stack and the broker
    states = run_pipeline(settings, OPTIONS, say=print)
    days = sorted(states)
    return settings, days, states


def snapshot(settings, days) -> dict[str, list[tuple]]:
    span = {"db": lake.DATABASE, "first": days[0].isoformat(), "last": days[-1].isoformat()}
    found = {}
    with hive_cursor(settings) as cursor:
        for name, query in SNAPSHOT_QUERIES.items():
            cursor.execute(query.format(**span))
            found[name] = sorted(map(tuple, cursor.fetchall()), key=repr)
    return found


def test_two_days_run_through_the_scheduler_and_equal_the_ground_truth(daily, airflow_api):
    settings, days, states = daily
    first = settings.pipeline_start
    assert days == [first, first + timedelta(days=1)]
    assert set(states.values()) == {"success"}, states
    for run in airflow_api.runs(DAILY_DAG):
        if run["logical_date"][:10] in {d.isoformat() for d in days}:
            assert run["run_type"] == "scheduled"  # catchup, not a trigger
            tasks = airflow_api.task_states(DAILY_DAG, run["dag_run_id"])
            assert set(tasks.values()) == {"success"}, tasks

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
    ) > OPTIONS.events_per_day  # fmt: skip


def safemode(settings, action: str) -> None:
    """``hdfs dfsadmin -safemode enter|leave``: in safe mode the NameNode refuses every write
    (what a NameNode restart or a full disk looks like to a job) and reads go on."""
    from adplatform.stack.hdfs import hadoop_conf_dir
    from adplatform.stack.service import jar_classpath, java_command, run_setup_step

    classpath = [str(hadoop_conf_dir(settings)), jar_classpath(settings, "hadoop")]
    dfsadmin = "org.apache.hadoop.hdfs.tools.DFSAdmin"
    argv = java_command(
        settings, classpath, dfsadmin, "-fs", settings.hdfs_uri, "-safemode", action
    )
    run_setup_step(argv, f"hdfs dfsadmin -safemode {action}")


def try_numbers(api, run_id: str) -> dict[str, int]:
    answer = api.call("GET", f"/dags/{DAILY_DAG}/dagRuns/{run_id}/taskInstances")
    return {ti["task_id"]: ti["try_number"] for ti in answer["task_instances"]}


def wait_for_a_retry(api, run_id: str) -> str:
    """The first task of the run that failed a try and waits for its retry."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        states = api.task_states(DAILY_DAG, run_id)
        retrying = sorted(t for t, s in states.items() if s == "up_for_retry")
        if retrying:
            return retrying[0]
        assert "failed" not in states.values(), states
        time.sleep(3)
    raise AssertionError(f"no task of {run_id} failed a try: {api.task_states(DAILY_DAG, run_id)}")


def test_the_first_day_again_recovers_from_a_failed_try_and_changes_nothing(daily, airflow_api):
    """The first day is run again (cleared, as an operator does) while HDFS refuses writes:
    a Spark task fails its first try and Airflow retries it; the cause goes away before the
    retry, the run succeeds, and every table holds exactly what it held before."""
    settings, days, _ = daily
    before = snapshot(settings, days)
    assert before["campaign_daily"] and before["ad_funnel"]
    run = next(r for r in airflow_api.runs(DAILY_DAG) if r["logical_date"][:10] == str(days[0]))
    run_id = run["dag_run_id"]
    tries_before = try_numbers(airflow_api, run_id)
    safemode(settings, "enter")
    try:
        airflow_api.clear_run(DAILY_DAG, run_id)
        retried = wait_for_a_retry(airflow_api, run_id)
        safemode(settings, "leave")
        state = airflow_api.wait_for_run(DAILY_DAG, run_id, RUN_TIMEOUT_S)
    finally:
        safemode(settings, "leave")
    assert state == "success", airflow_api.task_states(DAILY_DAG, run_id)
    tries = try_numbers(airflow_api, run_id)
    # Clearing starts one more try; the failed one was retried once more.
    assert tries[retried] == tries_before[retried] + 2, (retried, tries_before, tries)
    assert snapshot(settings, days) == before


def test_campaign_reports_equal_the_ground_truth(daily):
    """The analysts' two main reports, run unchanged through HiveServer2, give the truth."""
    from adplatform.reports.queries import BY_NAME, ReportParameters
    from adplatform.reports.runner import run_report

    settings, days, _ = daily
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
