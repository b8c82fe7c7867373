"""Clearing a clean task for a day older than the landing retention refuses in one line and
leaves the curated day as it is, instead of replacing it with the nothing that is left.

Retention (``adplatform.maintenance.apply_retention``) records the first arrival date it
kept before deleting anything; the clean jobs check the day's arrival window against it.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pyspark.sql import functions as F

from adplatform import lake, maintenance
from adplatform.errors import UserError
from adplatform.hdfs import LocalFileSystem
from adplatform.landing import markers
from spark_jobs.clean_bid_requests import job as clean_bid_requests
from spark_jobs.clean_impressions import job as clean_impressions
from spark_jobs.clean_tracking import job as clean_tracking
from spark_jobs.common.session import job_parser, run_main
from tests.spark_jobs.landed import dumps, impression, land_kafka

pytestmark = pytest.mark.slow

D = date(2025, 6, 2)  # a day no other job test writes
# Retention counted from here keeps D+1 on: D's window (D-1 22:00 .. D+1 05:00) is cut.
AS_OF = D + timedelta(days=maintenance.Policy().retention_days + 1)


def _args(module, run_id: str):
    parser = job_parser(module.JOB, "test", module.TABLES)
    return parser.parse_args(["--ds", D.isoformat(), "--run-id", run_id])


def _impressions(spark) -> list[str]:
    rows = spark.table("adtech.impressions").where(F.col("dt") == D).collect()
    return sorted(r.impression_id for r in rows)


@pytest.fixture(scope="module")
def retained_lake(spark, adtech, lake_settings, tmp_path_factory):
    """A lake of its own (retention must not touch the session's lake): D landed and
    published by clean_impressions, then deleted from landing by retention."""
    settings = lake_settings.with_overrides(
        lake_uri=f"file://{tmp_path_factory.mktemp('retained_lake')}"
    )
    land_kafka(
        spark,
        settings,
        "ad_impressions",
        [
            (f"ret-{i}".encode(), dumps(impression(impression_id=f"ret-{i}", request_id=f"rq-{i}",
             event_ts=f"2025-06-02T{i}:00:00.000Z")), f"2025-06-02 {i}:00:05")
            for i in (10, 11)
        ],
    )  # fmt: skip
    clean_impressions.run(spark, settings, _args(clean_impressions, "test__published"))
    assert _impressions(spark) == ["ret-10", "ret-11"]
    removed = maintenance.apply_retention(settings, LocalFileSystem(), AS_OF)
    assert [(r.source, r.arrival_date) for r in removed] == [("ad_impressions", D.isoformat())]
    return settings


def test_retention_records_the_first_arrival_date_it_kept(retained_lake):
    fs = LocalFileSystem()
    cutoff = AS_OF - timedelta(days=maintenance.Policy().retention_days)
    assert markers.read_retained_from(fs, retained_lake, "ad_impressions") == cutoff
    # A source with nothing landed gets no record (and no folder).
    assert markers.read_retained_from(fs, retained_lake, "bid_requests") is None
    # A later run with a longer retention cannot move it back.
    maintenance.apply_retention(retained_lake, fs, AS_OF, maintenance.Policy(retention_days=60))
    assert markers.read_retained_from(fs, retained_lake, "ad_impressions") == cutoff


def test_a_cleared_clean_impressions_of_a_day_retention_deleted_refuses_and_keeps_the_day(
    spark, retained_lake, capsys
):
    args = _args(clean_impressions, "test__cleared")

    code = run_main(
        clean_impressions.JOB, lambda: clean_impressions.run(spark, retained_lake, args)
    )

    assert code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "clean_impressions: clean_impressions --ds 2025-06-02 reads ad_impressions arrival "
        "hours from 2025-06-01T22:00:00Z, but landing retention deleted every arrival date "
        "before 2025-06-03"
    )
    assert _impressions(spark) == ["ret-10", "ret-11"]
    recon = spark.table("adtech.reconciliation").where(
        (F.col("dt") == D) & (F.col("run_id") == "test__cleared")
    )
    assert recon.count() == 0


@pytest.mark.parametrize(
    ("module", "source"),
    [(clean_bid_requests, "bid_requests"), (clean_tracking, lake.TRACKING_SOURCE)],
)
def test_every_clean_job_checks_the_retention_of_its_own_source(
    spark, retained_lake, module, source
):
    fs = LocalFileSystem()
    markers.write_retained_from(fs, retained_lake, source, D)  # D-1 22:00 is gone
    with pytest.raises(UserError, match=f"reads {source} arrival hours from 2025-06-01T22"):
        module.run(spark, retained_lake, _args(module, "test__cleared"))
