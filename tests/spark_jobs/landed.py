"""Hand-written landed records for the transform tests: the raw zone's columns, tiny data."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from spark_jobs.common.landing import KAFKA_SCHEMA

KEY = "unit-test-key"


def ts(text: str) -> datetime:
    """A naive UTC datetime (the session time zone is UTC) from ``YYYY-MM-DD HH:MM:SS``."""
    return datetime.fromisoformat(text)


def impression(**changes: Any) -> dict[str, Any]:
    """A valid ad-server impression object; ``changes`` replace or (value ...) remove fields."""
    obj: dict[str, Any] = {
        "impression_id": "imp-1",
        "request_id": "req-1",
        "imp_id": "1",
        "event_ts": "2025-03-01T10:00:00.000Z",
        "user_id": "u-1",
        "campaign_id": "c-1",
        "creative_id": "cr-1",
        "site": {"id": "s-1", "domain": "news.example", "publisher_id": "p-1"},
        "app": None,
        "device": {"type": "Mobile", "os": "iOS", "ua": "UA", "ifa": "ifa-1"},
        "geo": {"country": "de", "region": "BE", "city": "Berlin"},
        "ip": "203.0.113.77",
        "win_price_micros": 2510,
        "currency": "USD",
    }
    for name, value in changes.items():
        if value is ...:
            obj.pop(name, None)
        else:
            obj[name] = value
    return obj


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def kafka_rows(
    spark: SparkSession, topic: str, records: list[tuple[bytes | None, bytes, str]]
) -> DataFrame:
    """Landed records: (key, value, arrival time); offsets follow the list order."""
    rows = [
        (key, value, topic, 0, offset, ts(arrival))
        for offset, (key, value, arrival) in enumerate(records)
    ]
    return spark.createDataFrame(rows, KAFKA_SCHEMA)


def land_kafka(
    spark: SparkSession, settings: Any, topic: str, records: list[tuple[bytes | None, bytes, str]]
) -> None:
    """Write records into the raw zone as the landing job does (one folder per arrival hour)."""
    from pyspark.sql import functions as F

    from adplatform import lake

    df = kafka_rows(spark, topic, records)
    for row in df.select(F.date_trunc("hour", "kafka_ts").alias("h")).distinct().collect():
        hour = row.h
        path = lake.landing_path(settings, topic, hour.date(), hour.hour)
        df.where(F.date_trunc("hour", "kafka_ts") == F.lit(hour)).coalesce(1).write.mode(
            "overwrite"
        ).parquet(path)


def pseudonym(user_id: str) -> str:
    """What the jobs write for a user id under the test key (HMAC-SHA256, hex)."""
    import hashlib
    import hmac

    return hmac.new(KEY.encode(), user_id.encode(), hashlib.sha256).hexdigest()


TRACKING_HEADER = (
    b"record_type,event_id,event_ts,user_id,campaign_id,impression_id,conversion_type,"
    b"conversion_value"
)


def tracking_files(spark: SparkSession, files: dict[str, list[bytes]]) -> DataFrame:
    """Landed tracking files as the job reads them: (file_name, content) with a header."""
    from spark_jobs.common.landing import TRACKING_FILES_SCHEMA

    rows = [
        (name, TRACKING_HEADER + b"\n" + b"".join(line + b"\n" for line in lines))
        for name, lines in files.items()
    ]
    return spark.createDataFrame(rows, TRACKING_FILES_SCHEMA)


def click(event_id: str, event_ts: str, impression_id: str, user="u-1", campaign="c-1") -> bytes:
    return f"click,{event_id},{event_ts},{user},{campaign},{impression_id},,".encode()


def conversion(
    event_id: str, event_ts: str, value: str = "12.50", user="u-1", campaign="c-1", kind="purchase"
) -> bytes:
    return f"conversion,{event_id},{event_ts},{user},{campaign},,{kind},{value}".encode()
