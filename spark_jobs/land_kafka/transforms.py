"""Kafka records as the landing zone keeps them: raw bytes, origin and arrival hour."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

# Data columns of a landed record (spark_jobs/common/landing.py reads them back), then the
# partition columns of the landing folders.
LANDED_COLUMNS = ("key", "value", "topic", "partition", "offset", "kafka_ts")
PARTITION_COLUMNS = ("arrival_date", "arrival_hour")

_MICROS_PER_HOUR = 3_600_000_000
_MICROS_PER_DAY = 24 * _MICROS_PER_HOUR


def landed_records(kafka: DataFrame) -> DataFrame:
    """One row per Kafka record, payload untouched, with its arrival date and hour (UTC).

    ``kafka`` has the Spark Kafka source's columns. Nothing is decoded: a payload that is
    not Avro or not JSON lands exactly like a good one, and the clean jobs quarantine it
    with its reason. The arrival hour comes from the record timestamp (the simulated
    arrival for simulator data), in UTC whatever the session time zone: ``arrival_date`` is
    ``YYYY-MM-DD`` and ``arrival_hour`` is ``HH``, the folder names of ``adplatform.lake``.
    """
    micros = F.unix_micros(F.col("timestamp"))
    day = F.floor(micros / F.lit(_MICROS_PER_DAY)).cast("int")
    hour = F.pmod(F.floor(micros / F.lit(_MICROS_PER_HOUR)), F.lit(24)).cast("int")
    return kafka.select(
        F.col("key"),
        F.col("value"),
        F.col("topic"),
        F.col("partition"),
        F.col("offset"),
        F.col("timestamp").alias("kafka_ts"),
        F.date_from_unix_date(day).cast("string").alias("arrival_date"),
        F.lpad(hour.cast("string"), 2, "0").alias("arrival_hour"),
    )
