"""Publishing the day's partitions of a job only after their suites passed (write-audit-publish).

A job hands over each table partition ``dt=ds`` it computed; every one is staged and
audited by its suite (``adplatform.quality.write_audit_publish``) before any is published,
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
from adplatform.quality import write_audit_publish
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
    staged: list[DataFrame] = []
    written: list[int] = []

    def audit(index: int) -> int:
        part = parts[index]

        def publish(rows: DataFrame) -> int:
            staged.append(rows)
            if index + 1 < len(parts):
                audit(index + 1)  # the next part's audit, and then every publish
            else:
                written.extend(
                    overwrite_partition(s, p.table, {"dt": ds}, compact=p.compact)
                    for p, s in zip(parts, staged, strict=True)
                )
            return written[index]

        return write_audit_publish(
            part.df,
            part.suite,
            publish,
            run=run,
            ds=ds,
            references=part.references,
            settings=settings,
        )

    audit(0)
    return written
