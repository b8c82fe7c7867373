"""What every DAG of the platform shares: start date, schedules, tags and ``default_args``.

Retries: 3 more tries after a failure, 1 minute then doubling up to 30 minutes. A Spark job
that failed on a passing cause (a DataNode restart, a metastore timeout) gets a few minutes
to recover; a real defect still fails within the hour and alerts. Every run is idempotent
(docs/orchestration.md), so a retry is always safe.

Callbacks: ``adplatform.metrics.task_failure_callback`` records a failed task (retries
spent) as ``adtech_batch_last_failure_timestamp_seconds{job=<task id>}`` on the
Pushgateway, ``task_success_callback`` records its success (docs/monitoring.md).
"""

from __future__ import annotations

import textwrap
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import CronDataIntervalTimetable

from adplatform import settings as settings_module
from adplatform.metrics import task_failure_callback, task_success_callback


def pipeline_start() -> pendulum.DateTime:
    """The first day the DAGs own (setting ``pipeline_start_date``): catchup creates a run
    for every day from here on."""
    day = settings_module.load().pipeline_start
    return pendulum.datetime(day.year, day.month, day.day, tz="UTC")


def pipeline_end() -> pendulum.DateTime | None:
    """The last day ``adtech_daily`` owns (setting ``pipeline_end_date``), None for no end.
    Only the daily DAG takes it: Airflow does not run a task whose logical date is after its
    DAG's end, and the landing DAGs must go on landing late data of the last day."""
    day = settings_module.load().pipeline_end
    return None if day is None else pendulum.datetime(day.year, day.month, day.day, tz="UTC")


OWNER = "data-platform"
TAG = "adtech"

RETRIES = 3
RETRY_DELAY = timedelta(minutes=1)
RETRY_BACKOFF = 2.0
MAX_RETRY_DELAY = timedelta(minutes=30)
# Longest a single try may run; a Spark job of one day takes minutes on the embedded stack.
EXECUTION_TIMEOUT = timedelta(hours=2)


def hourly() -> CronDataIntervalTimetable:
    """Every hour, for the interval [H, H+1) that just ended (UTC)."""
    return CronDataIntervalTimetable("0 * * * *", timezone="UTC")


def daily() -> CronDataIntervalTimetable:
    """Every day, for the interval [D, D+1) that just ended (UTC): ``ds`` is D."""
    return CronDataIntervalTimetable("0 0 * * *", timezone="UTC")


def default_args(**overrides: Any) -> dict[str, Any]:
    """The ``default_args`` of every DAG; ``overrides`` replace single entries."""
    args: dict[str, Any] = {
        "owner": OWNER,
        "retries": RETRIES,
        "retry_delay": RETRY_DELAY,
        "retry_exponential_backoff": RETRY_BACKOFF,
        "max_retry_delay": MAX_RETRY_DELAY,
        "execution_timeout": EXECUTION_TIMEOUT,
        "on_failure_callback": task_failure_callback,
        "on_success_callback": task_success_callback,
    }
    args.update(overrides)
    return args


def doc(text: str) -> str:
    """Markdown written indented inside a DAG file, dedented (else the UI shows a code block)."""
    return textwrap.dedent(text).strip()
