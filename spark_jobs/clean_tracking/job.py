"""Entry point of clean_tracking: one day of landed tracking CSV -> adtech.clicks and
adtech.conversions.

    spark-submit spark_jobs/clean_tracking/job.py --ds 2025-03-01 --run-id <airflow run id>

Clicks are correlated with curated impressions (the day and the click window's days before),
so this job runs after clean_impressions of the same day; conversions are attributed with
the curated clicks of the last-click look-back (earlier days come from adtech.clicks).
Audits both with their suites (``clicks``, ``conversions``; a critical failure in either
stops the job before it writes anything: docs/data-quality.md), then replaces ``clicks`` and
``conversions`` partition ``dt=ds`` and the quarantine partition
``(dt=ds, source=tracking)``; reconciles the tracking rows it owns.
"""

from __future__ import annotations

import argparse
import sys

from pyspark import StorageLevel
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from adplatform import settings as settings_module
from adplatform.contracts import Rules
from adplatform.lake import TRACKING_SOURCE
from adplatform.landing.markers import require_retained
from adplatform.metrics import BatchRun
from adplatform.settings import Settings
from spark_jobs.clean_tracking.transforms import (
    SOURCE,
    attribute_conversions,
    classify_tracking,
    correlate_clicks,
    curated_clicks,
    curated_conversions,
    lookback_days,
    parse_tracking,
    quarantined,
    tracking_lines,
)
from spark_jobs.common.event_time import arrival_hours
from spark_jobs.common.landing import read_tracking_landing
from spark_jobs.common.outcomes import count_outcomes, without_curated_payloads
from spark_jobs.common.publish import DayPartition, publish_audited
from spark_jobs.common.quarantine import quarantine_day
from spark_jobs.common.reconciliation import Reconciliation, reconcile
from spark_jobs.common.session import (
    job_parser,
    job_session,
    parse_job_args,
    require_pseudonym_key,
    run_main,
)

JOB = "clean_tracking"
TABLES = {
    "impressions": "adtech.impressions",
    "clicks": "adtech.clicks",
    "conversions": "adtech.conversions",
    "quarantine": "adtech.quarantine",
}


def run(spark: SparkSession, settings: Settings, args: argparse.Namespace) -> Reconciliation:
    """The job on an existing session; returns the reconciliation it wrote."""
    key = require_pseudonym_key(settings)
    rules = Rules.from_settings(settings)
    # A day whose landing retention deleted would be replaced with nothing.
    require_retained(
        settings, TRACKING_SOURCE, arrival_hours(args.ds, rules), f"{JOB} --ds {args.ds}"
    )
    days = lookback_days(args.ds, rules)
    with BatchRun(JOB, SOURCE, args.run_id, settings=settings) as run:
        files = read_tracking_landing(spark, settings, arrival_hours(args.ds, rules))
        parsed = parse_tracking(tracking_lines(files), rules)
        classified = classify_tracking(parsed, args.ds, rules, key)
        impressions = (
            spark.table(args.impressions_table)
            .where(F.col("dt").isin(*days["impressions"]))
            .select("impression_id", "event_ts", "user_id", "campaign_id", "dt")
        )
        past_clicks = spark.table(args.clicks_table).where(F.col("dt").isin(*days["clicks"]))
        correlated = correlate_clicks(classified, impressions, rules)
        correlated = without_curated_payloads(correlated).persist(StorageLevel.MEMORY_AND_DISK)
        counts = count_outcomes(correlated)
        attributed = attribute_conversions(correlated, past_clicks, impressions, rules)
        clicks, conversions = publish_audited(
            [
                DayPartition(
                    curated_clicks(correlated),
                    args.clicks_table,
                    "clicks",
                    references={"impressions": impressions},
                ),
                DayPartition(
                    curated_conversions(attributed), args.conversions_table, "conversions"
                ),
            ],
            run=run,
            ds=args.ds,
            settings=settings,
        )
        by_reason = quarantine_day(quarantined(correlated), settings, args, source=SOURCE, job=JOB)
        correlated.unpersist()
        rec = Reconciliation(
            JOB, SOURCE, args.ds, args.run_id, counts.rows_in, clicks + conversions,
            counts.duplicates, by_reason,
        )  # fmt: skip
        reconcile(spark, rec, run, counts.newest_curated_event_ts)
    return rec


def main(argv: list[str] | None = None) -> int:
    args = parse_job_args(job_parser(JOB, __doc__.splitlines()[0], TABLES), argv)

    def body() -> int:
        settings = settings_module.load()
        require_pseudonym_key(settings)
        run(job_session(JOB, settings), settings, args)
        return 0

    return run_main(JOB, body)


if __name__ == "__main__":
    sys.exit(main())
