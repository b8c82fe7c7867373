"""Write-audit-publish in the jobs (docs/data-quality.md): a critical expectation failing
stops a job before it writes anything, and the tables keep the rows of the last good run.

The defect is a realistic one that every clean row can carry: the day's campaign is not
in ``adtech.dim_campaign`` (its dimension row has not been delivered). The clean jobs
quarantine bad records themselves, so the audit of their tables guards against a job
bug; the pairing of ``clean_tracking`` (clicks and conversions audited both before either
is published) is tested on its helper with hand-written curated rows.
"""

from __future__ import annotations

from datetime import date

import pytest
from pyspark.sql import functions as F

from adplatform.metrics import BatchRun
from adplatform.quality import DataQualityError
from spark_jobs.aggregate_campaign_daily import job as aggregate_campaign_daily
from spark_jobs.build_ad_funnel import job as build_ad_funnel
from spark_jobs.clean_impressions import job as clean_impressions
from spark_jobs.common.publish import DayPartition, publish_audited
from spark_jobs.common.session import job_parser
from spark_jobs.common.tables import overwrite_partition
from tests.quality import tables
from tests.spark_jobs.landed import dumps, impression, land_kafka

pytestmark = pytest.mark.slow

D = date(2025, 4, 1)  # a day no other job test writes
PUBLISHED = "test__published"
STOPPED = "test__stopped"
CAMPAIGN_CHECK = "expect_column_values_to_be_in_set(campaign_id)"


def _args(module, run_id: str):
    parser = job_parser(module.JOB, "test", module.TABLES)
    if module is build_ad_funnel:
        parser.add_argument("--restate-days", type=int, default=None)
    return parser.parse_args(["--ds", D.isoformat(), "--run-id", run_id])


def _rows(spark, table: str) -> list[tuple]:
    return sorted(
        tuple(r) for r in spark.table(f"adtech.{table}").where(F.col("dt") == D).collect()
    )


def _reconciled_runs(spark, job: str) -> list[str]:
    recon = spark.table("adtech.reconciliation").where((F.col("dt") == D) & (F.col("job") == job))
    return sorted(r.run_id for r in recon.collect())


def _set_campaigns(spark, *campaign_ids: str) -> None:
    rows = [
        {**tables.DIM_CAMPAIGN[0], "campaign_id": c, "flight_end": date(2025, 4, 30)}
        for c in campaign_ids
    ]
    overwrite_partition(tables.table(spark, "dim_campaign", rows), "adtech.dim_campaign", {})


@pytest.fixture(scope="module")
def published(spark, adtech, lake_settings):
    """Day D published by the real jobs: two impressions of c-1, their funnel rows and
    their campaign_daily row. Then c-1 leaves dim_campaign, as if its row were missing
    from the delivered file; the table is restored afterwards."""
    saved = spark.table("adtech.dim_campaign").collect()
    land_kafka(
        spark,
        lake_settings,
        "ad_impressions",
        [
            (f"imp-{i}".encode(), dumps(impression(impression_id=f"imp-{i}", request_id=f"req-{i}",
             event_ts=f"2025-04-01T{i}:00:00.000Z")), f"2025-04-01 {i}:00:05")
            for i in (10, 11)
        ],
    )  # fmt: skip
    _set_campaigns(spark, "c-1")
    for module in (clean_impressions, build_ad_funnel, aggregate_campaign_daily):
        module.run(spark, lake_settings, _args(module, PUBLISHED))
    rows = {table: _rows(spark, table) for table in ("impressions", "ad_funnel", "campaign_daily")}
    _set_campaigns(spark, "c-2")
    yield rows
    overwrite_partition(
        spark.createDataFrame(saved, spark.table("adtech.dim_campaign").schema),
        "adtech.dim_campaign",
        {},
    )


def test_the_normal_runs_publish(published):
    assert len(published["impressions"]) == 2
    assert len(published["ad_funnel"]) == 2
    assert len(published["campaign_daily"]) == 1


@pytest.mark.parametrize(
    ("module", "table", "rows"),
    [(build_ad_funnel, "ad_funnel", 2), (aggregate_campaign_daily, "campaign_daily", 1)],
)
def test_a_critical_failure_stops_the_job_before_it_writes(
    spark, lake_settings, published, module, table, rows
):
    with pytest.raises(DataQualityError) as error:
        module.run(spark, lake_settings, _args(module, STOPPED))

    assert error.value.report.suite == table
    assert CAMPAIGN_CHECK in [o.label for o in error.value.report.critical_failures]
    after = _rows(spark, table)
    assert len(after) == rows
    assert after == published[table]
    # Neither the reconciliation row of the stopped run nor anything else was written.
    assert _reconciled_runs(spark, module.JOB) == [PUBLISHED]


def test_clean_tracking_publishes_neither_table_when_one_fails_its_audit(
    spark, adtech, lake_settings
):
    """Clicks pass, conversions carry a duplicate event id: the clicks stay unpublished."""
    run = BatchRun("clean_tracking", "tracking", "test__tracking", gateway="http://127.0.0.1:9")

    def publish(clicks, conversions) -> list[int]:
        return publish_audited(
            [
                DayPartition(
                    tables.clean(spark, "clicks", clicks),
                    "adtech.clicks",
                    "clicks",
                    references=tables.references(spark, "clicks"),
                ),
                DayPartition(
                    tables.clean(spark, "conversions", conversions),
                    "adtech.conversions",
                    "conversions",
                ),
            ],
            run=run,
            ds=tables.DS,
            settings=lake_settings,
        )

    def counts() -> tuple[int, int]:
        day = F.col("dt") == tables.DS
        return (
            spark.table("adtech.clicks").where(day).count(),
            spark.table("adtech.conversions").where(day).count(),
        )

    assert publish(tables.CLICKS, tables.CONVERSIONS) == [2, 3]
    assert counts() == (2, 3)

    duplicate = {**tables.CONVERSIONS[0], "conversion_key": "cnv-1-again"}
    with pytest.raises(DataQualityError) as error:
        publish(tables.CLICKS[:1], [*tables.CONVERSIONS, duplicate])

    assert error.value.report.suite == "conversions"
    assert "expect_column_values_to_be_unique(event_id)" in [
        o.label for o in error.value.report.critical_failures
    ]
    assert counts() == (2, 3)
