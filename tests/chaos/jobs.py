"""Running the clean jobs' entry points in the test session, and reading what they wrote."""

from __future__ import annotations

from datetime import date
from types import ModuleType

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_jobs.common.reconciliation import Reconciliation
from spark_jobs.common.session import job_parser

# Curated table -> the id that must be unique in it (semantic 4).
CURATED_IDS = {
    "adtech.impressions": ("impression_id",),
    "adtech.bid_requests": ("request_id", "imp_id"),
    "adtech.clicks": ("event_id",),
    "adtech.conversions": ("event_id",),
}


def run_job(spark: SparkSession, settings, module: ModuleType, day: date, run_id: str):
    """``module.run`` with the arguments Airflow passes (``--ds``, ``--run-id``)."""
    parser = job_parser(module.JOB, "chaos", module.TABLES)
    args = parser.parse_args(["--ds", day.isoformat(), "--run-id", run_id])
    rec: Reconciliation = module.run(spark, settings, args)
    return rec


def duplicated_ids(spark: SparkSession, days: list[date]) -> dict[str, int]:
    """Curated table -> how many of its ids occur more than once in those days."""
    out = {}
    for table, key in CURATED_IDS.items():
        rows = spark.table(table).where(F.col("dt").isin(*days))
        out[table] = rows.groupBy(*key).count().where("count > 1").count()
    return out


def reconciliation_rows(spark: SparkSession, days: list[date], jobs: list[str]) -> dict:
    """(job, dt) -> (in, curated, duplicates, quarantined by reason, ok), as written to
    adtech.reconciliation."""
    rows = spark.table("adtech.reconciliation").where(
        F.col("dt").isin(*days) & F.col("job").isin(*jobs)
    )
    return {
        (r.job, r.dt): (
            r.rows_in,
            r.curated,
            r.duplicates,
            dict(r.quarantined_by_reason),
            r.ok,
        )
        for r in rows.collect()
    }
