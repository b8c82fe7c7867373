"""``spark_job()``: the one way a DAG starts a Spark application of the platform.

It returns a ``SparkSubmitOperator`` for ``spark_jobs/<job>/job.py`` that

* connects through the Airflow connection ``spark_default``: master ``local[*]`` on the
  embedded stack; a standalone master, YARN or Kubernetes by changing only the connection;
* takes the platform's Spark settings and jars from ``spark-defaults.conf`` in
  ``SPARK_CONF_DIR``, which the stack writes from ``adplatform.spark_config`` (metastore,
  warehouse, Kafka and Avro jars, dynamic partition overwrite);
* ships the project's code to the executors as a zip (``package.build``, via ``py_files``);
* runs in the ``spark`` pool and passes the partition and the run id as arguments
  (``--ds {{ ds }} --run-id {{ run_id }}`` unless told otherwise);
* sets the task's ``source`` param, which the metric callbacks use as the ``source`` label;
* on success, attaches ``{"ds", "run_id"}`` to the events of the Assets it publishes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

from adplatform import settings as settings_module
from adplatform.orchestration import package
from adplatform.orchestration.pools import SPARK_POOL
from adplatform.settings import REPO_ROOT

JOBS_DIR = REPO_ROOT / "spark_jobs"
SPARK_CONN_ID = "spark_default"
DAILY_ARGS = ("--ds", "{{ ds }}", "--run-id", "{{ run_id }}")


def job_path(job: str) -> Path:
    """The entry point of a Spark job: ``spark_jobs/<job>/job.py`` with ``main(argv)``."""
    return JOBS_DIR / job / "job.py"


def packages_dir(settings: settings_module.Settings) -> Path:
    return settings.state_dir / "spark-packages"


class PlatformSparkSubmitOperator(SparkSubmitOperator):
    """SparkSubmitOperator that builds the code zip when it runs, not when the DAG is parsed."""

    def __init__(self, *, job: str, **kwargs: Any) -> None:
        super().__init__(application=str(job_path(job)), **kwargs)
        self.job = job

    def execute(self, context: Any) -> None:
        self.py_files = str(package.build(packages_dir(settings_module.load())))
        self.log.info("shipping the project's code to the executors as %s", self.py_files)
        super().execute(context)
        for asset in self.outlets:
            context["outlet_events"][asset].extra = {
                "ds": context.get("ds"),
                "run_id": context["run_id"],
            }


def spark_job(
    job: str,
    *,
    source: str,
    task_id: str | None = None,
    args: Sequence[str] = DAILY_ARGS,
    **kwargs: Any,
) -> PlatformSparkSubmitOperator:
    """A task that runs ``spark_jobs/<job>/job.py`` with ``args``; task id = job name.

    The task id is the job's name so that the metrics the job pushes (``BatchRun(job=...)``)
    and the ones the task callbacks push describe the same job.
    """
    params = {"source": source, **kwargs.pop("params", {})}
    return PlatformSparkSubmitOperator(
        task_id=task_id or job,
        job=job,
        conn_id=SPARK_CONN_ID,
        name=f"adtech-{job}",
        application_args=list(args),
        pool=kwargs.pop("pool", SPARK_POOL),
        params=params,
        **kwargs,
    )


def quality_check(stage: str) -> PlatformSparkSubmitOperator:
    """Task ``validate_<stage>``: every data-quality suite of a pipeline stage on the run's
    day, through ``spark_jobs/data_quality``; it fails when a critical expectation fails
    (docs/data-quality.md). The daily DAG checks only ``raw`` this way: the jobs that write
    the curated tables audit their own output before publishing it."""
    task_id = f"validate_{stage}"
    return spark_job(
        "data_quality",
        task_id=task_id,
        source=stage,
        args=[*DAILY_ARGS, "--stage", stage, "--job", task_id],
    )
