"""Publishing the day's partitions of a job only after their suites passed (write-audit-publish).

A job hands over each table partition ``dt=ds`` it computed; every one is staged and
audited by its suite (``adplatform.quality.stage_and_audit``) before any is published,
so a critical expectation failing in one of them raises ``DataQualityError`` while every
table still holds its previous partition. The caller writes its quarantine and
reconciliation rows after this returns: a stopped run writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from pyspark.sql import DataFrame

from adplatform.metrics import BatchRun
from adplatform.quality import stage_and_audit
from adplatform.settings import Settings
from spark_jobs.common.tables import overwrite_partition


@dataclass(frozen=True)
class DayPartition:
    """The rows of partition ``dt=ds`` of ``table``, checked by ``expectations/<suite>.json``
    with the reference DataFrames the suite lists in ``meta.references``."""

    df: DataFrame
    table: str
    suite: str
    references: Mapping[str, DataFrame] | None = None
    compact: bool = False


def publish_audited(
    parts: Sequence[DayPartition], *, run: BatchRun, ds: date, settings: Settings
) -> list[int]:
    """Audit every part, then overwrite their partitions ``dt=ds``; returns the rows now in
    each, in the order of ``parts``. Raises ``DataQualityError`` before any write."""
    audited = [
        stage_and_audit(p.df, p.suite, run=run, ds=ds, references=p.references, settings=settings)
        for p in parts
    ]
    written = [
        overwrite_partition(a.rows, p.table, {"dt": ds}, compact=p.compact)
        for p, a in zip(parts, audited, strict=True)
    ]
    for a in audited:
        a.discard_staging()
    return written
