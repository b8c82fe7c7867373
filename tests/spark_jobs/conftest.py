"""Settings the Spark jobs' own sessions use, applied to the shared unit-test session."""

from __future__ import annotations

import pytest

from spark_jobs.common.fence import CONSTRAINT_PROPAGATION


@pytest.fixture(scope="session", autouse=True)
def _job_session_settings(spark):
    # As in spark_jobs.common.session.job_session: wide projections plan in seconds.
    spark.conf.set(CONSTRAINT_PROPAGATION, "false")
    yield
