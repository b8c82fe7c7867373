"""Entry point of build_ad_funnel: curated tables -> adtech.ad_funnel (one row per impression).

    spark-submit spark_jobs/build_ad_funnel/job.py --ds 2025-03-01 --run-id <airflow run id> \\
        [--restate-days N]

Runs after the clean jobs of the day. Rebuilds the impression days ``ds - N ... ds``
(default N: click window + last-click look-back in days, the longest a conversion can take
to reach an impression), with the clicks and conversions available now, so re-running a day
gives the same rows as the latest run. Audits the rebuilt days with the ``ad_funnel`` suite
(a critical failure stops the job before it writes anything: docs/data-quality.md), then
writes (dt, campaign_id) partitions bucketed by user_id (one file per bucket), drops
partitions of those days that no longer have rows, checks one row per impression, and
reconciles impressions in against rows out.
"""

from __future__ import annotations

import argparse
import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from adplatform import settings as settings_module
from adplatform.contracts import Rules
from adplatform.metrics import BatchRun
from adplatform.quality import write_audit_publish
from adplatform.settings import Settings
from spark_jobs.build_ad_funnel.transforms import (
    ad_funnel,
    check_one_row_per_impression,
    funnel_days,
    restate_days,
)
from spark_jobs.common.reconciliation import Reconciliation, reconcile
from spark_jobs.common.session import job_parser, job_session, parse_job_args, run_main
from spark_jobs.common.tables import overwrite_partitions

JOB = "build_ad_funnel"
SOURCE = "ad_funnel"
TABLES = {
    "impressions": "adtech.impressions",
    "bid_requests": "adtech.bid_requests",
    "clicks": "adtech.clicks",
    "conversions": "adtech.conversions",
    "dim_campaign": "adtech.dim_campaign",
    "dim_user": "adtech.dim_user",
    "ad_funnel": "adtech.ad_funnel",
}


def run(spark: SparkSession, settings: Settings, args: argparse.Namespace) -> Reconciliation:
    """The job on an existing session; returns the reconciliation it wrote."""
    rules = Rules.from_settings(settings)
    restate = restate_days(rules) if args.restate_days is None else args.restate_days
    days = funnel_days(args.ds, restate)
    first = days[0]
    with BatchRun(JOB, SOURCE, args.run_id, settings=settings) as run:
        impressions = spark.table(args.impressions_table).where(F.col("dt").isin(*days))
        bids = spark.table(args.bid_requests_table).where(
            (F.col("dt") >= F.date_sub(F.lit(first), 1)) & (F.col("dt") <= F.lit(args.ds))
        )
        clicks = spark.table(args.clicks_table).where(F.col("dt") >= F.lit(first))
        conversions = spark.table(args.conversions_table).where(F.col("dt") >= F.lit(first))
        dim_campaign = spark.table(args.dim_campaign_table)
        funnel = ad_funnel(
            impressions,
            bids,
            clicks,
            conversions,
            dim_campaign,
            spark.table(args.dim_user_table),
        )
        present = {
            (r.dt.isoformat(), r.campaign_id)
            for r in impressions.select("dt", "campaign_id").distinct().collect()
        }
        # The suite audits every rebuilt day before any of them is replaced.
        written = write_audit_publish(
            funnel,
            "ad_funnel",
            lambda staged: overwrite_partitions(
                staged, args.ad_funnel_table, {"dt": days}, present
            ),
            run=run,
            ds=args.ds,
            references={"impressions": impressions, "dim_campaign": dim_campaign},
            days=(first, args.ds),
            settings=settings,
        )
        check_one_row_per_impression(
            spark.table(args.ad_funnel_table).where(F.col("dt").isin(*days))
        )
        rec = Reconciliation(JOB, SOURCE, args.ds, args.run_id, impressions.count(), written, 0)
        reconcile(spark, rec, run)
    return rec


def main(argv: list[str] | None = None) -> int:
    parser = job_parser(JOB, __doc__.splitlines()[0], TABLES)
    parser.add_argument(
        "--restate-days",
        type=int,
        default=None,
        help="impression days before --ds to rebuild (default: click window + last-click "
        "look-back, in days)",
    )
    args = parse_job_args(parser, argv)

    def body() -> int:
        settings = settings_module.load()
        run(job_session(JOB, settings), settings, args)
        return 0

    return run_main(JOB, body)


if __name__ == "__main__":
    sys.exit(main())
