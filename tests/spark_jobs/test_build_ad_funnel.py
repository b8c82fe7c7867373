"""ad_funnel: one row per impression whatever its clicks, credited conversions by model,
the grain guard, and the bucketed table: one file per bucket per partition, stale
partitions dropped, and a join with dim_user planned without a shuffle."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from urllib.parse import urlparse

import pytest
from pyspark.sql import functions as F

from spark_jobs.build_ad_funnel.transforms import (
    FunnelGrainError,
    ad_funnel,
    check_one_row_per_impression,
)
from spark_jobs.common.tables import overwrite_partitions
from tests.spark_jobs.landed import ts

D = date(2025, 3, 1)
IMPRESSION_COLUMNS = (
    "impression_id string, request_id string, imp_id string, event_ts timestamp, "
    "user_id string, creative_id string, inventory_type string, site_domain string, "
    "app_bundle string, publisher_id string, device_type string, device_os string, "
    "device_ifa string, country string, ip_truncated string, win_price_micros bigint, "
    "dt date, campaign_id string"
)


def _impressions(spark, rows):
    data = [
        (i, f"req-{i}", "1", ts(t), u, "cr", "site", "d", None, "p", "mobile", "iOS", None,
         "DE", "1.2.3.0", 1000, ts(t).date(), c)
        for i, t, u, c in rows
    ]  # fmt: skip
    return spark.createDataFrame(data, IMPRESSION_COLUMNS)


def _inputs(spark):
    impressions = _impressions(
        spark,
        [
            ("imp-1", "2025-03-01 10:00:00", "u-1", "c-1"),
            ("imp-2", "2025-03-01 11:00:00", "u-2", "c-1"),
            ("imp-3", "2025-03-01 12:00:00", "u-3", "c-2"),
        ],
    )
    bids = spark.createDataFrame(
        [("req-imp-1", "1", ts("2025-03-01 09:59:59"), 1_250_000)],
        "request_id string, imp_id string, event_ts timestamp, bidfloor_cpm_micros bigint",
    )
    clicks = spark.createDataFrame(
        [
            ("clk-1", "imp-1", ts("2025-03-01 10:00:30")),
            ("clk-2", "imp-1", ts("2025-03-01 10:01:30")),
        ],
        "event_id string, impression_id string, event_ts timestamp",
    )
    conversions = spark.createDataFrame(
        [
            ("cnv-1", "last_click", "imp-1", 5_000_000),
            ("cnv-2", "last_click", "imp-1", 1_000_000),
            ("cnv-3", "last_view", "imp-2", 2_000_000),
            ("cnv-4", "none", None, 9_000_000),
        ],
        "event_id string, attribution string, attributed_impression_id string, value_micros bigint",
    )
    campaigns = spark.createDataFrame(
        [("c-1", "Spring", "adv-1", "Acme", "CPC")],
        "campaign_id string, campaign_name string, advertiser_id string, "
        "advertiser_name string, pricing_model string",
    )
    users = spark.createDataFrame(
        [("u-1", "25-34", "F", "DE", "sports")],
        "user_id string, age_band string, gender string, country string, segment string",
    )
    return impressions, bids, clicks, conversions, campaigns, users


def test_one_row_per_impression_with_two_clicks(spark):
    rows = {r.impression_id: r for r in ad_funnel(*_inputs(spark)).collect()}
    assert set(rows) == {"imp-1", "imp-2", "imp-3"}
    one = rows["imp-1"]
    assert (one.click_count, one.clicked, one.first_click_ts, one.last_click_ts) == (
        2, True, ts("2025-03-01 10:00:30"), ts("2025-03-01 10:01:30")
    )  # fmt: skip
    assert (one.last_click_conversions, one.last_click_conversion_value_micros) == (2, 6_000_000)
    assert (one.conversions, one.conversion_value_micros) == (2, 6_000_000)
    assert (one.has_bid, one.bidfloor_cpm_micros, one.bid_ts) == (
        True, 1_250_000, ts("2025-03-01 09:59:59")
    )  # fmt: skip
    assert (one.campaign_name, one.pricing_model, one.age_band, one.user_country) == (
        "Spring", "CPC", "25-34", "DE"
    )  # fmt: skip
    two = rows["imp-2"]
    assert (two.click_count, two.clicked, two.has_bid, two.bidfloor_cpm_micros) == (
        0, False, False, None
    )  # fmt: skip
    assert (two.last_view_conversions, two.last_view_conversion_value_micros) == (1, 2_000_000)
    assert (two.conversions, two.last_click_conversions) == (1, 0)
    three = rows["imp-3"]
    assert (three.conversions, three.campaign_name, three.age_band) == (0, None, None)


def test_grain_guard_catches_a_row_per_click(spark):
    impressions, _, clicks, *_ = _inputs(spark)
    naive = impressions.join(clicks, "impression_id", "left")  # two rows for imp-1
    with pytest.raises(FunnelGrainError, match="4 rows for 3 distinct impressions"):
        check_one_row_per_impression(naive)
    assert check_one_row_per_impression(ad_funnel(*_inputs(spark))) == 3


def _files(spark, table: str) -> dict[str, list[str]]:
    # The table's location comes from the catalog: the session's adtech database may have
    # been created by another test module, in another lake (tests/quality does that).
    details = spark.sql(f"DESCRIBE TABLE EXTENDED {table}").collect()
    location = next(r.data_type for r in details if r.col_name == "Location")
    root = Path(urlparse(location).path)
    found: dict[str, list[str]] = {}
    for path in root.rglob("*.parquet"):
        # Each write puts a partition's files in a new version folder (tables.py).
        partition = re.sub(r"/_v=[^/]+$", "", str(path.parent.relative_to(root)))
        found.setdefault(partition, []).append(path.name)
    return found


def test_bucketed_write_one_file_per_bucket_and_stale_partitions(spark, adtech):
    users = [f"u-{n}" for n in range(40)]
    impressions = _impressions(
        spark,
        [
            (f"imp-{n}", "2025-03-01 10:00:00", u, "c-1" if n % 2 else "c-2")
            for n, u in enumerate(users)
        ],
    )
    _, bids, clicks, conversions, campaigns, dim_users = _inputs(spark)
    funnel = ad_funnel(impressions, bids, clicks, conversions, campaigns, dim_users)
    present = {("2025-03-01", "c-1"), ("2025-03-01", "c-2")}
    written = overwrite_partitions(funnel, "adtech.ad_funnel", {"dt": [D]}, present)
    assert written == 40
    files = {
        k: v for k, v in _files(spark, "adtech.ad_funnel").items()
        if k.startswith("dt=2025-03-01/")
    }  # fmt: skip
    assert set(files) == {"dt=2025-03-01/campaign_id=c-1", "dt=2025-03-01/campaign_id=c-2"}
    for names in files.values():
        buckets = [re.search(r"_(\d{5})\.c000", n).group(1) for n in names]
        assert len(buckets) == len(set(buckets)) <= 8, names  # one file per bucket

    # Written again without campaign c-2: its partition of that day must go.
    only_c1 = funnel.where(F.col("campaign_id") == "c-1")
    written = overwrite_partitions(
        only_c1, "adtech.ad_funnel", {"dt": [D]}, {("2025-03-01", "c-1")}
    )
    assert written == 20
    partitions = [r[0] for r in spark.sql("SHOW PARTITIONS adtech.ad_funnel").collect()]
    assert [p for p in partitions if p.startswith("dt=2025-03-01/")] == [
        "dt=2025-03-01/campaign_id=c-1"
    ]


def test_join_with_dim_user_needs_no_shuffle(spark, adtech):
    previous = spark.conf.get("spark.sql.autoBroadcastJoinThreshold")
    spark.conf.set("spark.sql.autoBroadcastJoinThreshold", "-1")
    try:
        plan = (
            spark.table("adtech.ad_funnel")
            .join(spark.table("adtech.dim_user"), "user_id")
            ._jdf.queryExecution()
            .executedPlan()
            .toString()
        )
    finally:
        spark.conf.set("spark.sql.autoBroadcastJoinThreshold", previous)
    assert "SortMergeJoin" in plan
    assert "Exchange" not in plan, plan
