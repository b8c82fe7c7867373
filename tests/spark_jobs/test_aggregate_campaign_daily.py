"""campaign_daily from hand-written curated rows (docs/data-contracts.md §6)."""

from __future__ import annotations

from datetime import date

import pytest

from spark_jobs.aggregate_campaign_daily.transforms import campaign_daily, win_counts

D = date(2025, 3, 1)


def test_campaign_daily_counts_each_event_on_its_own_day(spark):
    impressions = spark.createDataFrame(
        [
            ("imp-1", "req-1", "1", "u-a", "c-1", 2000, D),
            ("imp-2", "req-2", "1", "u-a", "c-1", 3000, D),
            ("imp-3", "req-3", "2", "u-b", "c-1", 1000, D),
            ("imp-4", "req-4", "1", "u-c", "c-2", 500, D),
        ],
        "impression_id string, request_id string, imp_id string, user_id string, "
        "campaign_id string, win_price_micros bigint, dt date",
    )
    clicks = spark.createDataFrame(
        [("clk-1", "c-1", D), ("clk-2", "c-1", D), ("clk-3", "c-3", D)],
        "event_id string, campaign_id string, dt date",
    )
    conversions = spark.createDataFrame(
        [
            ("cnv-1", "c-1", 12_500_000, "last_click", D),
            ("cnv-2", "c-3", 1_000_000, "last_view", D),  # a campaign without impressions today
            ("cnv-3", "c-2", 9_000_000, "none", D),  # unattributed: counts nowhere
        ],
        "event_id string, campaign_id string, value_micros bigint, attribution string, dt date",
    )
    bids = spark.createDataFrame(
        [("req-1", "1"), ("req-1", "2"), ("req-2", "1"), ("req-3", "1"), ("req-3", "2")],
        "request_id string, imp_id string",
    )
    wins = win_counts(bids, impressions)
    rows = {
        r.campaign_id: r.asDict()
        for r in campaign_daily(impressions, clicks, conversions, wins).collect()
    }
    assert set(rows) == {"c-1", "c-2", "c-3"}
    c1 = rows["c-1"]
    assert (c1["impressions"], c1["clicks"], c1["conversions"]) == (3, 2, 1)
    assert (c1["spend_micros"], c1["revenue_micros"], c1["unique_users"]) == (6000, 12_500_000, 2)
    assert c1["ctr"] == pytest.approx(2 / 3)
    assert c1["cvr"] == pytest.approx(1 / 2)
    assert c1["cpa_micros"] == pytest.approx(6000.0)
    assert c1["ecpm_micros"] == pytest.approx(2_000_000.0)
    # req-1/1, req-2/1 and req-3/2 were won; req-1/2 and req-3/1 were not.
    assert (c1["won_bid_imps"], c1["bid_imps"], c1["win_rate"]) == (3, 5, pytest.approx(0.6))
    c2 = rows["c-2"]
    assert (c2["impressions"], c2["clicks"], c2["conversions"], c2["revenue_micros"]) == (
        1,
        0,
        0,
        0,
    )
    assert (c2["cvr"], c2["cpa_micros"]) == (None, None)
    c3 = rows["c-3"]
    assert (c3["impressions"], c3["clicks"], c3["conversions"], c3["revenue_micros"]) == (
        0,
        1,
        1,
        1_000_000,
    )
    assert (c3["ctr"], c3["ecpm_micros"], c3["unique_users"]) == (None, None, 0)
