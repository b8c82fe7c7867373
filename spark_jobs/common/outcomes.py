"""Outcome of each raw record a run owns: curated, quarantined (with a reason) or duplicate.

A clean job classifies every owned record into exactly one outcome (semantic 1) in a
single DataFrame with an ``outcome`` column; the curated rows, the quarantine rows and the
reconciliation counts are all taken from that one frame, so no record can fall between
them.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

OUTCOME = "outcome"
CURATED = "curated"
QUARANTINED = "quarantined"
DUPLICATE = "duplicate"


def outcome(reason: Column, is_duplicate: Column) -> Column:
    """``quarantined`` when there is a reason, else ``duplicate`` or ``curated``."""
    return (
        F.when(reason.isNotNull(), F.lit(QUARANTINED))
        .when(F.coalesce(is_duplicate, F.lit(False)), F.lit(DUPLICATE))
        .otherwise(F.lit(CURATED))
    )


@dataclass(frozen=True)
class OutcomeCounts:
    rows_in: int
    curated: int
    duplicates: int
    quarantined_by_reason: dict[str, int]
    newest_curated_event_ts: object = None


def count_outcomes(classified: DataFrame) -> OutcomeCounts:
    """Counts of a classified frame (``outcome``, ``reason``, ``event_ts``), in one pass."""
    rows = (
        classified.groupBy(OUTCOME, "reason")
        .agg(F.count(F.lit(1)).alias("count"), F.max("event_ts").alias("newest"))
        .collect()
    )
    newest = max((r["newest"] for r in rows if r[OUTCOME] == CURATED and r["newest"]), default=None)
    by_outcome: dict[str, int] = {}
    by_reason: dict[str, int] = {}
    for row in rows:
        by_outcome[row[OUTCOME]] = by_outcome.get(row[OUTCOME], 0) + row["count"]
        if row[OUTCOME] == QUARANTINED:
            by_reason[row["reason"]] = by_reason.get(row["reason"], 0) + row["count"]
    return OutcomeCounts(
        rows_in=sum(by_outcome.values()),
        curated=by_outcome.get(CURATED, 0),
        duplicates=by_outcome.get(DUPLICATE, 0),
        quarantined_by_reason=dict(sorted(by_reason.items())),
        newest_curated_event_ts=newest,
    )


def without_curated_payloads(classified: DataFrame) -> DataFrame:
    """Same rows; the raw payload and key kept only where they are needed (quarantined
    rows), so that a persisted classified frame holds parsed fields, not raw bytes twice."""
    keep = F.col(OUTCOME) == QUARANTINED
    return classified.withColumn("raw_payload", F.when(keep, F.col("raw_payload"))).withColumn(
        "raw_key", F.when(keep, F.col("raw_key"))
    )
