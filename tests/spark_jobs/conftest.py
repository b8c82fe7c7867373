"""Shared pieces of the Spark job tests: the job sessions' settings on the shared unit-test
session, and one ``adtech`` database (from hive/*.sql) in a temporary lake."""

from __future__ import annotations

import socket

import pytest

from adplatform.hive_ddl import apply_ddl
from adplatform.settings import Settings
from spark_jobs.common.fence import CONSTRAINT_PROPAGATION
from tests.spark_jobs.landed import KEY


@pytest.fixture(scope="session", autouse=True)
def _job_session_settings(spark):
    # As in spark_jobs.common.session.job_session: wide projections plan in seconds.
    spark.conf.set(CONSTRAINT_PROPAGATION, "false")
    yield


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def lake_settings(tmp_path_factory) -> Settings:
    """Settings of a throw-away lake and home (the jobs' data-quality results go there);
    metrics go to a port where nothing listens."""
    return Settings(
        home=tmp_path_factory.mktemp("home"),
        lake_uri=f"file://{tmp_path_factory.mktemp('lake')}",
        pseudonym_key=KEY,
        pushgateway_port=_closed_port(),
        pushgateway_push_attempts=1,  # no backoff waits for a gateway that is not there
    )


@pytest.fixture(scope="session")
def adtech(spark, lake_settings):
    """Database adtech with every table of hive/, created once for the whole session."""
    tables = apply_ddl(spark, lake_settings)
    yield tables
    spark.sql("DROP DATABASE IF EXISTS adtech CASCADE")
