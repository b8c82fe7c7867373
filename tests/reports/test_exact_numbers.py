"""Through HiveServer2, the reports return exactly the numbers worked out by hand from the
March rows of adtech_rows.py (the expected values below are written out, not computed)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.stack

MEASURES = ["impressions", "clicks", "conversions", "spend_micros", "revenue_micros"]
RATIOS = ["ctr", "cvr", "cpa_micros", "ecpm_micros", "roas"]
PERFORMANCE_COLUMNS = [
    "campaign_id", "campaign_name", "advertiser_name", "pricing_model", *MEASURES, *RATIOS
]  # fmt: skip
TREND_COLUMNS = ["dt", *MEASURES, *RATIOS]


def rows(columns: list[str], *values: tuple) -> list[dict]:
    return [dict(zip(columns, v, strict=True)) for v in values]


def test_campaign_performance_over_the_three_days(run):
    # cmp-a: i1 i2 i4 i5 i8; clicks k1 k2 k3 k6; conversions v1 v2 v5 v4 v7 (v7 on 03-03
    # credits the view i5 of 03-02). cmp-b: i3 i6 i7; clicks k4 k5; conversion v3 on 03-03
    # after its flight (v6 is unattributed and counts nowhere).
    assert run("campaign_performance", "2026-03-01", "2026-03-03") == rows(
        PERFORMANCE_COLUMNS,
        ("cmp-a", "Spring Sale", "Acme", "CPM", 5, 4, 5, 12300, 38500,
         4 / 5, 5 / 4, 12300 / 5, 12300 * 1000 / 5, 38500 / 12300),
        ("cmp-b", "Launch", "Globex", "CPC", 3, 2, 1, 5000, 40000,
         2 / 3, 1 / 2, 5000 / 1, 5000 * 1000 / 3, 40000 / 5000),
    )  # fmt: skip


def test_campaign_performance_of_one_campaign_and_one_day(run):
    # 03-03 of cmp-b: no impression, no click, the conversion v3: every ratio but CPA is NULL.
    assert run("campaign_performance", "2026-03-03", "2026-03-03", "cmp-b") == rows(
        PERFORMANCE_COLUMNS,
        ("cmp-b", "Launch", "Globex", "CPC", 0, 0, 1, 0, 40000, None, None, 0.0, None, None),
    )


def test_campaign_performance_includes_the_day_before(run):
    assert run("campaign_performance", "2026-02-28", "2026-03-03", "cmp-b") == rows(
        PERFORMANCE_COLUMNS,
        ("cmp-b", "Launch", "Globex", "CPC", 4, 2, 1, 9000, 40000,
         2 / 4, 1 / 2, 9000 / 1, 9000 * 1000 / 4, 40000 / 9000),
    )  # fmt: skip


def test_daily_trend_has_a_row_for_every_day_even_without_data(run):
    assert run("daily_trend", "2026-03-01", "2026-03-04") == rows(
        TREND_COLUMNS,
        ("2026-03-01", 4, 3, 1, 9000, 20000, 3 / 4, 1 / 3, 9000 / 1, 9000 * 1000 / 4, 20000 / 9000),
        ("2026-03-02", 3, 2, 2, 5700, 15000, 2 / 3, 2 / 2, 5700 / 2, 5700 * 1000 / 3, 15000 / 5700),
        ("2026-03-03", 1, 1, 3, 2600, 43500, 1 / 1, 3 / 1, 2600 / 3, 2600 * 1000 / 1, 43500 / 2600),
        ("2026-03-04", 0, 0, 0, 0, 0, None, None, None, None, None),
    )  # fmt: skip


def test_daily_trend_of_one_campaign(run):
    assert run("daily_trend", "2026-03-01", "2026-03-03", "cmp-b") == rows(
        TREND_COLUMNS,
        ("2026-03-01", 1, 1, 0, 1500, 0, 1 / 1, 0 / 1, None, 1500 * 1000 / 1, 0 / 1500),
        ("2026-03-02", 2, 1, 0, 3500, 0, 1 / 2, 0 / 1, None, 3500 * 1000 / 2, 0 / 3500),
        ("2026-03-03", 0, 0, 1, 0, 40000, None, None, 0 / 1, None, None),
    )  # fmt: skip


def test_pacing_counts_flight_spend_before_the_range_and_days_after_the_flight(run):
    # cmp-a: 10-day flight from 03-01, budget 100 000. cmp-b: 6-day flight 02-25 .. 03-02,
    # budget 12 000, 4 000 spent on 02-28; on 03-03 it has a campaign_daily row (a
    # conversion) but is out of flight.
    got = [
        (r["campaign_id"], r["dt"], r["in_flight"], r["flight_day"], r["spend_micros"],
         r["flight_spend_to_date_micros"], r["planned_spend_to_date_micros"],
         r["pacing_index"], r["budget_remaining_micros"])
        for r in run("pacing", "2026-03-01", "2026-03-03")
    ]  # fmt: skip
    assert got == [
        ("cmp-a", "2026-03-01", True, 1, 7500, 7500, 10000, 7500 / 10000, 92500),
        ("cmp-a", "2026-03-02", True, 2, 2200, 9700, 20000, 9700 / 20000, 90300),
        ("cmp-a", "2026-03-03", True, 3, 2600, 12300, 30000, 12300 / 30000, 87700),
        ("cmp-b", "2026-03-01", True, 5, 1500, 5500, 10000, 5500 / 10000, 6500),
        ("cmp-b", "2026-03-02", True, 6, 3500, 9000, 12000, 9000 / 12000, 3000),
        ("cmp-b", "2026-03-03", False, None, 0, 9000, 12000, 9000 / 12000, 3000),
    ]


def test_attribution_comparison(run):
    got = [
        (r["campaign_id"], r["last_click_conversions"], r["last_view_conversions"],
         r["unattributed_conversions"], r["last_click_revenue_micros"],
         r["last_view_revenue_micros"], r["unattributed_value_micros"],
         r["last_click_conversion_share"], r["last_click_mean_delay_s"],
         r["last_view_mean_delay_s"])
        for r in run("attribution_comparison", "2026-03-01", "2026-03-03")
    ]  # fmt: skip
    # Delays: v1 10:07 -> 18:00, v5 00:10 -> 20:00, v4 08:01 -> 10:00 (last click);
    # v2 09:00 -> 12:00, v7 09:00 -> 07:00 the next day (last view); v3 15:20 -> 09:00 next day.
    assert got == [
        ("cmp-a", 3, 2, 0, 32500, 6000, 0, 3 / 5,
         (7 * 3600 + 53 * 60 + 19 * 3600 + 50 * 60 + 3600 + 59 * 60) / 3,
         (3 * 3600 + 22 * 3600) / 2),
        ("cmp-b", 1, 0, 1, 40000, 0, 3000, 1.0, 17 * 3600 + 40 * 60, None),
    ]  # fmt: skip


def test_audience_of_one_day_takes_each_event_from_its_impression(run):
    # 03-03: impression i8 (desktop); click k6 on i8; conversions v4 (click k6 -> i8,
    # desktop), v7 (view of i5 on 03-02, desktop), v3 (click k5 of 03-02 -> i7 of 03-02,
    # mobile, u3: 18-24, F, FR).
    got = {
        (r["dimension"], r["value"]): (
            r["impressions"], r["unique_users"], r["clicks"], r["conversions"],
            r["spend_micros"], r["revenue_micros"],
        )
        for r in run("audience_breakdown", "2026-03-03", "2026-03-03")
    }  # fmt: skip
    assert got == {
        ("age_band", "18-24"): (0, 0, 0, 1, 0, 40000),
        ("age_band", "25-34"): (1, 1, 1, 1, 2600, 2500),
        ("age_band", "35-44"): (0, 0, 0, 1, 0, 1000),
        ("gender", "F"): (1, 1, 1, 2, 2600, 42500),
        ("gender", "M"): (0, 0, 0, 1, 0, 1000),
        ("country", "DE"): (0, 0, 0, 1, 0, 1000),
        ("country", "FR"): (0, 0, 0, 1, 0, 40000),
        ("country", "US"): (1, 1, 1, 1, 2600, 2500),
        ("device_type", "desktop"): (1, 1, 1, 2, 2600, 3500),
        ("device_type", "mobile"): (0, 0, 0, 1, 0, 40000),
    }


def test_audience_marks_users_without_demographics_unknown(run):
    # i6 of 03-02 was served to u4, who is not in dim_user.
    got = [
        (r["dimension"], r["impressions"], r["spend_micros"])
        for r in run("audience_breakdown", "2026-03-01", "2026-03-03")
        if r["value"] == "unknown"
    ]
    assert got == [("age_band", 1, 1800), ("gender", 1, 1800), ("country", 1, 1800)]


def test_top_creatives_are_ranked_within_their_campaign(run):
    got = [
        (r["campaign_id"], r["creative_rank"], r["creative_id"], r["impressions"],
         r["clicks"], r["conversions"], r["spend_micros"], r["revenue_micros"])
        for r in run("top_creatives", "2026-03-01", "2026-03-03")
    ]  # fmt: skip
    assert got == [
        ("cmp-a", 1, "cr-a1", 3, 3, 4, 6700, 36000),
        ("cmp-a", 2, "cr-a2", 2, 1, 1, 5600, 2500),
        ("cmp-b", 1, "cr-b2", 1, 1, 1, 1700, 40000),
        ("cmp-b", 2, "cr-b1", 2, 1, 0, 3300, 0),
    ]
    best = [(r["campaign_id"], r["creative_id"]) for r in run(
        "top_creatives", "2026-03-01", "2026-03-03", top_n=1
    )]  # fmt: skip
    assert best == [("cmp-a", "cr-a1"), ("cmp-b", "cr-b2")]


def test_funnel_of_one_campaign_keeps_the_auctions_of_all(run):
    got = [
        (r["stage"], r["scope"], r["events"], r["rate_from_previous"])
        for r in run("funnel", "2026-03-01", "2026-03-03", "cmp-b")
    ]
    # Bid imps: 6 on 03-01, 4 on 03-02, 2 on 03-03. cmp-b won r3/1 and r6/2 (i6 had no bid).
    assert got == [
        ("bid_requests", "all campaigns", 12, None),
        ("wins", "cmp-b", 2, 2 / 12),
        ("impressions", "cmp-b", 3, 3 / 2),
        ("clicks", "cmp-b", 2, 2 / 3),
        ("conversions", "cmp-b", 1, 1 / 2),
    ]
