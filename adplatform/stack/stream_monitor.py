"""The stream monitor (spark_jobs/stream_monitor) as a service of the embedded stack, and
``adplatform monitor run``, the same command in the foreground (a container's command).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn

import requests

from adplatform import settings as settings_module
from adplatform.metrics import STREAM_RECORDS_TOTAL
from adplatform.settings import REPO_ROOT, Settings
from adplatform.spark_config import spark_conf, spark_env
from adplatform.stack.service import Service, pyspark_home

JOB = REPO_ROOT / "spark_jobs" / "stream_monitor" / "job.py"


def monitor_spark_conf(settings: Settings) -> dict[str, str]:
    """The platform's Spark configuration with what a small, always-on driver needs."""
    return {
        **spark_conf(settings),
        # The monitor writes no table: it must not depend on the metastore being up.
        "spark.sql.catalogImplementation": "in-memory",
        # Micro-batches of seconds: a few shuffle partitions, not the batch jobs' 8.
        "spark.sql.shuffle.partitions": "2",
        # The impression parser's wide projection plans in seconds, not a minute, without
        # constraint inference (as in the clean jobs, spark_jobs/common/fence.py).
        "spark.sql.constraintPropagation.enabled": "false",
        # The Python workers (the bid-request decoder) use the platform's interpreter.
        "spark.pyspark.python": sys.executable,
        # A driver that runs small jobs forever: the C1 JIT alone warms up in a third of the
        # time and CPU (measured: first micro-batch 11 s instead of 36 s on a busy 2-core
        # machine); a serial GC, like the stack's other JVMs.
        "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
        # Any free port for the Spark UI: 4040 belongs to the Thrift Server. The monitor's
        # log names the URL ("Bound SparkUI to ...").
        "spark.ui.port": "0",
        # Keep the UI's memory of old micro-batches small in a process that never ends.
        "spark.sql.streaming.numRecentProgressUpdates": "20",
        "spark.ui.retainedJobs": "200",
        "spark.ui.retainedStages": "200",
        "spark.sql.ui.retainedExecutions": "50",
    }


def monitor_command(settings: Settings, *job_args: str) -> list[str]:
    """spark-submit of the monitor's job with the settings' configuration."""
    argv = [
        str(pyspark_home() / "bin" / "spark-submit"),
        "--master",
        settings.spark_master,
        "--name",
        "adplatform-stream-monitor",
        "--driver-memory",
        f"{settings.service_heap_mb * 2}m",
    ]
    for key, value in monitor_spark_conf(settings).items():
        argv += ["--conf", f"{key}={value}"]
    return [*argv, str(JOB), *job_args]


def monitor_env(settings: Settings) -> dict[str, str]:
    """The driver and its Python workers import ``spark_jobs`` from the repository; its UI
    binds where ``spark_env`` says."""
    path = os.environ.get("PYTHONPATH", "")
    return {
        "PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{path}" if path else str(REPO_ROOT),
        **spark_env(settings),
    }


def exec_monitor(settings: Settings) -> NoReturn:
    """Replace this process by the monitor (for a container's command, or a terminal)."""
    argv = monitor_command(settings)
    os.execve(argv[0], argv, {**os.environ, **settings.as_env(), **monitor_env(settings)})


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "monitor", help="the stream monitor (Spark Structured Streaming over both topics)"
    )
    commands = parser.add_subparsers(dest="monitor_command", required=True)
    run = commands.add_parser(
        "run",
        help="run it in the foreground until stopped (`adplatform stack up` starts it in the "
        "background)",
    )
    run.set_defaults(func=lambda args: exec_monitor(settings_module.load()))


class StreamMonitor(Service):
    name = "stream-monitor"
    port_fields = ("stream_monitor_port",)
    requires = ("kafka", "hdfs-datanode")

    def url(self, settings: Settings) -> str:
        return f"http://{settings.host}:{settings.stream_monitor_port}/metrics"

    def command(self, settings: Settings) -> list[str]:
        return monitor_command(settings)

    def env(self, settings: Settings) -> dict[str, str]:
        return monitor_env(settings)

    def healthy(self, settings: Settings) -> bool:
        # The endpoint is served once the streaming query runs (spark_jobs/stream_monitor).
        try:
            response = requests.get(self.url(settings), timeout=2)
        except requests.RequestException:
            return False
        return response.status_code == 200 and STREAM_RECORDS_TOTAL in response.text
