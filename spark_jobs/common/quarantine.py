"""Rows of ``adtech.quarantine``: a raw record that could not be curated, and why (semantic 7).

Every job builds its quarantine rows with ``quarantine_rows`` so that the table gets the
same columns from every source: the reason (``adplatform.contracts.Reason``), the raw
payload, where it came from, and the run that set it aside.

The raw payload holds what the record held: clear IPs, user and device ids (semantic 8).
It is kept byte for byte, because a record set aside by a bug is replayed once the bug is
fixed (``adplatform quarantine replay``), but sealed: AES-256-GCM under the current key
version's payload key (``adplatform.keyring``), so the table (readable by every
HiveServer2 user) holds only ciphertext and ``adplatform quarantine show`` opens it for
whoever holds the key. The seal is applied here, where the rows are assembled, so no job
can write a clear payload into the table.

``write_quarantine`` also applies the quarantine's retention: it drops the source's owner
days older than ``retention_days`` before the day it writes.
"""

from __future__ import annotations

import argparse
from datetime import date, timedelta
from urllib.parse import unquote

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from adplatform import keyring
from adplatform.keyring import KeyRing
from adplatform.settings import Settings
from spark_jobs.common.tables import drop_partitions, overwrite_partition

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


def seal(payload: Column, keys: KeyRing) -> Column:
    """``version byte || aes_encrypt(payload, key, 'GCM')`` (random IV, the version byte as
    authenticated data) under the current key version; null stays null."""
    header = F.lit(bytes([keys.current_version]))
    key = F.lit(keys.payload_key())
    sealed = F.aes_encrypt(payload.cast("binary"), key, F.lit("GCM"), F.lit("NONE"), None, header)
    return F.when(payload.isNotNull(), F.concat(header, sealed))


def quarantine_rows(
    df: DataFrame,
    *,
    source: str,
    job: str,
    run_id: str,
    keys: KeyRing,
    load_ts: Column | None = None,
) -> DataFrame:
    """One quarantine row per input row, its raw payload sealed with ``keys``; grain unchanged.

    ``df`` has ``reason``, ``detail``, ``raw_payload`` (binary), ``raw_key`` (binary or
    null), ``origin``, ``event_ts`` (null when unreadable), ``arrival_ts`` and ``owner_dt``.
    """
    return df.select(
        F.col(REASON).alias("reason"),
        F.col(DETAIL).alias("detail"),
        seal(F.col("raw_payload"), keys).alias("raw_payload"),
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


def write_quarantine(
    rows: DataFrame, table: str, day: date, source: str, *, retention_days: int
) -> dict[str, int]:
    """Replace the (dt, source) partition with ``rows`` and drop the source's owner days
    older than ``retention_days`` before ``day``; returns the rows written by reason."""
    if retention_days < 1:
        raise ValueError(f"retention_days={retention_days}: keep at least the day written")
    overwrite_partition(rows, table, {"dt": day, "source": source}, compact=True)
    written = rows.sparkSession.table(table).where(
        (F.col("dt") == F.lit(day)) & (F.col("source") == F.lit(source))
    )
    counts = written.groupBy("reason").count().collect()
    drop_expired(rows.sparkSession, table, source, day - timedelta(days=retention_days))
    return dict(sorted((r["reason"], r["count"]) for r in counts))


def quarantine_day(
    bad: DataFrame, settings: Settings, args: argparse.Namespace, *, source: str, job: str
) -> dict[str, int]:
    """A clean job's quarantine for its run: ``bad`` sealed with the settings' keys into the
    run's (``--ds``, source) partition of ``--quarantine-table``; the rows written by reason."""
    rows = quarantine_rows(
        bad, source=source, job=job, run_id=args.run_id, keys=keyring.from_settings(settings)
    )
    return write_quarantine(
        rows,
        args.quarantine_table,
        args.ds,
        source,
        retention_days=settings.quarantine_retention_days,
    )


def drop_expired(spark: SparkSession, table: str, source: str, cutoff: date) -> list[str]:
    """Drop the (dt, source) partitions of ``source`` with dt before ``cutoff``, their files
    with them (sealed payloads past retention); their days."""
    expired = []
    for (spec,) in spark.sql(f"SHOW PARTITIONS {table}").collect():
        values = dict(unquote(p).split("=", 1) for p in spec.split("/"))
        if values["source"] == source and date.fromisoformat(values["dt"]) < cutoff:
            expired.append(values["dt"])
    drop_partitions(spark, table, [(day, source) for day in sorted(expired)])
    return sorted(expired)
