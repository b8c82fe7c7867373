"""Entry point of clean_impressions: one day of landed ``ad_impressions`` -> adtech.impressions.

    spark-submit spark_jobs/clean_impressions/job.py --ds 2025-03-01 --run-id <airflow run id>

Reads the arrival hours the day needs (docs/data-contracts.md §2), classifies every record
the day owns, audits the curated rows with the ``impressions`` suite (a critical failure
stops the job before it writes anything: docs/data-quality.md), replaces ``impressions``
partition ``dt=ds`` and the quarantine partition ``(dt=ds, source=impressions)``, writes the
reconciliation row and fails when it does not add up.
"""

from __future__ import annotations

import argparse
import sys

from pyspark import StorageLevel
from pyspark.sql import SparkSession

from adplatform import settings as settings_module
from adplatform.contracts import TOPIC_AD_IMPRESSIONS, Rules
from adplatform.landing.markers import require_retained
from adplatform.metrics import BatchRun
from adplatform.settings import Settings
from spark_jobs.clean_impressions.transforms import (
    SOURCE,
    classify_impressions,
    curated_impressions,
    parse_impressions,
    quarantined,
)
from spark_jobs.common.event_time import arrival_hours
from spark_jobs.common.landing import read_kafka_landing
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

JOB = "clean_impressions"
TABLES = {"impressions": "adtech.impressions", "quarantine": "adtech.quarantine"}


def run(spark: SparkSession, settings: Settings, args: argparse.Namespace) -> Reconciliation:
    """The job on an existing session; returns the reconciliation it wrote."""
    key = require_pseudonym_key(settings)
    rules = Rules.from_settings(settings)
    # A day whose landing retention deleted would be replaced with nothing.
    require_retained(
        settings, TOPIC_AD_IMPRESSIONS, arrival_hours(args.ds, rules), f"{JOB} --ds {args.ds}"
    )
    with BatchRun(JOB, SOURCE, args.run_id, settings=settings) as run:
        hours = arrival_hours(args.ds, rules)
        landed = read_kafka_landing(spark, settings, TOPIC_AD_IMPRESSIONS, hours)
        classified = classify_impressions(parse_impressions(landed, rules), args.ds, rules)
        # On disk, not in memory: with 8 shuffle partitions a 20M-impression day makes blocks
        # of about 900 MB, and reading one back into the memory store ran the driver (the
        # executor in local mode) out of its 3 GiB heap. clean_bid_requests does the same.
        classified = without_curated_payloads(classified).persist(StorageLevel.DISK_ONLY)
        counts = count_outcomes(classified)
        (curated,) = publish_audited(
            [
                DayPartition(
                    curated_impressions(classified, key), args.impressions_table, "impressions"
                )
            ],
            run=run,
            ds=args.ds,
            settings=settings,
        )
        by_reason = quarantine_day(quarantined(classified), settings, args, source=SOURCE, job=JOB)
        classified.unpersist()
        rec = Reconciliation(
            JOB, SOURCE, args.ds, args.run_id, counts.rows_in, curated, counts.duplicates,
            by_reason,
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
