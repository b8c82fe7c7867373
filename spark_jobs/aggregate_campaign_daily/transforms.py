"""campaign_daily: one row per (dt, campaign_id) from the curated tables of that day.

Every count is of events on their own event date (docs/data-contracts.md §6): impressions,
spend and unique users from ``impressions``, clicks from ``clicks``, conversions and
revenue from the *attributed* ``conversions`` (an unattributed conversion counts nowhere).
The win rate is the day's platform win rate (a bid request names no campaign), the same on
every row of the day.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F


def _ratio(numerator: Column, denominator: Column) -> Column:
    return F.when(denominator > 0, numerator.cast("double") / denominator.cast("double"))


def win_counts(bid_imps: DataFrame, impressions: DataFrame) -> DataFrame:
    """One row: ``bid_imps`` (curated bid-request imps) and ``won_bid_imps`` (those that a
    curated impression won, matched by request_id and imp_id)."""
    won = impressions.select("request_id", "imp_id").distinct()
    marked = bid_imps.select("request_id", "imp_id").join(
        won.withColumn("_won", F.lit(1)), ["request_id", "imp_id"], "left"
    )
    return marked.agg(
        F.count(F.lit(1)).alias("bid_imps"),
        F.coalesce(F.sum("_won"), F.lit(0)).cast("bigint").alias("won_bid_imps"),
    )


def campaign_daily(
    impressions: DataFrame,
    clicks: DataFrame,
    conversions: DataFrame,
    wins: DataFrame,
) -> DataFrame:
    """One row per campaign with an impression, a click or an attributed conversion, in the
    columns of ``adtech.campaign_daily``; the inputs are one day of each curated table."""
    by_impressions = impressions.groupBy("dt", "campaign_id").agg(
        F.count(F.lit(1)).alias("impressions"),
        F.sum("win_price_micros").alias("spend_micros"),
        F.count_distinct("user_id").alias("unique_users"),
    )
    by_clicks = clicks.groupBy("dt", "campaign_id").agg(F.count(F.lit(1)).alias("clicks"))
    by_conversions = (
        conversions.where(F.col("attribution") != "none")
        .groupBy("dt", "campaign_id")
        .agg(
            F.count(F.lit(1)).alias("conversions"),
            F.sum("value_micros").alias("revenue_micros"),
        )
    )
    keys = ["dt", "campaign_id"]
    joined = by_impressions.join(by_clicks, keys, "full_outer").join(
        by_conversions, keys, "full_outer"
    )
    counts = joined.select(
        "dt",
        "campaign_id",
        *(
            F.coalesce(F.col(c), F.lit(0)).cast("bigint").alias(c)
            for c in (
                "impressions",
                "clicks",
                "conversions",
                "spend_micros",
                "revenue_micros",
                "unique_users",
            )
        ),
    )
    with_wins = counts.crossJoin(F.broadcast(wins))
    return with_wins.select(
        "campaign_id",
        "impressions",
        "clicks",
        "conversions",
        "spend_micros",
        "revenue_micros",
        "unique_users",
        _ratio(F.col("clicks"), F.col("impressions")).alias("ctr"),
        _ratio(F.col("conversions"), F.col("clicks")).alias("cvr"),
        _ratio(F.col("spend_micros"), F.col("conversions")).alias("cpa_micros"),
        _ratio(F.col("spend_micros") * 1000, F.col("impressions")).alias("ecpm_micros"),
        _ratio(F.col("won_bid_imps"), F.col("bid_imps")).alias("win_rate"),
        "won_bid_imps",
        "bid_imps",
        "dt",
    )
