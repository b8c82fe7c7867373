"""What a suite validates when it runs on its own (``adplatform quality validate``), and the
reference tables it reads, loaded from the lake and the Hive catalog.

Inside a batch job the job passes the DataFrames it already has; this module is for the
DAG's stand-alone data-quality tasks and for checking a published partition by hand.

* A table suite validates the published partitions ``dt`` in ``days`` of ``adtech.<table>``.
* A raw suite validates the landed records of the run's arrival window as the clean job's
  parse step decodes them (one row per landed record, before lateness and dedup): the
  job's own read and parse functions are the one definition of decoding.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from adplatform import lake
from adplatform.contracts import TOPIC_AD_IMPRESSIONS, TOPIC_BID_REQUESTS, Rules
from adplatform.quality.suites import RAW_SUITES, load_suite
from adplatform.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def _raw_impressions(
    spark: SparkSession, settings: Settings, hours: list[datetime], rules: Rules
) -> DataFrame:
    from spark_jobs.clean_impressions.transforms import parse_impressions
    from spark_jobs.common.landing import read_kafka_landing

    landed = read_kafka_landing(spark, settings, TOPIC_AD_IMPRESSIONS, hours)
    return parse_impressions(landed, rules)


def _raw_bid_requests(
    spark: SparkSession, settings: Settings, hours: list[datetime], rules: Rules
) -> DataFrame:
    from spark_jobs.clean_bid_requests.job import registry_schemas
    from spark_jobs.clean_bid_requests.transforms import (
        decode_avro,
        parse_bid_requests,
        split_wire_format,
        writer_schemas,
    )
    from spark_jobs.common.landing import read_kafka_landing

    split = split_wire_format(read_kafka_landing(spark, settings, TOPIC_BID_REQUESTS, hours))
    writers = writer_schemas()
    if settings.schema_registry_url:
        writers |= registry_schemas(split, settings.schema_registry_url)
    return parse_bid_requests(decode_avro(split, writers), rules)


def _raw_tracking(
    spark: SparkSession, settings: Settings, hours: list[datetime], rules: Rules
) -> DataFrame:
    from spark_jobs.clean_tracking.transforms import parse_tracking, tracking_lines
    from spark_jobs.common.landing import read_tracking_landing

    return parse_tracking(tracking_lines(read_tracking_landing(spark, settings, hours)), rules)


# Raw suite -> the clean job's read and parse steps, as the job runs them.
RAW_LOADERS = {
    "raw_impressions": _raw_impressions,
    "raw_bid_requests": _raw_bid_requests,
    "raw_tracking": _raw_tracking,
}


def _partitions(spark: SparkSession, table: str, first: date, last: date) -> DataFrame:
    from pyspark.sql import functions as F

    return spark.table(f"{lake.DATABASE}.{table}").where(F.col("dt").between(first, last))


def load_batch(
    spark: SparkSession,
    settings: Settings,
    suite: str,
    ds: date,
    days: tuple[date, date] | None = None,
) -> DataFrame:
    """The rows ``suite`` validates for the run of ``ds``."""
    rules = Rules.from_settings(settings)
    if suite in RAW_SUITES:
        from spark_jobs.common.event_time import arrival_hours

        return RAW_LOADERS[suite](spark, settings, arrival_hours(ds, rules), rules)
    load_suite(suite)
    first, last = days or (ds, ds)
    return _partitions(spark, suite, first, last)


def load_references(
    spark: SparkSession,
    settings: Settings,
    suite: str,
    ds: date,
    days: tuple[date, date] | None = None,
) -> dict[str, DataFrame]:
    """The reference tables of ``suite`` for the run of ``ds``, from the catalog."""
    first, last = days or (ds, ds)
    if suite == "clicks":
        # The impressions a click of these days may join (docs/data-contracts.md §5).
        reach = math.ceil(Rules.from_settings(settings).click_window / timedelta(days=1))
        first = first - timedelta(days=reach)
    references = {}
    for name in load_suite(suite).references:
        if name.startswith("dim_"):
            references[name] = spark.table(f"{lake.DATABASE}.{name}")
        else:
            references[name] = _partitions(spark, name, first, last)
    return references
