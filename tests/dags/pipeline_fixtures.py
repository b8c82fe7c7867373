"""The test stack made ready to run the DAGs: Airflow (whose start-up creates the pools), the
SQL endpoint with the ``adtech`` tables, and the Pushgateway the task callbacks push to.

Imported by the conftest files of ``tests/dags`` and ``tests/browser``; every step is
idempotent, so two folders asking for it in one session cost a second check, not a second
set-up.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from adplatform import lake
from adplatform.hive_ddl import LOCATION_VARIABLE, ddl_files, statements
from adplatform.settings import Settings
from tests.dags.airflow_api import AirflowApi

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
    """A cursor on the stack's HiveServer2 endpoint, as the platform user (the Thrift
    Server touches HDFS as the session's user, and the lake is private to that user)."""
    from pyhive import hive

    conn = hive.connect(
        host=settings.hiveserver2_host, port=settings.thrift_port, username=getpass.getuser()
    )
    try:
        yield conn.cursor()
    finally:
        conn.close()


def apply_ddl(settings: Settings) -> None:
    """The DDL of hive/ through the HiveServer2 endpoint (``adplatform hive init`` does the
    same through a SparkSession; both are ``IF NOT EXISTS``)."""
    with hive_cursor(settings) as cursor:
        for path in ddl_files():
            for statement in statements(path.read_text()):
                cursor.execute(statement.replace(LOCATION_VARIABLE, lake.database_path(settings)))


@pytest.fixture(scope="session")
def pipeline_stack(test_stack) -> Settings:
    settings = test_stack.require(*PIPELINE_SERVICES)
    apply_ddl(settings)
    return settings


@pytest.fixture(scope="session")
def airflow_api(pipeline_stack: Settings) -> AirflowApi:
    return AirflowApi(pipeline_stack)
