"""The test stack made ready to run the DAGs: Airflow with its pools, the SQL endpoint with
the ``adtech`` tables, and the Pushgateway the task callbacks push to.

Imported by the conftest files of ``tests/dags`` and ``tests/browser``; every step is
idempotent, so two folders asking for it in one session cost a second check, not a second
set-up.
"""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from adplatform import lake
from adplatform.hive_ddl import LOCATION_VARIABLE, ddl_files, statements
from adplatform.orchestration.pools import pool_commands
from adplatform.settings import Settings
from adplatform.stack.airflow import airflow_env
from tests.dags.airflow_api import AirflowApi

PIPELINE_SERVICES = (
    "airflow-api-server",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "spark-thrift",
    "pushgateway",
)


def create_pools(settings: Settings) -> None:
    """What ``adplatform stack up`` should run once Airflow's database exists."""
    env = {**os.environ, **airflow_env(settings)}
    airflow = str(Path(sys.executable).parent / "airflow")
    for command in pool_commands(airflow):
        subprocess.run(command, env=env, check=True, capture_output=True, timeout=180)


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
    create_pools(settings)
    apply_ddl(settings)
    return settings


@pytest.fixture(scope="session")
def airflow_api(pipeline_stack: Settings) -> AirflowApi:
    return AirflowApi(pipeline_stack)
