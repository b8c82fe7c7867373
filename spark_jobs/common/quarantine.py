"""Rows of ``adtech.quarantine``: a raw record that could not be curated, and why (semantic 7).

Every job builds its quarantine rows with ``quarantine_rows`` so that the table gets the
same columns from every source: the reason (``adplatform.contracts.Reason``), the raw
payload byte for byte, where it came from, and the run that set it aside.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_jobs.common.tables import overwrite_partition

REASON = "reason"
DETAIL = "detail"

QUARANTINE_COLUMNS = (
    "reason",
    "detail",
    "raw_payload",
    "raw_key",
    "origin",
    "event_ts",
    "arrival_ts",
    "load_ts",
    "job",
    "run_id",
    "dt",
    "source",
)


def quarantine_rows(
    df: DataFrame,
    *,
    source: str,
    job: str,
    run_id: str,
    load_ts: Column | None = None,
) -> DataFrame:
    """One quarantine row per input row; grain unchanged.

    ``df`` has ``reason``, ``detail``, ``raw_payload`` (binary), ``raw_key`` (binary or
    null), ``origin``, ``event_ts`` (null when unreadable), ``arrival_ts`` and ``owner_dt``.
    """
    return df.select(
        F.col(REASON).alias("reason"),
        F.col(DETAIL).alias("detail"),
        F.col("raw_payload").cast("binary").alias("raw_payload"),
        F.col("raw_key").cast("binary").alias("raw_key"),
        F.col("origin").cast("string").alias("origin"),
        F.col("event_ts").cast("timestamp").alias("event_ts"),
        F.col("arrival_ts").cast("timestamp").alias("arrival_ts"),
        (load_ts if load_ts is not None else F.current_timestamp()).alias("load_ts"),
        F.lit(job).alias("job"),
        F.lit(run_id).alias("run_id"),
        F.col("owner_dt").cast("date").alias("dt"),
        F.lit(source).alias("source"),
    )


def write_quarantine(rows: DataFrame, table: str, day: object, source: str) -> dict[str, int]:
    """Replace the (dt, source) partition with ``rows``; returns the rows there by reason."""
    overwrite_partition(rows, table, {"dt": day, "source": source}, compact=True)
    written = rows.sparkSession.table(table).where(
        (F.col("dt") == F.lit(day)) & (F.col("source") == F.lit(source))
    )
    counts = written.groupBy("reason").count().collect()
    return dict(sorted((r["reason"], r["count"]) for r in counts))
