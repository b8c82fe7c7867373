"""Fixtures of the fault-injection suite (docs/chaos.md)."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from adplatform.hive_ddl import apply_ddl
from adplatform.landing import kafka_job
from adplatform.settings import Settings

PSEUDONYM_KEY = "chaos-test-key"


def closed_port() -> int:
    """A port where nothing listens: metrics pushed there fail fast and are only logged."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def local_lake(spark, tmp_path_factory) -> Settings:
    """A throw-away lake and home on the local disk (the jobs' data-quality results go to the
    home), and the session's ``adtech`` database (shared with tests/spark_jobs and
    tests/quality, which use other dates)."""
    settings = Settings(
        home=tmp_path_factory.mktemp("chaos_home"),
        lake_uri=f"file://{tmp_path_factory.mktemp('chaos_lake')}",
        pseudonym_key=PSEUDONYM_KEY,
        pushgateway_port=closed_port(),
        pushgateway_push_attempts=1,
    )
    apply_ddl(spark, settings)
    return settings


def hive_initialised(settings: Settings) -> Settings:
    """``settings`` once `adplatform hive init` (what `make up` runs) has created the adtech
    tables in the stack's shared metastore."""
    init = subprocess.run(
        [sys.executable, "-m", "adplatform.cli", "hive", "init"],
        env=kafka_job.environment(settings),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert init.returncode == 0, init.stderr[-3000:]
    return settings
