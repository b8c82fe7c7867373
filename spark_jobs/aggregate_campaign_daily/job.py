"""Entry point of aggregate_campaign_daily: the curated tables of one day -> campaign_daily.

    spark-submit spark_jobs/aggregate_campaign_daily/job.py --ds 2025-03-01 --run-id <run id>

Runs after the clean jobs of the day (conversions are attributed by clean_tracking). Audits
the rows with the ``campaign_daily`` suite against the day's curated tables and
``dim_campaign`` (a critical failure stops the job before it writes anything:
docs/data-quality.md), then replaces ``campaign_daily`` partition ``dt=ds``. Its
reconciliation row checks that the rows add up to the curated events they count: ``rows_in``
= curated impressions + curated clicks + attributed conversions of the day, ``curated`` =
the same sums over the rows.
"""

from __future__ import annotations

import argparse
import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from adplatform import settings as settings_module
from adplatform.metrics import BatchRun
from adplatform.settings import Settings
from spark_jobs.aggregate_campaign_daily.transforms import campaign_daily, win_counts
from spark_jobs.common.publish import DayPartition, publish_audited
from spark_jobs.common.reconciliation import Reconciliation, reconcile
from spark_jobs.common.session import job_parser, job_session, parse_job_args, run_main

JOB = "aggregate_campaign_daily"
SOURCE = "campaign_daily"
TABLES = {
    "impressions": "adtech.impressions",
    "clicks": "adtech.clicks",
    "conversions": "adtech.conversions",
    "bid_requests": "adtech.bid_requests",
    "dim_campaign": "adtech.dim_campaign",
    "campaign_daily": "adtech.campaign_daily",
}


def run(spark: SparkSession, settings: Settings, args: argparse.Namespace) -> Reconciliation:
    """The job on an existing session; returns the reconciliation it wrote."""

    def day(table: str):
        return spark.table(table).where(F.col("dt") == F.lit(args.ds))

    with BatchRun(JOB, SOURCE, args.run_id, settings=settings) as run:
        impressions = day(args.impressions_table)
        clicks = day(args.clicks_table)
        conversions = day(args.conversions_table)
        bid_requests = day(args.bid_requests_table)
        wins = win_counts(bid_requests, impressions)
        rows = campaign_daily(impressions, clicks, conversions, wins)
        references = {
            "impressions": impressions,
            "clicks": clicks,
            "conversions": conversions,
            "bid_requests": bid_requests,
            "dim_campaign": spark.table(args.dim_campaign_table),
        }
        (written,) = publish_audited(
            [
                DayPartition(
                    rows, args.campaign_daily_table, "campaign_daily", references, compact=True
                )
            ],
            run=run,
            ds=args.ds,
            settings=settings,
        )
        totals = (
            day(args.campaign_daily_table)
            .agg(F.sum(F.col("impressions") + F.col("clicks") + F.col("conversions")))
            .first()[0]
        )
        events = (
            impressions.count()
            + clicks.count()
            + conversions.where(F.col("attribution") != "none").count()
        )
        rec = Reconciliation(JOB, SOURCE, args.ds, args.run_id, events, totals or 0, 0)
        print(f"{args.campaign_daily_table} dt={args.ds}: {written} campaign rows", flush=True)
        reconcile(spark, rec, run)
    return rec


def main(argv: list[str] | None = None) -> int:
    args = parse_job_args(job_parser(JOB, __doc__.splitlines()[0], TABLES), argv)

    def body() -> int:
        settings = settings_module.load()
        run(job_session(JOB, settings), settings, args)
        return 0

    return run_main(JOB, body)


if __name__ == "__main__":
    sys.exit(main())
