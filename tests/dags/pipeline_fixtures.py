"""The test stack made ready to run the DAGs: Airflow (whose start-up creates the pools), the
SQL endpoint with the ``adtech`` tables, and the Pushgateway the task callbacks push to.

Imported by the conftest files of ``tests/dags`` and ``tests/browser``; every step is
idempotent, so two folders asking for it in one session cost a second check, not a second
set-up.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from adplatform.airflow_api import AirflowApi
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
