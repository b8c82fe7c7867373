"""Small, clean, hand-written tables for the data-quality tests, one day (2025-03-01).

Schemas come from the DDL in hive/ (the source of truth), so a table built here has exactly
the columns and types the published table has. The rows are consistent with each other the
way the batch jobs must make them: the clicks join the impressions, the funnel holds the
impressions with their clicks and credited conversions, and campaign_daily adds them up.

    imp-1  c-1  u-1  09:00  clicked 09:00:20 (clk-1)  -> cnv-1 last click, 10:00, $5
    imp-2  c-1  u-2  15:00  no click                  -> cnv-2 last view, 16:00, $2
    imp-3  c-2  u-3  22:30  clicked 22:30:30 (clk-2)
    cnv-3  c-2  u-4  12:00  unattributed, no event id (fingerprint key)
    bid requests req-1 .. req-4, one imp each; req-1 .. req-3 won by imp-1 .. imp-3
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

REPO_ROOT = Path(__file__).resolve().parents[2]
DS = date(2025, 3, 1)

_SPARK_TYPES = {
    "STRING": T.StringType(),
    "TIMESTAMP": T.TimestampType(),
    "BIGINT": T.LongType(),
    "INT": T.IntegerType(),
    "DATE": T.DateType(),
    "BOOLEAN": T.BooleanType(),
    "DOUBLE": T.DoubleType(),
}


def ddl_columns(table: str) -> list[tuple[str, str]]:
    """(name, Hive type) of every column of hive/create_<table>.sql, in order."""
    text = (REPO_ROOT / "hive" / f"create_{table}.sql").read_text()
    return re.findall(r"^\s+(\w+)\s+([A-Z]+)\s+COMMENT", text, re.M)


def ddl_schema(table: str) -> T.StructType:
    return T.StructType([T.StructField(n, _SPARK_TYPES[t]) for n, t in ddl_columns(table)])


def ts(text: str) -> datetime:
    """A naive UTC datetime (the test session's time zone is UTC)."""
    return datetime.fromisoformat(text)


def pseudonym(raw: str) -> str:
    """Stands in for the HMAC: any 64 lower-case hex digits look the same to the suites."""
    return hashlib.sha256(raw.encode()).hexdigest()


def frame(
    spark: SparkSession, schema: T.StructType, rows: Iterable[Mapping[str, Any]]
) -> DataFrame:
    """Rows given as dicts (absent keys are null) in the schema's column order."""
    names = schema.fieldNames()
    return spark.createDataFrame([tuple(r.get(n) for n in names) for r in rows], schema)


def table(spark: SparkSession, name: str, rows: Iterable[Mapping[str, Any]]) -> DataFrame:
    return frame(spark, ddl_schema(name), rows)


# --------------------------------------------------------------------------- curated tables

IMPRESSIONS = [
    {
        "impression_id": f"imp-{i}",
        "request_id": f"req-{i}",
        "imp_id": "1",
        "event_ts": ts(event),
        "user_id": pseudonym(user),
        "campaign_id": campaign,
        "creative_id": f"cr-{campaign}",
        "inventory_type": "site",
        "site_id": "s-1",
        "site_domain": "news.example",
        "publisher_id": "p-1",
        "device_type": "mobile",
        "device_os": "iOS",
        "device_ifa": pseudonym(f"ifa-{user}"),
        "country": "DE",
        "region": "BE",
        "city": "Berlin",
        "ip_truncated": "203.0.113.0" if i != 3 else "2001:db8:1::",
        "win_price_micros": price,
        "currency": "USD",
        "arrival_ts": ts(event) + timedelta(seconds=1),
        "kafka_partition": 0,
        "kafka_offset": i,
        "dt": DS,
    }
    for i, event, user, campaign, price in (
        (1, "2025-03-01 09:00:00", "u-1", "c-1", 2510),
        (2, "2025-03-01 15:00:00", "u-2", "c-1", 3000),
        (3, "2025-03-01 22:30:00", "u-3", "c-2", 1800),
    )
]

BID_REQUESTS = [
    {
        "request_id": f"req-{i}",
        "imp_id": "1",
        "event_ts": ts(event),
        "bidfloor_cpm_micros": 500_000,
        "bidfloor_currency": "USD",
        "tagid": "top",
        "banner_w": 300,
        "banner_h": 250,
        "banner_pos": 1,
        "inventory_type": "site",
        "site_id": "s-1",
        "site_domain": "news.example",
        "publisher_id": "p-1",
        "device_type": "mobile",
        "device_os": "iOS",
        "device_ifa": pseudonym(f"ifa-u-{i}"),
        "ip_truncated": "203.0.113.0",
        "country": "DE",
        "region": "BE",
        "city": "Berlin",
        "user_id": pseudonym(f"u-{i}"),
        "user_yob": 1990,
        "user_gender": "F",
        "gdpr": 1,
        "coppa": 0,
        "tmax_ms": 120,
        "imp_count": 1,
        "arrival_ts": ts(event.replace(":59:59", ":59:59.5")),
        "kafka_partition": 0,
        "kafka_offset": i,
        "dt": DS,
    }
    for i, event in (
        (1, "2025-03-01 08:59:59"),
        (2, "2025-03-01 14:59:59"),
        (3, "2025-03-01 22:29:59"),
        (4, "2025-03-01 23:10:00"),
    )
]

CLICKS = [
    {
        "event_id": f"clk-{i}",
        "event_ts": ts(event),
        "user_id": pseudonym(user),
        "campaign_id": campaign,
        "impression_id": impression,
        "impression_ts": ts(impression_ts),
        "seconds_after_impression": seconds,
        "arrival_ts": ts(arrival),
        "source_file": source_file,
        "source_line": 2,
        "dt": DS,
    }
    for i, event, user, campaign, impression, impression_ts, seconds, arrival, source_file in (
        (1, "2025-03-01 09:00:20", "u-1", "c-1", "imp-1", "2025-03-01 09:00:00", 20,
         "2025-03-01 10:00:00", "tracking_20250301_09.csv"),
        (2, "2025-03-01 22:30:30", "u-3", "c-2", "imp-3", "2025-03-01 22:30:00", 30,
         "2025-03-01 23:00:00", "tracking_20250301_22.csv"),
    )
]  # fmt: skip

CONVERSIONS = [
    {
        "conversion_key": "cnv-1",
        "event_id": "cnv-1",
        "event_ts": ts("2025-03-01 10:00:00"),
        "user_id": pseudonym("u-1"),
        "campaign_id": "c-1",
        "conversion_type": "purchase",
        "value_micros": 5_000_000,
        "attribution": "last_click",
        "attributed_click_id": "clk-1",
        "attributed_impression_id": "imp-1",
        "attributed_touch_ts": ts("2025-03-01 09:00:20"),
        "arrival_ts": ts("2025-03-01 11:00:00"),
        "source_file": "tracking_20250301_10.csv",
        "source_line": 2,
        "dt": DS,
    },
    {
        "conversion_key": "cnv-2",
        "event_id": "cnv-2",
        "event_ts": ts("2025-03-01 16:00:00"),
        "user_id": pseudonym("u-2"),
        "campaign_id": "c-1",
        "conversion_type": "signup",
        "value_micros": 2_000_000,
        "attribution": "last_view",
        "attributed_impression_id": "imp-2",
        "attributed_touch_ts": ts("2025-03-01 15:00:00"),
        "arrival_ts": ts("2025-03-01 17:00:00"),
        "source_file": "tracking_20250301_16.csv",
        "source_line": 2,
        "dt": DS,
    },
    {
        "conversion_key": "fp:" + pseudonym("cnv-3"),
        "event_ts": ts("2025-03-01 12:00:00"),
        "user_id": pseudonym("u-4"),
        "campaign_id": "c-2",
        "conversion_type": "lead",
        "value_micros": 1_000_000,
        "attribution": "none",
        "arrival_ts": ts("2025-03-01 13:00:00"),
        "source_file": "tracking_20250301_12.csv",
        "source_line": 3,
        "dt": DS,
    },
]

DIM_CAMPAIGN = [
    {
        "campaign_id": f"c-{i}",
        "campaign_name": f"Campaign {i}",
        "advertiser_id": f"adv-{i}",
        "advertiser_name": f"Advertiser {i}",
        "pricing_model": model,
        "budget_micros": 1_000_000_000,
        "flight_start": date(2025, 2, 1),
        "flight_end": date(2025, 3, 31),
        "bid_cpm_micros": 3_000_000,
    }
    for i, model in ((1, "CPM"), (2, "CPC"), (3, "CPA"))
]


# Columns of ad_funnel copied from the impression.
_FROM_IMPRESSION = (
    "impression_id", "request_id", "imp_id", "event_ts", "user_id", "creative_id",
    "inventory_type", "site_domain", "app_bundle", "publisher_id", "device_type", "device_os",
    "device_ifa", "country", "ip_truncated", "win_price_micros", "dt", "campaign_id",
)  # fmt: skip


def _funnel_row(impression: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
    campaign = next(c for c in DIM_CAMPAIGN if c["campaign_id"] == impression["campaign_id"])
    row = {
        **{k: impression[k] for k in _FROM_IMPRESSION if k in impression},
        "has_bid": True,
        "bid_ts": impression["event_ts"] - timedelta(seconds=1),
        "bidfloor_cpm_micros": 500_000,
        "click_count": 0,
        "clicked": False,
        "last_click_conversions": 0,
        "last_click_conversion_value_micros": 0,
        "last_view_conversions": 0,
        "last_view_conversion_value_micros": 0,
        "conversions": 0,
        "conversion_value_micros": 0,
        "campaign_name": campaign["campaign_name"],
        "advertiser_id": campaign["advertiser_id"],
        "advertiser_name": campaign["advertiser_name"],
        "pricing_model": campaign["pricing_model"],
        "age_band": "25-34",
        "gender": "F",
        "user_country": "DE",
        "segment": "sports",
    }
    row.update(changes)
    return row


AD_FUNNEL = [
    _funnel_row(
        IMPRESSIONS[0],
        click_count=1,
        clicked=True,
        first_click_ts=ts("2025-03-01 09:00:20"),
        last_click_ts=ts("2025-03-01 09:00:20"),
        last_click_conversions=1,
        last_click_conversion_value_micros=5_000_000,
        conversions=1,
        conversion_value_micros=5_000_000,
    ),
    _funnel_row(
        IMPRESSIONS[1],
        last_view_conversions=1,
        last_view_conversion_value_micros=2_000_000,
        conversions=1,
        conversion_value_micros=2_000_000,
    ),
    _funnel_row(
        IMPRESSIONS[2],
        click_count=1,
        clicked=True,
        first_click_ts=ts("2025-03-01 22:30:30"),
        last_click_ts=ts("2025-03-01 22:30:30"),
    ),
]

# c-1: 2 impressions (5510 spend, 2 users), 1 click, 2 attributed conversions ($7);
# c-2: 1 impression (1800), 1 click, no attributed conversion. 3 of 4 bid imps won.
CAMPAIGN_DAILY = [
    {
        "campaign_id": "c-1",
        "impressions": 2,
        "clicks": 1,
        "conversions": 2,
        "spend_micros": 5510,
        "revenue_micros": 7_000_000,
        "unique_users": 2,
        "ctr": 0.5,
        "cvr": 2.0,
        "cpa_micros": 2755.0,
        "ecpm_micros": 2_755_000.0,
        "win_rate": 0.75,
        "won_bid_imps": 3,
        "bid_imps": 4,
        "dt": DS,
    },
    {
        "campaign_id": "c-2",
        "impressions": 1,
        "clicks": 1,
        "conversions": 0,
        "spend_micros": 1800,
        "revenue_micros": 0,
        "unique_users": 1,
        "ctr": 1.0,
        "cvr": 0.0,
        "cpa_micros": None,
        "ecpm_micros": 1_800_000.0,
        "win_rate": 0.75,
        "won_bid_imps": 3,
        "bid_imps": 4,
        "dt": DS,
    },
]

CURATED = {
    "impressions": IMPRESSIONS,
    "bid_requests": BID_REQUESTS,
    "clicks": CLICKS,
    "conversions": CONVERSIONS,
    "ad_funnel": AD_FUNNEL,
    "campaign_daily": CAMPAIGN_DAILY,
}

# ------------------------------------------------------------------------------ raw records
# What the clean jobs' parse step gives for each landed record (the raw suites' input):
# the landing columns, the decoded fields, and the validation reason (null when valid).

RAW_SCHEMAS = {
    "raw_impressions": T.StructType(
        [
            T.StructField(n, t)
            for n, t in (
                ("origin", T.StringType()),
                ("arrival_ts", T.TimestampType()),
                ("event_ts", T.TimestampType()),
                ("impression_id", T.StringType()),
                ("user_id", T.StringType()),
                ("campaign_id", T.StringType()),
                ("device_type", T.StringType()),
                ("country", T.StringType()),
                ("win_price_micros", T.LongType()),
                ("currency", T.StringType()),
                ("reason", T.StringType()),
                ("detail", T.StringType()),
            )
        ]
    ),
    "raw_bid_requests": T.StructType(
        [
            T.StructField(n, t)
            for n, t in (
                ("origin", T.StringType()),
                ("arrival_ts", T.TimestampType()),
                ("event_ts", T.TimestampType()),
                ("reason", T.StringType()),
            )
        ]
    ),
    "raw_tracking": T.StructType(
        [
            T.StructField(n, t)
            for n, t in (
                ("origin", T.StringType()),
                ("arrival_ts", T.TimestampType()),
                ("event_ts", T.TimestampType()),
                ("kind", T.StringType()),
                ("event_id", T.StringType()),
                ("user_id", T.StringType()),
                ("campaign_id", T.StringType()),
                ("impression_id", T.StringType()),
                ("conversion_type", T.StringType()),
                ("reason", T.StringType()),
            )
        ]
    ),
}

# Arrivals cover the run's window up to its last hours (2025-03-02 05:xx): events of the
# next day that arrived early in it, as in real landing partitions.
RAW_IMPRESSIONS = [
    {
        "origin": f"ad_impressions/0/{i}",
        "arrival_ts": ts(arrival),
        "event_ts": ts(event),
        "impression_id": f"imp-{i}",
        "user_id": f"u-{i}",
        "campaign_id": "c-1",
        "device_type": "mobile",
        "country": "DE",
        "win_price_micros": 2510,
        "currency": "USD",
    }
    for i, event, arrival in (
        (1, "2025-02-28 23:59:58", "2025-03-01 00:00:03"),
        (2, "2025-03-01 09:00:00", "2025-03-01 09:00:01"),
        (3, "2025-03-01 22:30:00", "2025-03-01 22:30:01"),
        (4, "2025-03-02 05:10:00", "2025-03-02 05:10:01"),
    )
]

RAW_BID_REQUESTS = [
    {
        "origin": f"bid_requests/0/{i}",
        "arrival_ts": ts(arrival),
        "event_ts": ts(event),
    }
    for i, event, arrival in (
        (1, "2025-03-01 08:59:59", "2025-03-01 08:59:59.5"),
        (2, "2025-03-01 14:59:59", "2025-03-01 14:59:59.5"),
        (3, "2025-03-02 04:59:59", "2025-03-02 04:59:59.5"),
    )
]

RAW_TRACKING = [
    {
        "origin": f"tracking_{name}.csv:{line}",
        "arrival_ts": ts(arrival),
        "event_ts": ts(event),
        "kind": kind,
        "event_id": event_id,
        "user_id": "u-1",
        "campaign_id": "c-1",
        "impression_id": "imp-1" if kind == "click" else None,
        "conversion_type": "purchase" if kind == "conversion" else None,
    }
    for name, line, kind, event_id, event, arrival in (
        ("20250301_09", 2, "click", "clk-1", "2025-03-01 09:00:20", "2025-03-01 10:00:00"),
        ("20250301_10", 2, "conversion", "cnv-1", "2025-03-01 10:00:00", "2025-03-01 11:00:00"),
        ("20250302_04", 2, "click", "clk-9", "2025-03-02 04:10:00", "2025-03-02 05:00:00"),
    )
]  # fmt: skip

RAW = {
    "raw_impressions": RAW_IMPRESSIONS,
    "raw_bid_requests": RAW_BID_REQUESTS,
    "raw_tracking": RAW_TRACKING,
}


def clean(
    spark: SparkSession, suite: str, rows: list[Mapping[str, Any]] | None = None
) -> DataFrame:
    """The clean input of a suite (or ``rows`` in its schema)."""
    if suite in RAW:
        return frame(spark, RAW_SCHEMAS[suite], RAW[suite] if rows is None else rows)
    return table(spark, suite, CURATED[suite] if rows is None else rows)


def references(
    spark: SparkSession, suite: str, **replaced: list[Mapping[str, Any]]
) -> dict[str, DataFrame]:
    """The reference tables a suite reads, clean unless replaced by name."""
    sources = {
        "impressions": ("impressions", IMPRESSIONS),
        "clicks": ("clicks", CLICKS),
        "conversions": ("conversions", CONVERSIONS),
        "bid_requests": ("bid_requests", BID_REQUESTS),
        "dim_campaign": ("dim_campaign", DIM_CAMPAIGN),
    }
    from adplatform.quality.suites import load_suite

    return {
        name: table(spark, sources[name][0], replaced.get(name, sources[name][1]))
        for name in load_suite(suite).references
    }
