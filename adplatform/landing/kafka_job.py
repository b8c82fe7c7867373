"""Starting the Kafka landing job with spark-submit, as Airflow starts it.

The command line is ``adplatform.spark_config.spark_submit_command`` (the platform's Spark
configuration) around ``spark_jobs/land_kafka/job.py``; the environment makes the driver
the Python of this installation with the repository importable, as Airflow's environment
does (``adplatform.stack.airflow``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime

from adplatform.settings import ENV_PREFIX, REPO_ROOT, Settings
from adplatform.spark_config import spark_submit_command

JOB_FILE = REPO_ROOT / "spark_jobs" / "land_kafka" / "job.py"


def command(
    settings: Settings,
    *,
    until: datetime | None = None,
    run_id: str | None = None,
    topics: list[str] | None = None,
    max_records_per_batch: int | None = None,
) -> list[str]:
    args = []
    if until is not None:
        args += ["--until", until.isoformat()]
    if run_id:
        args += ["--run-id", run_id]
    if topics:
        args += ["--topics", ",".join(topics)]
    if max_records_per_batch:
        args += ["--max-records-per-batch", str(max_records_per_batch)]
    return spark_submit_command(settings, str(JOB_FILE), *args)


def environment(settings: Settings, base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (the current environment) with these settings and a driver that can import
    the platform: its own ``ADPLATFORM_*`` variables are replaced by ``settings``."""
    base = dict(os.environ if base is None else base)
    env = {k: v for k, v in base.items() if not k.startswith(ENV_PREFIX)}
    env.update(settings.as_env())
    env["PYSPARK_PYTHON"] = sys.executable
    env["PYSPARK_DRIVER_PYTHON"] = sys.executable
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), base.get("PYTHONPATH")) if p)
    return env


def run(settings: Settings, **options: object) -> int:
    """Run the landing job in the foreground; its output goes to this process's output."""
    return subprocess.run(command(settings, **options), env=environment(settings)).returncode
