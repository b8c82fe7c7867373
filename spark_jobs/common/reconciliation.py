"""The reconciliation row of a run: ``in = curated + quarantined + duplicates`` (semantic 1).

A job counts what it owns (``rows_in``), what it dropped as duplicates, and what it wrote
(curated and quarantined rows, counted back from the tables). ``Reconciliation.check``
raises when the sum does not match, after the row has been written, so that the failure
is both in the table and in the task's log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from adplatform.metrics import BatchRun
from spark_jobs.common.tables import overwrite_partition

TABLE = "adtech.reconciliation"

_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType()),
        T.StructField("rows_in", T.LongType()),
        T.StructField("curated", T.LongType()),
        T.StructField("quarantined", T.LongType()),
        T.StructField("duplicates", T.LongType()),
        T.StructField("quarantined_by_reason", T.MapType(T.StringType(), T.LongType())),
        T.StructField("ok", T.BooleanType()),
        T.StructField("checked_at", T.TimestampType()),
        T.StructField("source", T.StringType()),
        T.StructField("dt", T.DateType()),
        T.StructField("job", T.StringType()),
    ]
)


class ReconciliationError(RuntimeError):
    """A run's counts do not add up: something was lost or counted twice."""


@dataclass(frozen=True)
class Reconciliation:
    job: str
    source: str
    dt: date
    run_id: str
    rows_in: int
    curated: int
    duplicates: int
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def quarantined(self) -> int:
        return sum(self.quarantined_by_reason.values())

    @property
    def ok(self) -> bool:
        return self.rows_in == self.curated + self.quarantined + self.duplicates

    def describe(self) -> str:
        return (
            f"{self.job} {self.source} {self.dt}: in={self.rows_in} curated={self.curated} "
            f"quarantined={self.quarantined} duplicates={self.duplicates}"
        )

    def check(self) -> None:
        if not self.ok:
            missing = self.rows_in - self.curated - self.quarantined - self.duplicates
            raise ReconciliationError(
                f"reconciliation failed, {missing:+d} rows unaccounted for: {self.describe()}"
            )

    def frame(self, spark: SparkSession, checked_at: datetime | None = None) -> DataFrame:
        """The row, with the columns of adtech.reconciliation."""
        checked_at = checked_at or datetime.now(UTC).replace(tzinfo=None)
        row = (
            self.run_id,
            self.rows_in,
            self.curated,
            self.quarantined,
            self.duplicates,
            dict(self.quarantined_by_reason),
            self.ok,
            checked_at,
            self.source,
            self.dt,
            self.job,
        )
        return spark.createDataFrame([row], _SCHEMA)


def write_reconciliation(spark: SparkSession, rows: list[Reconciliation]) -> None:
    """Replace the rows of the same (dt, job, source) with ``rows``; rows of the job's other
    sources that day (load_dimensions writes one per file) stay."""
    by_partition: dict[tuple[date, str], list[Reconciliation]] = {}
    for rec in rows:
        by_partition.setdefault((rec.dt, rec.job), []).append(rec)
    for (day, job), recs in by_partition.items():
        replaced = [rec.source for rec in recs]
        kept = (
            spark.table(TABLE)
            .where((F.col("dt") == F.lit(day)) & (F.col("job") == job))
            .where(~F.col("source").isin(*replaced))
            .select(*(f.name for f in _SCHEMA.fields))
            .collect()
        )
        frame = spark.createDataFrame([tuple(r) for r in kept], _SCHEMA)
        for rec in recs:
            frame = frame.unionByName(rec.frame(spark))
        overwrite_partition(frame, TABLE, {"dt": day, "job": job}, compact=True)


def reconcile(
    spark: SparkSession, rec: Reconciliation, run: BatchRun, newest_event: object = None
) -> None:
    """Write the row, record the run's metrics, log the counts, then fail if they do not add
    up (after the row is written, so the failure is visible in the table too)."""
    write_reconciliation(spark, [rec])
    run.rows_read(rec.rows_in)
    run.rows_written(rec.curated)
    run.rows_quarantined(rec.quarantined)
    run.rows_deduplicated(rec.duplicates)
    run.newest_event(newest_event)
    print(f"reconciliation {'ok' if rec.ok else 'FAILED'}: {rec.describe()}", flush=True)
    rec.check()
