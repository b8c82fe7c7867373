"""The job entry points on real tables (hive/*.sql in a temporary lake): what they write,
the reconciliation row, and that a re-run of the same day changes nothing (semantic 2)."""

from __future__ import annotations

from datetime import date

from pyspark.sql import functions as F

from spark_jobs.clean_impressions import job as clean_impressions
from tests.spark_jobs.landed import dumps, impression, land_kafka

D = date(2025, 3, 1)
ARRIVAL = "2025-03-01 12:00:00"
LATE = "2025-03-01T23:59:00Z"
NEXT_DAY = "2025-03-02 05:30:00"


def _table(spark, name, day=D):
    return sorted(
        tuple(r) for r in spark.table(f"adtech.{name}").where(F.col("dt") == F.lit(day)).collect()
    )


def test_clean_impressions_writes_reconciles_and_reruns_identically(spark, adtech, lake_settings):
    good = impression()
    land_kafka(
        spark,
        lake_settings,
        "ad_impressions",
        [
            (b"imp-1", dumps(good), "2025-03-01 10:00:05"),
            (b"imp-1", dumps(good), "2025-03-01 10:03:00"),  # re-send: duplicate
            (b"imp-2", dumps(impression(impression_id="imp-2")), "2025-03-01 11:00:00"),
            (None, dumps(good)[:-9], "2025-03-01 11:00:01"),  # malformed
            (b"imp-3", dumps(impression(impression_id="imp-3", win_price_micros=-1)), ARRIVAL),
            # an event of Mar 1 arriving within the grace period, on Mar 2
            (b"imp-4", dumps(impression(impression_id="imp-4", event_ts=LATE)), NEXT_DAY),
        ],
    )  # fmt: skip
    args = clean_impressions.job_parser("t", "t", clean_impressions.TABLES).parse_args(
        ["--ds", "2025-03-01", "--run-id", "test__1"]
    )
    rec = clean_impressions.run(spark, lake_settings, args)
    assert (rec.rows_in, rec.curated, rec.duplicates) == (6, 3, 1)
    assert rec.quarantined_by_reason == {"impossible_value": 1, "malformed_json": 1}
    assert rec.ok

    ids = [
        r.impression_id
        for r in spark.table("adtech.impressions").where("dt = '2025-03-01'").collect()
    ]
    assert sorted(ids) == ["imp-1", "imp-2", "imp-4"]
    quarantine = spark.table("adtech.quarantine").where(
        "dt = '2025-03-01' AND source = 'impressions'"
    )
    assert sorted(r.reason for r in quarantine.collect()) == ["impossible_value", "malformed_json"]
    assert quarantine.where("run_id = 'test__1' AND job = 'clean_impressions'").count() == 2
    recon = spark.table("adtech.reconciliation").where(
        "dt = '2025-03-01' AND job = 'clean_impressions'"
    )
    assert [(r.rows_in, r.curated, r.quarantined, r.duplicates, r.ok) for r in recon.collect()] == [
        (6, 3, 2, 1, True)
    ]

    before = _table(spark, "impressions")
    args.run_id = "test__2"
    clean_impressions.run(spark, lake_settings, args)
    assert _table(spark, "impressions") == before
    assert (
        spark.table("adtech.quarantine").where("dt = '2025-03-01' AND run_id = 'test__1'").count()
        == 0
    )
    assert recon.count() == 1
