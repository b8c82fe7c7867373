"""ad_funnel: one row per curated impression with its bid, clicks, credited conversions, and
campaign and user attributes.

Clicks and conversions are aggregated per impression *before* they are joined, so an
impression with two clicks is still one row (a naive click join counts it twice);
``check_one_row_per_impression`` guards it on what was written. Conversions reach an
impression up to click window + last-click look-back after it, so the job for D rebuilds
the impression days ``D - restate_days ... D`` (``restate_days``).
"""

from __future__ import annotations

import math
from datetime import date, timedelta

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from adplatform.contracts import Rules


class FunnelGrainError(AssertionError):
    """ad_funnel has more rows than distinct impressions."""


def restate_days(rules: Rules) -> int:
    """Days back an impression can still be credited with a conversion: a click up to the
    click window after it, then the last-click look-back (last view is shorter)."""
    horizon = rules.click_window + max(rules.last_click_lookback, rules.last_view_lookback)
    return math.ceil(horizon / timedelta(days=1))


def funnel_days(ds: date, restate: int) -> list[date]:
    return [ds - timedelta(days=n) for n in range(restate, -1, -1)]


def clicks_per_impression(clicks: DataFrame) -> DataFrame:
    """One row per clicked impression: click count, first and last click."""
    return clicks.groupBy("impression_id").agg(
        F.count(F.lit(1)).cast("int").alias("click_count"),
        F.min("event_ts").alias("first_click_ts"),
        F.max("event_ts").alias("last_click_ts"),
    )


def conversions_per_impression(conversions: DataFrame) -> DataFrame:
    """One row per credited impression: conversions and value by attribution model."""
    credited = conversions.where(F.col("attributed_impression_id").isNotNull())

    def model(name: str, what: str):
        hit = F.col("attribution") == name
        if what == "count":
            return F.sum(F.when(hit, 1).otherwise(0)).cast("int")
        return F.sum(F.when(hit, F.col("value_micros")).otherwise(0)).cast("bigint")

    return credited.groupBy(F.col("attributed_impression_id").alias("impression_id")).agg(
        model("last_click", "count").alias("last_click_conversions"),
        model("last_click", "value").alias("last_click_conversion_value_micros"),
        model("last_view", "count").alias("last_view_conversions"),
        model("last_view", "value").alias("last_view_conversion_value_micros"),
    )


def bid_per_imp(bids: DataFrame) -> DataFrame:
    """One row per (request_id, imp_id): the earliest received bid-request imp."""
    return bids.groupBy("request_id", "imp_id").agg(
        F.min_by(
            F.struct(F.col("event_ts").alias("bid_ts"), "bidfloor_cpm_micros"), "event_ts"
        ).alias("bid")
    )


def ad_funnel(
    impressions: DataFrame,
    bids: DataFrame,
    clicks: DataFrame,
    conversions: DataFrame,
    campaigns: DataFrame,
    users: DataFrame,
) -> DataFrame:
    """One row per impression of ``impressions``, in the columns of ``adtech.ad_funnel``.

    Every other input is reduced to one row per join key before the join, and every join
    is a left join from the impressions, so the grain can not change.
    """
    per_click = clicks_per_impression(clicks)
    per_conversion = conversions_per_impression(conversions)
    one_bid = bid_per_imp(bids)
    campaign = campaigns.select(
        "campaign_id", "campaign_name", "advertiser_id", "advertiser_name", "pricing_model"
    ).dropDuplicates(["campaign_id"])
    user = users.select(
        "user_id", "age_band", "gender", F.col("country").alias("user_country"), "segment"
    ).dropDuplicates(["user_id"])
    joined = (
        impressions.join(one_bid, ["request_id", "imp_id"], "left")
        .join(per_click, "impression_id", "left")
        .join(per_conversion, "impression_id", "left")
        .join(F.broadcast(campaign), "campaign_id", "left")
        .join(user, "user_id", "left")
    )

    def zero(name: str, kind: str):
        return F.coalesce(F.col(name), F.lit(0)).cast(kind).alias(name)

    click_count = F.coalesce(F.col("click_count"), F.lit(0))
    last_click = F.coalesce(F.col("last_click_conversions"), F.lit(0))
    last_view = F.coalesce(F.col("last_view_conversions"), F.lit(0))
    value_click = F.coalesce(F.col("last_click_conversion_value_micros"), F.lit(0))
    value_view = F.coalesce(F.col("last_view_conversion_value_micros"), F.lit(0))
    return joined.select(
        "impression_id",
        "request_id",
        "imp_id",
        "event_ts",
        "user_id",
        "creative_id",
        "inventory_type",
        "site_domain",
        "app_bundle",
        "publisher_id",
        "device_type",
        "device_os",
        "device_ifa",
        "country",
        "ip_truncated",
        F.col("bid").isNotNull().alias("has_bid"),
        F.col("bid.bid_ts").alias("bid_ts"),
        F.col("bid.bidfloor_cpm_micros").alias("bidfloor_cpm_micros"),
        "win_price_micros",
        click_count.cast("int").alias("click_count"),
        (click_count > 0).alias("clicked"),
        "first_click_ts",
        "last_click_ts",
        zero("last_click_conversions", "int"),
        zero("last_click_conversion_value_micros", "bigint"),
        zero("last_view_conversions", "int"),
        zero("last_view_conversion_value_micros", "bigint"),
        (last_click + last_view).cast("int").alias("conversions"),
        (value_click + value_view).cast("bigint").alias("conversion_value_micros"),
        "campaign_name",
        "advertiser_id",
        "advertiser_name",
        "pricing_model",
        "age_band",
        "gender",
        "user_country",
        "segment",
        "dt",
        "campaign_id",
    )


def check_one_row_per_impression(funnel: DataFrame) -> int:
    """Rows of ``funnel``; raises ``FunnelGrainError`` when an impression has two rows."""
    rows, distinct = funnel.agg(F.count(F.lit(1)), F.count_distinct("impression_id")).first()
    if rows != distinct:
        raise FunnelGrainError(
            f"ad_funnel has {rows} rows for {distinct} distinct impressions: a join multiplied rows"
        )
    return rows
