"""Entry point of clean_bid_requests: one day of landed ``bid_requests`` -> adtech.bid_requests.

    spark-submit --jars <spark-avro jar> spark_jobs/clean_bid_requests/job.py --ds 2025-03-01 \\
        --run-id <airflow run id>

Reads the arrival hours the day needs, decodes the Confluent wire format with spark-avro
(writer schema by id: ``-N`` = version N of the repository's schema; positive ids from the
Schema Registry when ``ADPLATFORM_SCHEMA_REGISTRY_URL`` is set), classifies every record the
day owns, audits the curated rows with the ``bid_requests`` suite (a critical failure stops
the job before it writes anything: docs/data-quality.md), replaces ``bid_requests``
partition ``dt=ds`` (one row per imp) and the quarantine partition
``(dt=ds, source=bid_requests)``, and reconciles requests in against requests out.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from adplatform import settings as settings_module
from adplatform.contracts import TOPIC_BID_REQUESTS, Rules
from adplatform.errors import UserError
from adplatform.landing.markers import require_retained
from adplatform.metrics import BatchRun
from adplatform.settings import Settings
from spark_jobs.clean_bid_requests.transforms import (
    SOURCE,
    classify_bid_requests,
    country_code_forms,
    curated_bid_requests,
    decode_avro,
    parse_bid_requests,
    quarantined,
    split_wire_format,
    writer_schemas,
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

JOB = "clean_bid_requests"
COUNTRY_SUITE = "country_codes"
TABLES = {"bid_requests": "adtech.bid_requests", "quarantine": "adtech.quarantine"}


def registry_schemas(split: DataFrame, registry_url: str) -> dict[int, str]:
    """Writer schemas of the registry ids (positive) found in the data; unknown ids are left
    out, so their records are quarantined as unknown_schema_id."""
    ids = [
        r.schema_id for r in split.where("schema_id > 0").select("schema_id").distinct().collect()
    ]
    schemas = {}
    for schema_id in ids:
        url = f"{registry_url.rstrip('/')}/schemas/ids/{schema_id}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                schemas[schema_id] = json.loads(response.read())["schema"]
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise UserError(f"schema registry {registry_url} answered {exc.code}") from exc
        except urllib.error.URLError as exc:
            raise UserError(f"schema registry {registry_url} unreachable: {exc.reason}") from exc
    return schemas


def record_country_codes(run: BatchRun, classified: DataFrame) -> dict[str, int]:
    """Count the curated requests whose country was normalised from alpha-2 or was unknown
    (written as null), as warning-severity results of the suite ``country_codes``: an
    unknown code fails its result (the DataQualityWarning alert), alpha-2 never does."""
    forms = {r.form: r.requests for r in country_code_forms(classified).collect()}
    alpha2, unknown = forms.get("alpha2", 0), forms.get("unknown", 0)
    run.expectation(COUNTRY_SUITE, "country_normalised_from_alpha2", success=True,
                    unexpected_count=alpha2, severity="warning")  # fmt: skip
    run.expectation(COUNTRY_SUITE, "country_code_unknown_written_as_null",
                    success=unknown == 0, unexpected_count=unknown, severity="warning")  # fmt: skip
    print(f"country codes: {alpha2} normalised from alpha-2, {unknown} unknown (null)", flush=True)
    return forms


def run(spark: SparkSession, settings: Settings, args: argparse.Namespace) -> Reconciliation:
    """The job on an existing session; returns the reconciliation it wrote."""
    key = require_pseudonym_key(settings)
    rules = Rules.from_settings(settings)
    # A day whose landing retention deleted would be replaced with nothing.
    require_retained(
        settings, TOPIC_BID_REQUESTS, arrival_hours(args.ds, rules), f"{JOB} --ds {args.ds}"
    )
    with BatchRun(JOB, SOURCE, args.run_id, settings=settings) as run:
        landed = read_kafka_landing(
            spark, settings, TOPIC_BID_REQUESTS, arrival_hours(args.ds, rules)
        )
        split = split_wire_format(landed)
        writers = writer_schemas()
        if settings.schema_registry_url:
            writers |= registry_schemas(split, settings.schema_registry_url)
        parsed = parse_bid_requests(decode_avro(split, writers), rules)
        classified = classify_bid_requests(parsed, args.ds, rules)
        # On disk, not in memory: one row per imp carries the flattened request, about
        # 110 MB of cached columns per 16 MB input split, and at 4M bid requests a day the
        # in-memory cache ran the driver (the executor in local mode) out of its 3 GiB heap.
        classified = without_curated_payloads(classified).persist(StorageLevel.DISK_ONLY)
        counts = count_outcomes(classified)
        record_country_codes(run, classified)
        publish_audited(
            [
                DayPartition(
                    curated_bid_requests(classified, key), args.bid_requests_table, "bid_requests"
                )
            ],
            run=run,
            ds=args.ds,
            settings=settings,
        )
        requests = (
            spark.table(args.bid_requests_table)
            .where(F.col("dt") == F.lit(args.ds))
            .select(F.count_distinct("request_id"))
            .first()[0]
        )
        by_reason = quarantine_day(quarantined(classified), settings, args, source=SOURCE, job=JOB)
        classified.unpersist()
        rec = Reconciliation(
            JOB, SOURCE, args.ds, args.run_id, counts.rows_in, requests, counts.duplicates,
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
