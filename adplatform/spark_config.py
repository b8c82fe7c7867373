"""Spark configuration shared by every Spark application of the platform.

The batch jobs (through spark-submit and Airflow's `spark_default` connection), the Thrift
Server, the streaming monitor and the tests all take their settings from here, so that
they meet in the same metastore and warehouse.
"""

from __future__ import annotations

from adplatform.errors import UserError
from adplatform.settings import Settings


def extra_jars(settings: Settings) -> list[str]:
    """The Spark Kafka source/sink jars that `make setup` copies next to pyspark's own."""
    jars = sorted(str(p) for p in (settings.jars_dir / "spark").glob("*.jar"))
    if not jars:
        raise UserError(f"no Spark Kafka jars in {settings.jars_dir / 'spark'}: run `make setup`")
    return jars


def spark_conf(settings: Settings) -> dict[str, str]:
    conf = {
        "spark.sql.catalogImplementation": "hive",
        "spark.hadoop.hive.metastore.uris": settings.metastore_uri,
        "spark.sql.warehouse.dir": settings.warehouse_uri,
        "spark.sql.session.timeZone": "UTC",
        "spark.jars": ",".join(extra_jars(settings)),
        # Jobs replace only the partitions they write (semantic 2).
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        # Small splits keep both cores busy on files far below the 128 MB default.
        "spark.sql.files.maxPartitionBytes": str(16 * 1024 * 1024),
        "spark.sql.shuffle.partitions": "8",
        "spark.sql.adaptive.enabled": "true",
        "spark.ui.showConsoleProgress": "false",
    }
    if settings.spark_master.startswith("local"):
        # One executor on the machine that holds every block: waiting for a "node-local"
        # slot only delays tasks, and in local mode nothing re-offers the free cores after
        # the wait, so a stage whose last tasks were held back hung forever (seen under
        # Airflow: 8 of 10 tasks done, 2 never launched, both cores idle).
        conf["spark.locality.wait"] = "0s"
        # A local application is one JVM on this machine: its RPC endpoint, block manager
        # and file server listen on bind_host (settings.py), not on every interface. A
        # cluster's executors must reach the driver, so there Spark's own choice stands.
        conf["spark.driver.bindAddress"] = settings.bind_host
        conf["spark.driver.host"] = settings.host
    return conf


def spark_env(settings: Settings) -> dict[str, str]:
    """Environment of a Spark driver: Spark binds its web UI (whose kill links stop jobs)
    where SPARK_LOCAL_IP says, and on every interface without it; no setting does it."""
    if not settings.spark_master.startswith("local"):
        return {}
    return {"SPARK_LOCAL_IP": settings.bind_host}


def batch_job_conf(settings: Settings) -> dict[str, str]:
    """``spark_conf`` plus the driver heap of a batch job (the services size their own)."""
    return {**spark_conf(settings), "spark.driver.memory": f"{settings.spark_driver_memory_mb}m"}


def spark_submit_conf_args(settings: Settings, conf: dict[str, str] | None = None) -> list[str]:
    args = []
    for key, value in (conf or spark_conf(settings)).items():
        args += ["--conf", f"{key}={value}"]
    return args


def spark_submit_command(settings: Settings, app: str, *app_args: str) -> list[str]:
    """The spark-submit command line that runs `app` with the platform's configuration.

    It starts with ``env`` and ``spark_env``, so that the driver's UI binds where the
    settings say whatever environment the caller passes.
    """
    from adplatform.stack.service import pyspark_home

    return [
        "env",
        *(f"{name}={value}" for name, value in spark_env(settings).items()),
        str(pyspark_home() / "bin" / "spark-submit"),
        "--master",
        settings.spark_master,
        *spark_submit_conf_args(settings, batch_job_conf(settings)),
        app,
        *app_args,
    ]
