"""Entry point of load_dimensions: the campaign and user files -> dim_campaign and dim_user.

    spark-submit spark_jobs/load_dimensions/job.py --ds 2025-03-01 --run-id <run id> \\
        [--campaigns-file URI] [--users-file URI]

The files default to ``<lake>/dims/campaigns.csv`` and ``<lake>/dims/users.csv``. Each
table is replaced whole (a snapshot); a missing file stops the job before anything is
written (an empty snapshot would silently drop every campaign or user attribute from the
funnel); bad lines go to the quarantine partition
``(dt=ds, source=dim_campaign|dim_user)``; a key repeated on several lines keeps its first
line and counts the others as duplicates. One reconciliation row per file.
"""

from __future__ import annotations

import argparse
import sys

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from adplatform import lake
from adplatform import settings as settings_module
from adplatform.errors import UserError
from adplatform.metrics import BatchRun
from adplatform.settings import Settings
from spark_jobs.common.quarantine import quarantine_day
from spark_jobs.common.reconciliation import Reconciliation, reconcile
from spark_jobs.common.session import (
    job_parser,
    job_session,
    parse_job_args,
    require_pseudonym_key,
    run_main,
)
from spark_jobs.common.tables import overwrite_partition
from spark_jobs.load_dimensions.transforms import (
    CAMPAIGN_COLUMNS,
    USER_COLUMNS,
    parse_campaigns,
    parse_users,
    valid_rows,
)

JOB = "load_dimensions"
TABLES = {
    "dim_campaign": "adtech.dim_campaign",
    "dim_user": "adtech.dim_user",
    "quarantine": "adtech.quarantine",
}


def _read(spark: SparkSession, path: str) -> DataFrame:
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    fs = hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(hadoop_path):
        raise UserError(
            f"the dimension file {path} does not exist: deliver it there (the simulator "
            "writes one per run) or pass --campaigns-file / --users-file; the tables keep "
            "their last snapshot"
        )
    files = spark.read.format("binaryFile").load(path)
    return files.select(F.col("_metadata.file_name").alias("file_name"), "content")


def _load(
    spark: SparkSession,
    args: argparse.Namespace,
    settings: Settings,
    source: str,
    parsed: DataFrame,
    columns: tuple[str, ...],
    table: str,
) -> None:
    with BatchRun(JOB, source, args.run_id, settings=settings) as run:
        parsed = parsed.cache()
        rows_in = parsed.count()
        valid = parsed.where(F.col("reason").isNull()).count()
        curated = overwrite_partition(valid_rows(parsed, columns), table, {}, compact=True)
        bad = parsed.where(F.col("reason").isNotNull()).select(
            "reason",
            "detail",
            "raw_payload",
            F.lit(None).cast("binary").alias("raw_key"),
            F.concat_ws(":", "file_name", F.col("line_number").cast("string")).alias("origin"),
            F.lit(None).cast("timestamp").alias("event_ts"),
            F.lit(None).cast("timestamp").alias("arrival_ts"),
            F.lit(args.ds).alias("owner_dt"),
        )
        by_reason = quarantine_day(bad, settings, args, source=source, job=JOB)
        parsed.unpersist()
        rec = Reconciliation(
            JOB, source, args.ds, args.run_id, rows_in, curated, valid - curated, by_reason
        )
        reconcile(spark, rec, run)


def run(spark: SparkSession, settings: Settings, args: argparse.Namespace) -> None:
    """The job on an existing session."""
    key = require_pseudonym_key(settings)
    campaigns = _read(spark, args.campaigns_file or lake.dims_path(settings, "campaigns"))
    users = _read(spark, args.users_file or lake.dims_path(settings, "users"))
    _load(spark, args, settings, "dim_campaign", parse_campaigns(campaigns),
          CAMPAIGN_COLUMNS, args.dim_campaign_table)  # fmt: skip
    _load(spark, args, settings, "dim_user", parse_users(users, key),
          USER_COLUMNS, args.dim_user_table)  # fmt: skip


def arg_parser() -> argparse.ArgumentParser:
    parser = job_parser(JOB, __doc__.splitlines()[0], TABLES)
    parser.add_argument("--campaigns-file", default=None, help="campaign dimension CSV")
    parser.add_argument("--users-file", default=None, help="user dimension CSV")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parse_job_args(arg_parser(), argv)

    def body() -> int:
        settings = settings_module.load()
        require_pseudonym_key(settings)
        run(job_session(JOB, settings, audits=False), settings, args)
        return 0

    return run_main(JOB, body)


if __name__ == "__main__":
    sys.exit(main())
