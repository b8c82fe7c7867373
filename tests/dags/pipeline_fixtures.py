"""The test stack made ready to run the DAGs: Airflow (whose start-up creates the pools), the
SQL endpoint with the ``adtech`` tables, and the Pushgateway the task callbacks push to;
and ``daily_pipeline``, the two simulated days run through ``adtech_daily`` once per session.

A plugin of the whole suite (``tests/conftest.py``): the DAG, browser and monitoring tests
share one run of the pipeline.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import pytest

from adplatform.airflow_api import AirflowApi
from adplatform.demo import DAILY_DAG, DemoOptions, run_pipeline
from adplatform.hive_ddl import apply_ddl_through_hiveserver2
from adplatform.settings import Settings

PIPELINE_SERVICES = (
    "airflow-api-server",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "spark-thrift",
    "pushgateway",
)


@contextmanager
def hive_cursor(settings: Settings) -> Iterator:
    """A cursor on the stack's HiveServer2 endpoint (the reports' own connection)."""
    from adplatform.reports.runner import connect

    conn = connect(settings, {})
    try:
        yield conn.cursor()
    finally:
        conn.close()


@pytest.fixture(scope="session")
def pipeline_stack(test_stack) -> Settings:
    settings = test_stack.require(*PIPELINE_SERVICES)
    apply_ddl_through_hiveserver2(settings)
    return settings


@pytest.fixture(scope="session")
def airflow_api(pipeline_stack: Settings) -> AirflowApi:
    return AirflowApi(pipeline_stack)


# Two days of simulator data with faults; the test stack's pipeline_start_date and
# pipeline_end_date are these two days, so catchup creates exactly their runs.
DAILY_OPTIONS = DemoOptions(seed=7, days=2, events_per_day=800, fault_rate=0.02)


@dataclass(frozen=True)
class DailyPipeline:
    """The two days as ``adplatform demo`` runs them, and what Airflow recorded right after
    (tests that run a day again later replace its run, so they read the record from here)."""

    settings: Settings
    days: list[date]
    states: dict[date, str]
    run_types: dict[date, str]
    task_states: dict[date, dict[str, str | None]]
    # Unix times around run_pipeline: the window the monitoring metrics of the run are in.
    started_at: float
    finished_at: float


@pytest.fixture(scope="session")
def daily_pipeline(pipeline_stack: Settings, airflow_api: AirflowApi, test_stack) -> DailyPipeline:
    # As the demo runs it: the stream monitor counts what the simulator publishes and
    # Prometheus scrapes it and the Pushgateway the jobs push to.
    settings = test_stack.require("kafka", "prometheus", "stream-monitor")
    started_at = time.time()
    states = run_pipeline(settings, DAILY_OPTIONS, say=print)
    finished_at = time.time()
    test_stack.release("stream-monitor")  # a Spark application the later tests do not need
    days = sorted(states)
    runs = {
        date.fromisoformat(r["logical_date"][:10]): r
        for r in airflow_api.runs(DAILY_DAG)
        if r["logical_date"][:10] in {d.isoformat() for d in days}
    }
    return DailyPipeline(
        settings=settings,
        days=days,
        states=states,
        run_types={day: run["run_type"] for day, run in runs.items()},
        task_states={
            day: airflow_api.task_states(DAILY_DAG, run["dag_run_id"]) for day, run in runs.items()
        },
        started_at=started_at,
        finished_at=finished_at,
    )
