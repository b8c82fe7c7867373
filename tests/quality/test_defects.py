"""Each kind of defect makes the right expectation fail and names the offending column.

One test per kind of defect. To keep the number of (slow) validations down, defects that
cannot interfere are injected into one copy of a table, each on a row of its own, and that
copy is validated once per module (``*_defects`` fixtures); each test then checks its own
expectation, column and offending value, and ``test_nothing_else_fails`` checks that the
validation failed on exactly the injected defects and on nothing else.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from adplatform.quality.validation import ValidationReport

from . import tables
from .conftest import failed
from .tables import ts


def outcome(report: ValidationReport, label: str):
    (found,) = [o for o in report.outcomes if o.label == label]
    return found


def assert_fails(report, label, severity, column, offending=None):
    o = outcome(report, label)
    assert not o.success, f"{label} passed"
    assert o.severity == severity
    assert column in o.columns
    assert column in o.describe()
    if offending is not None:
        assert any(offending in s for s in o.sample), o.sample
    return o


# ------------------------------------------------------------------------------------ clicks

CLICK = tables.CLICKS[0]
CLICK_DEFECTS = [
    {**CLICK},  # the same event_id again
    {**CLICK, "event_id": "clk-orphan", "impression_id": "imp-404"},
    {**CLICK, "event_id": "clk-no-campaign", "campaign_id": None},
    {
        **CLICK,
        "event_id": "clk-next-day",
        "event_ts": ts("2025-03-02 00:30:00"),
        "impression_id": "imp-3",
        "impression_ts": ts("2025-03-01 22:30:00"),
        "seconds_after_impression": 7200,
        "arrival_ts": ts("2025-03-02 01:00:00"),
    },
    {**CLICK, "event_id": "clk-clear-user", "user_id": "u-1"},
]


@pytest.fixture(scope="module")
def click_defects(spark, check) -> ValidationReport:
    return check("clicks", tables.clean(spark, "clicks", [*tables.CLICKS, *CLICK_DEFECTS]))


def test_duplicate_event_id(click_defects):
    o = assert_fails(
        click_defects,
        "expect_column_values_to_be_unique(event_id)",
        "critical",
        "event_id",
        "clk-1",
    )
    assert o.unexpected_count == 2


def test_click_without_its_impression(click_defects):
    o = assert_fails(
        click_defects, "impression_exists(impression_id)", "critical", "impression_id", "imp-404"
    )
    assert o.unexpected_count == 1


def test_null_key(click_defects):
    o = assert_fails(
        click_defects,
        "expect_column_values_to_not_be_null(campaign_id)",
        "critical",
        "campaign_id",
    )
    assert o.unexpected_count == 1


def test_timestamp_outside_the_run_window(click_defects):
    assert_fails(
        click_defects,
        "expect_column_values_to_be_between(event_ts)",
        "critical",
        "event_ts",
        "2025-03-02T00:30:00",
    )
    # ... filed under the wrong date partition, which the partition check names as well.
    assert_fails(click_defects, "dt_is_event_date(dt)", "critical", "dt", "clk-next-day")


def test_id_not_pseudonymised(click_defects):
    assert_fails(
        click_defects, "expect_column_values_to_match_regex(user_id)", "critical", "user_id", "u-1"
    )


def test_nothing_else_fails_on_the_click_defects(click_defects):
    assert set(failed(click_defects)) == {
        "expect_column_values_to_be_unique(event_id)",
        "impression_exists(impression_id)",
        "expect_column_values_to_not_be_null(campaign_id)",
        "expect_column_values_to_be_between(event_ts)",
        "dt_is_event_date(dt)",
        "expect_column_values_to_match_regex(user_id)",
    }
    assert not click_defects.success


# -------------------------------------------------------------------------------- the schema


@pytest.fixture(scope="module")
def schema_defects(spark, check) -> ValidationReport:
    from pyspark.sql import functions as F

    df = (
        tables.clean(spark, "clicks")
        .drop("source_file")
        .withColumn("seconds_after_impression", F.col("seconds_after_impression").cast("string"))
    )
    return check("clicks", df)


def test_missing_column(schema_defects):
    o = assert_fails(schema_defects, "expect_table_columns_to_match_set", "critical", "source_file")
    assert o.observed == "missing source_file"


def test_wrong_column_type(schema_defects):
    o = assert_fails(
        schema_defects,
        "expect_column_values_to_be_of_type(seconds_after_impression)",
        "critical",
        "seconds_after_impression",
    )
    assert o.observed == "StringType"


# ------------------------------------------------------------------------------- impressions

IMPRESSION = tables.IMPRESSIONS[0]


def _impression(n: int, **changes):
    return {**IMPRESSION, "impression_id": f"imp-{n}", "request_id": f"req-{n}", **changes}


@pytest.fixture(scope="module")
def impression_defects(spark, check) -> ValidationReport:
    # The afternoon impressions moved to the morning: the day looks cut off at 10:30.
    early = [{**r, "event_ts": r["event_ts"] - timedelta(hours=12)} for r in tables.IMPRESSIONS[1:]]
    rows = [
        tables.IMPRESSIONS[0],
        *early,
        _impression(4, win_price_micros=-2510),
        _impression(5, device_type="smartwatch"),
        _impression(6, country="XX"),
    ]
    return check("impressions", tables.clean(spark, "impressions", rows))


def test_price_out_of_range(impression_defects):
    assert_fails(
        impression_defects,
        "expect_column_values_to_be_between(win_price_micros)",
        "critical",
        "win_price_micros",
        "-2510",
    )


def test_values_outside_their_allowed_set(spark, check, impression_defects):
    assert_fails(
        impression_defects,
        "expect_column_values_to_be_in_set(device_type)",
        "critical",
        "device_type",
        "smartwatch",
    )
    assert_fails(
        impression_defects,
        "expect_column_values_to_be_in_set(country)",
        "critical",
        "country",
        "XX",
    )
    assert set(failed(impression_defects)) == {
        "expect_column_values_to_be_between(win_price_micros)",
        "expect_column_values_to_be_in_set(device_type)",
        "expect_column_values_to_be_in_set(country)",
        "expect_column_max_to_be_between(event_ts)",
    }
    refund = {**tables.CONVERSIONS[0], "conversion_type": "refund"}
    conversions = check("conversions", tables.clean(spark, "conversions", [refund]))
    assert_fails(
        conversions,
        "expect_column_values_to_be_in_set(conversion_type)",
        "critical",
        "conversion_type",
        "refund",
    )
    assert set(failed(conversions)) == {"expect_column_values_to_be_in_set(conversion_type)"}


# ---------------------------------------------------------------------------- campaign_daily


@pytest.fixture(scope="module")
def daily_defects(spark, check) -> ValidationReport:
    c1, c2 = (dict(r) for r in tables.CAMPAIGN_DAILY)
    c1["revenue_micros"] += 1
    c2["ctr"] = 1.5
    c2["cvr"] = -1.0
    return check("campaign_daily", tables.clean(spark, "campaign_daily", [c1, c2]))


def test_ctr_and_cvr_out_of_bounds(daily_defects):
    # CTR above 1 is only a warning (clicks of D may belong to impressions of D-1), but a
    # CTR that is not clicks / impressions is critical; a negative CVR is critical.
    assert_fails(daily_defects, "expect_column_values_to_be_between(ctr)", "warning", "ctr", "1.5")
    assert_fails(daily_defects, "ctr_matches_counts(ctr)", "critical", "ctr", "c-2")
    assert_fails(
        daily_defects, "expect_column_values_to_be_between(cvr)", "critical", "cvr", "-1.0"
    )
    assert_fails(daily_defects, "cvr_matches_counts(cvr)", "critical", "cvr", "c-2")


def test_reconciliation_with_the_curated_tables(daily_defects):
    o = assert_fails(
        daily_defects,
        "revenue_micros_match_conversions(revenue_micros)",
        "critical",
        "revenue_micros",
        "table_value=7000001",
    )
    assert "reference_value=7000000" in o.sample[0]
    assert set(failed(daily_defects)) == {
        "expect_column_values_to_be_between(ctr)",
        "ctr_matches_counts(ctr)",
        "expect_column_values_to_be_between(cvr)",
        "cvr_matches_counts(cvr)",
        "revenue_micros_match_conversions(revenue_micros)",
    }


# --------------------------------------------------------------------------------- ad_funnel


@pytest.fixture(scope="module")
def funnel_defects(spark, check) -> ValidationReport:
    # imp-2 names campaign c-9, which adtech.dim_campaign does not know (in the impressions
    # table too, so that only the dimension is missing it), and a naive click join
    # repeats imp-1.
    impressions = [dict(r) for r in tables.IMPRESSIONS]
    impressions[1]["campaign_id"] = "c-9"
    funnel = [dict(r) for r in tables.AD_FUNNEL]
    funnel[1]["campaign_id"] = "c-9"
    funnel.append(dict(funnel[0]))
    references = tables.references(spark, "ad_funnel", impressions=impressions)
    return check("ad_funnel", tables.clean(spark, "ad_funnel", funnel), references)


def test_campaign_missing_from_dim_campaign(funnel_defects):
    assert_fails(
        funnel_defects,
        "expect_column_values_to_be_in_set(campaign_id)",
        "critical",
        "campaign_id",
        "c-9",
    )


def test_impression_counted_twice(funnel_defects):
    assert_fails(
        funnel_defects,
        "expect_column_values_to_be_unique(impression_id)",
        "critical",
        "impression_id",
        "imp-1",
    )
    assert_fails(
        funnel_defects,
        "spend_matches_impressions(win_price_micros)",
        "critical",
        "win_price_micros",
        "funnel_spend_micros=5020",
    )
    assert set(failed(funnel_defects)) == {
        "expect_column_values_to_be_in_set(campaign_id)",
        "expect_column_values_to_be_unique(impression_id)",
        "spend_matches_impressions(win_price_micros)",
    }


# -------------------------------------------------------------------------------------- raw


@pytest.fixture(scope="module")
def landing_defects(spark, check) -> ValidationReport:
    # Landing wrote record 1 twice, and nothing arrived after 2025-03-01 15:00 (the last
    # hours of the window are missing).
    rows = [*tables.RAW_BID_REQUESTS[:2], tables.RAW_BID_REQUESTS[0]]
    return check("raw_bid_requests", tables.clean(spark, "raw_bid_requests", rows))


def test_record_landed_twice(landing_defects):
    assert_fails(
        landing_defects,
        "expect_column_values_to_be_unique(origin)",
        "critical",
        "origin",
        "bid_requests/0/1",
    )


def test_stale_data(landing_defects):
    o = assert_fails(
        landing_defects, "expect_column_max_to_be_between(arrival_ts)", "warning", "arrival_ts"
    )
    assert o.observed == "2025-03-01T14:59:59.500000"
    assert set(failed(landing_defects)) == {
        "expect_column_values_to_be_unique(origin)",
        "expect_column_max_to_be_between(arrival_ts)",
    }


def test_too_many_bad_records_is_a_warning(spark, check):
    good = tables.RAW_TRACKING
    bad = [
        {**good[0], "origin": f"tracking_20250301_09.csv:{n}", "reason": "missing_field"}
        for n in (3, 4)
    ]
    report = check("raw_tracking", tables.clean(spark, "raw_tracking", [*good, *bad]))
    o = assert_fails(report, "expect_column_values_to_be_null(reason)", "warning", "reason")
    assert (o.unexpected_count, o.element_count) == (2, 5)
    assert set(failed(report)) == {"expect_column_values_to_be_null(reason)"}
    assert report.success  # a warning lets the data through


def test_freshness_of_a_published_day(impression_defects):
    o = assert_fails(
        impression_defects, "expect_column_max_to_be_between(event_ts)", "warning", "event_ts"
    )
    assert o.observed == "2025-03-01T10:30:00"
