"""Fixtures of the report tests: the adtech tables filled with the hand-made rows of
adtech_rows.py, behind a real Spark Thrift Server (HiveServer2)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from adplatform.reports.queries import BY_NAME, ReportParameters
from adplatform.reports.runner import run_report
from adplatform.settings import REPO_ROOT, Settings
from adplatform.spark_config import spark_submit_command
from tests.reports import adtech_rows

LOADER = Path(__file__).parent / "apps" / "load_tables.py"


def spark_submit_env(settings: Settings) -> dict[str, str]:
    """Environment of a spark-submit application that imports the adplatform package."""
    return {
        **os.environ,
        **settings.as_env(),
        "PYSPARK_PYTHON": sys.executable,
        "PYTHONPATH": str(REPO_ROOT),
    }


@pytest.fixture(scope="session")
def report_settings(thrift_settings: Settings, tmp_path_factory) -> Settings:
    """The Thrift Server's settings, once the adtech tables hold the hand-made rows."""
    folder = tmp_path_factory.mktemp("adtech_rows")
    adtech_rows.write_jsonl(folder)
    result = subprocess.run(
        spark_submit_command(thrift_settings, str(LOADER), str(folder)),
        capture_output=True,
        text=True,
        timeout=900,
        env=spark_submit_env(thrift_settings),
    )
    if result.returncode != 0:
        # Spark logs at INFO on stderr: keep the lines that say what went wrong.
        errors = [
            line
            for line in result.stderr.splitlines()
            if " INFO " not in line and " WARN " not in line
        ]
        pytest.fail(
            f"{LOADER.name} exited with {result.returncode}; stdout: {result.stdout[-1000:]}\n"
            + "\n".join(errors[-60:])
        )
    return thrift_settings


RunReport = Callable[..., list[dict[str, Any]]]


@pytest.fixture(scope="session")
def run(report_settings: Settings) -> RunReport:
    """``run(name, from, to, campaign_id="", top_n=10)``: the report's rows as dicts,
    through pyhive; each distinct call runs once per session."""
    cache: dict[tuple, list[dict[str, Any]]] = {}

    def run_one(
        name: str, from_date: str, to_date: str, campaign_id: str = "", top_n: int = 10
    ) -> list[dict[str, Any]]:
        key = (name, from_date, to_date, campaign_id, top_n)
        if key not in cache:
            params = ReportParameters(
                date.fromisoformat(from_date), date.fromisoformat(to_date), campaign_id, top_n
            )
            cache[key] = run_report(report_settings, BY_NAME[name], params).records()
        return cache[key]

    return run_one
