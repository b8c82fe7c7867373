"""Spark application of bench/report_query.py: the data the campaign-performance query reads.

    report_query_data.py generate <end-date> <days> <campaigns> <impressions-per-day>
    report_query_data.py copy

``generate`` creates the adtech tables from hive/ and writes synthetic rows into
adtech.dim_campaign and adtech.campaign_daily (one row per campaign and day, one file per
day, as the batch job writes it) for the ``days`` days up to ``end-date``; ``copy`` only
makes the unpartitioned copy. Both end with report_bench.campaign_daily_flat: the same
rows and about the same files, without the dt folders, which is what the query reads when
it cannot prune partitions.
"""

import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from adplatform import settings as settings_module
from adplatform.hive_ddl import apply_ddl

FLAT = "report_bench.campaign_daily_flat"


def generate(spark, end_date: str, days: int, campaigns: int, per_day: int) -> None:
    apply_ddl(spark, settings_module.load())
    spark.range(campaigns).select(
        F.format_string("cmp-%04d", "id").alias("campaign_id"),
        F.format_string("Campaign %d", "id").alias("campaign_name"),
        F.format_string("adv-%03d", F.col("id") % 7).alias("advertiser_id"),
        F.format_string("Advertiser %d", F.col("id") % 7).alias("advertiser_name"),
        F.element_at(
            F.array(F.lit("CPM"), F.lit("CPC"), F.lit("CPA")), (F.col("id") % 3 + 1).cast("int")
        ).alias("pricing_model"),
        F.lit(per_day * days * 2000 // campaigns).cast("bigint").alias("budget_micros"),
        F.date_sub(F.lit(end_date).cast("date"), days - 1).alias("flight_start"),
        F.lit(end_date).cast("date").alias("flight_end"),
        F.lit(2_000_000).cast("bigint").alias("bid_cpm_micros"),
    ).write.insertInto("adtech.dim_campaign", overwrite=True)

    # Deterministic pseudo-random numbers per (campaign, day), spread around per_day / campaigns.
    share = per_day // campaigns
    noise = (F.abs(F.hash("id")) % 1000) / 1000.0
    rows = spark.range(days * campaigns).select(
        F.format_string("cmp-%04d", F.col("id") % campaigns).alias("campaign_id"),
        (F.lit(share) * (0.5 + noise)).cast("bigint").alias("impressions"),
        noise.alias("u"),
        F.date_sub(F.lit(end_date).cast("date"), (F.col("id") / campaigns).cast("int")).alias("dt"),
    )
    rows = rows.select(
        "campaign_id",
        "impressions",
        (F.col("impressions") * (0.002 + 0.01 * F.col("u"))).cast("bigint").alias("clicks"),
        (F.col("impressions") * 0.0005 * F.col("u")).cast("bigint").alias("conversions"),
        (F.col("impressions") * 2000).alias("spend_micros"),
        (F.col("impressions") * 3000 * F.col("u")).cast("bigint").alias("revenue_micros"),
        (F.col("impressions") * 0.8).cast("bigint").alias("unique_users"),
        "dt",
    )
    rows = rows.select(
        "campaign_id",
        "impressions",
        "clicks",
        "conversions",
        "spend_micros",
        "revenue_micros",
        "unique_users",
        (F.col("clicks") / F.col("impressions")).alias("ctr"),
        (F.col("conversions") / F.nullif(F.col("clicks"), F.lit(0))).alias("cvr"),
        (F.col("spend_micros") / F.nullif(F.col("conversions"), F.lit(0))).alias("cpa_micros"),
        (F.col("spend_micros") * 1000.0 / F.col("impressions")).alias("ecpm_micros"),
        F.lit(0.25).alias("win_rate"),
        F.lit(per_day).cast("bigint").alias("won_bid_imps"),
        F.lit(per_day * 4).cast("bigint").alias("bid_imps"),
        "dt",
    )
    # One file per day, like the batch job's daily partition.
    rows.repartition("dt").write.insertInto("adtech.campaign_daily", overwrite=True)


def copy(spark) -> None:
    spark.sql("CREATE DATABASE IF NOT EXISTS report_bench")
    source = spark.table("adtech.campaign_daily")
    days = source.select("dt").distinct().count()
    # About one file per day, as in the partitioned table, so that the two differ only in
    # what the reader can skip.
    (
        source.repartitionByRange(days, "dt")
        .sortWithinPartitions("dt")
        .write.mode("overwrite")
        .format("parquet")
        .saveAsTable(FLAT)
    )


spark = SparkSession.builder.appName("bench-report-query-data").enableHiveSupport().getOrCreate()
if sys.argv[1] == "generate":
    generate(spark, sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
copy(spark)
spark.stop()
