"""Write-audit-publish: a partition reaches its table only after its suite passed.

1. **Write**: the DataFrame a job computed is written to the lake's staging folder
   (``locations.staging_path``), outside every table, and read back from there: what is
   audited is exactly the rows that will be published, computed once (a nondeterministic
   column such as a load time is frozen by the write).
2. **Audit**: ``validation.validate`` runs the table's suite on the staged rows. A failed
   critical expectation raises ``DataQualityError`` here: nothing is published, the table
   keeps its previous partition, and the staged files stay for inspection (the next try of
   the run overwrites them).
3. **Publish**: the caller's ``publish`` function writes the staged rows to the table (the
   job's own partition overwrite, so idempotence and bucketing stay the job's concern); the
   staging folder is deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from adplatform import settings as settings_module
from adplatform.metrics import BatchRun
from adplatform.quality.locations import staging_path
from adplatform.quality.validation import DataQualityError, validate

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuditedRows:
    """Staged rows that passed their suite, ready to publish."""

    rows: DataFrame
    suite: str
    staging: str

    def discard_staging(self) -> None:
        """Delete the staged files once the rows are published."""
        _delete(self.rows.sparkSession, self.staging)


def stage_and_audit(
    df: DataFrame,
    suite: str,
    *,
    run: BatchRun,
    ds: date,
    references: Mapping[str, DataFrame] | None = None,
    days: tuple[date, date] | None = None,
    settings: settings_module.Settings | None = None,
) -> AuditedRows:
    """Steps 1 and 2: stage ``df`` and validate it with ``expectations/<suite>.json``.

    Raises ``DataQualityError`` when a critical expectation fails; failed warnings are
    logged and recorded in ``run`` and the rows are returned for publishing.
    """
    settings = settings or settings_module.load()
    staging = staging_path(settings, suite, run.run_id)
    df.write.mode("overwrite").parquet(staging)
    staged = df.sparkSession.read.schema(df.schema).parquet(staging)
    log.info("data quality: %s staged for audit at %s", suite, staging)
    try:
        validate(
            staged,
            suite,
            run=run,
            ds=ds,
            references=references,
            days=days,
            settings=settings,
        )
    except DataQualityError:
        log.error("data quality: %s not published; the staged rows stay at %s", suite, staging)
        raise
    return AuditedRows(staged, suite, staging)


def write_audit_publish(
    df: DataFrame,
    suite: str,
    publish: Callable[[DataFrame], int],
    *,
    run: BatchRun,
    ds: date,
    references: Mapping[str, DataFrame] | None = None,
    days: tuple[date, date] | None = None,
    settings: settings_module.Settings | None = None,
) -> int:
    """Stage ``df``, validate it with ``expectations/<suite>.json``, then ``publish(staged)``.

    Returns what ``publish`` returns (the rows written). Raises ``DataQualityError`` before
    publishing when a critical expectation fails.
    """
    audited = stage_and_audit(
        df, suite, run=run, ds=ds, references=references, days=days, settings=settings
    )
    written = publish(audited.rows)
    audited.discard_staging()
    log.info("data quality: %s published after its audit (%s rows)", suite, written)
    return written


def _delete(spark: SparkSession, path: str) -> None:
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    fs = hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    fs.delete(hadoop_path, True)
