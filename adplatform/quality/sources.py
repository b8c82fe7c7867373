"""What a suite validates when it runs on its own (``adplatform quality validate``), and the
reference tables it reads, loaded from the lake and the Hive catalog.

Inside a batch job the job passes the DataFrames it already has; this module is for the
DAG's stand-alone data-quality tasks and for checking a published partition by hand.

* A table suite validates the published partitions ``dt`` in ``days`` of ``adtech.<table>``.
* A raw suite validates the landed records of the run's arrival window as the clean job's
  parse step decodes them (one row per landed record, before lateness and dedup): the
  parse function of the job is the one definition of decoding.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from datetime import date, timedelta
from typing import TYPE_CHECKING

from adplatform import lake
from adplatform.contracts import TOPIC_AD_IMPRESSIONS, TOPIC_BID_REQUESTS, Rules
from adplatform.errors import UserError
from adplatform.quality.suites import RAW_SUITES, load_suite
from adplatform.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# Raw suite -> (landed source, module and function of the clean job's parse step). The
# parse function takes the landed frame (spark_jobs.common.landing) and the Rules.
RAW_PARSERS = {
    "raw_impressions": (
        TOPIC_AD_IMPRESSIONS,
        "spark_jobs.clean_impressions.transforms",
        "parse_impressions",
    ),
    "raw_bid_requests": (
        TOPIC_BID_REQUESTS,
        "spark_jobs.clean_bid_requests.transforms",
        "parse_bid_requests",
    ),
    "raw_tracking": (
        lake.TRACKING_SOURCE,
        "spark_jobs.clean_tracking.transforms",
        "parse_tracking",
    ),
}


def _partitions(spark: SparkSession, table: str, first: date, last: date) -> DataFrame:
    from pyspark.sql import functions as F

    return spark.table(f"{lake.DATABASE}.{table}").where(F.col("dt").between(first, last))


def _parser(suite: str) -> Callable[[DataFrame, Rules], DataFrame]:
    _, module_name, function = RAW_PARSERS[suite]
    try:
        return getattr(importlib.import_module(module_name), function)
    except (ImportError, AttributeError):
        raise UserError(
            f"{suite} validates the output of {module_name}.{function}, which does not exist "
            "(yet): the clean job of this source must provide it"
        ) from None


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
        from spark_jobs.common import landing
        from spark_jobs.common.event_time import arrival_hours

        source, _, _ = RAW_PARSERS[suite]
        hours = arrival_hours(ds, rules)
        if source == lake.TRACKING_SOURCE:
            landed = landing.read_tracking_landing(spark, settings, hours)
        else:
            landed = landing.read_kafka_landing(spark, settings, source, hours)
        return _parser(suite)(landed, rules)
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
    rules = Rules.from_settings(settings)
    if suite == "clicks":
        # The impressions a click of these days may join (docs/data-contracts.md §5).
        reach = math.ceil(rules.click_window / timedelta(days=1))
        first = first - timedelta(days=reach)
    references = {}
    for name in load_suite(suite).references:
        if name.startswith("dim_"):
            references[name] = spark.table(f"{lake.DATABASE}.{name}")
        else:
            references[name] = _partitions(spark, name, first, last)
    return references
