"""Writing the partitions a job owns, and nothing else (semantic 2).

Two ways, both through the catalog (the DDL of hive/ is the schema):

* ``overwrite_partition``: ``INSERT OVERWRITE ... PARTITION (static spec)`` in static mode.
  Everything under the spec is replaced, also when the new data is empty: a re-run never
  leaves a row of an earlier try behind. Used for one day of a table (``dt=D``, or
  ``dt=D, source=S``) and for whole unpartitioned tables.
* ``overwrite_partitions``: dynamic partition overwrite of the partitions present in the
  data, then the owned partitions that are no longer present are dropped. Used by the
  funnel job, which rewrites several days of (dt, campaign_id) partitions at once.

Columns are matched by name against the table (``insertInto`` is positional), and a
bucketed table is written with one file per bucket per partition: the data is
repartitioned by the dynamic partition columns and the bucket id before the write.
Rows written are counted back from the table (Parquet row counts come from file footers),
so the reconciliation checks what really landed.
"""

from __future__ import annotations

import datetime as _dt
import itertools
from dataclasses import dataclass
from urllib.parse import unquote

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

PARTITION_OVERWRITE_MODE = "spark.sql.sources.partitionOverwriteMode"
_view_ids = itertools.count()


@dataclass(frozen=True)
class TableLayout:
    columns: tuple[str, ...]
    partition_columns: tuple[str, ...]
    bucket_columns: tuple[str, ...]
    num_buckets: int

    def bucket_id(self) -> Column:
        """Spark's bucket id of a row: pmod(murmur3 hash of the bucket columns, buckets)."""
        return F.pmod(F.hash(*self.bucket_columns), F.lit(self.num_buckets))


def layout(spark: SparkSession, table: str) -> TableLayout:
    columns = spark.catalog.listColumns(table)
    info = {
        r.col_name: r.data_type for r in spark.sql(f"DESCRIBE TABLE EXTENDED {table}").collect()
    }
    buckets = info.get("Bucket Columns", "[]").strip("[]")
    return TableLayout(
        columns=tuple(c.name for c in columns),
        partition_columns=tuple(c.name for c in columns if c.isPartition),
        bucket_columns=tuple(b.strip().strip("`") for b in buckets.split(",") if b.strip()),
        num_buckets=int(info.get("Num Buckets", "0") or 0),
    )


def _sql_literal(value: object) -> str:
    if isinstance(value, _dt.date):
        return f"'{value.isoformat()}'"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _spec_sql(spec: dict[str, object]) -> str:
    return ", ".join(f"`{k}` = {_sql_literal(v)}" for k, v in spec.items())


def _spec_filter(spec: dict[str, object]) -> Column:
    condition = F.lit(True)
    for key, value in spec.items():
        condition = condition & (F.col(key) == F.lit(value))
    return condition


def _prepare(
    df: DataFrame, table: TableLayout, dynamic: tuple[str, ...], compact: bool
) -> DataFrame:
    """Columns in table order; one task per (dynamic partition, bucket) for bucketed tables,
    one per dynamic partition for ``compact`` (small) ones; otherwise the data's own tasks
    write in parallel."""
    df = df.select(*table.columns)
    if table.num_buckets:
        return df.repartition(*dynamic, table.bucket_id())
    if compact:
        return df.repartition(*dynamic) if dynamic else df.repartition(1)
    return df


def count_rows(spark: SparkSession, table: str, spec: dict[str, object]) -> int:
    """Rows of the table under a (possibly partial) partition spec."""
    return spark.table(table).where(_spec_filter(spec)).count()


def overwrite_partition(
    df: DataFrame, table: str, spec: dict[str, object], *, compact: bool = False
) -> int:
    """Replace everything under ``spec`` (a prefix of the partition columns; ``{}`` for an
    unpartitioned table) with ``df``; returns the rows now there. ``compact`` writes one
    file per partition, for small outputs (quarantine, reconciliation, aggregates).

    Rows of ``df`` outside the spec are not written (a static spec would file them under
    it); the caller's reconciliation then sees them missing and fails.
    """
    spark = df.sparkSession
    target = layout(spark, table)
    if tuple(spec) != target.partition_columns[: len(spec)]:
        raise ValueError(f"{table}: {list(spec)} is not a prefix of {target.partition_columns}")
    dynamic = target.partition_columns[len(spec) :]
    view = f"_overwrite_{next(_view_ids)}"
    _prepare(df.where(_spec_filter(spec)), target, dynamic, compact).createOrReplaceTempView(view)
    values = [c for c in target.columns if c not in spec]
    partition = f"PARTITION ({_spec_sql(spec)})" if target.partition_columns else ""
    previous = spark.conf.get(PARTITION_OVERWRITE_MODE)
    spark.conf.set(PARTITION_OVERWRITE_MODE, "static")
    try:
        spark.sql(
            f"INSERT OVERWRITE TABLE {table} {partition} "
            f"SELECT {', '.join(f'`{c}`' for c in values)} FROM {view}"
        )
    finally:
        spark.conf.set(PARTITION_OVERWRITE_MODE, previous)
        spark.catalog.dropTempView(view)
    return count_rows(spark, table, spec)


def _existing_partitions(spark: SparkSession, table: str) -> list[dict[str, str]]:
    partitions = []
    for row in spark.sql(f"SHOW PARTITIONS {table}").collect():
        parts = (p.split("=", 1) for p in row[0].split("/"))
        partitions.append({unquote(k): unquote(v) for k, v in parts})
    return partitions


def overwrite_partitions(
    df: DataFrame,
    table: str,
    owned: dict[str, list[object]],
    present: set[tuple[str, ...]],
) -> int:
    """Dynamic overwrite of the partitions in ``df``, then drop the owned partitions that
    the new data no longer has; returns the rows now in the owned partitions.

    ``owned`` restricts the leading partition columns (e.g. ``{"dt": [days...]}``);
    ``present`` is the set of full partition values the data has, as strings in partition
    column order (e.g. ``{("2025-03-01", "c-1")}``), which the caller knows cheaply.
    """
    spark = df.sparkSession
    target = layout(spark, table)
    owned_filter = F.lit(True)
    for key, values in owned.items():
        owned_filter = owned_filter & F.col(key).isin(*values)
    previous = spark.conf.get(PARTITION_OVERWRITE_MODE)
    spark.conf.set(PARTITION_OVERWRITE_MODE, "dynamic")
    try:
        _prepare(df.where(owned_filter), target, target.partition_columns, False).write.insertInto(
            table, overwrite=True
        )
    finally:
        spark.conf.set(PARTITION_OVERWRITE_MODE, previous)
    owned_text = {k: {str(v) for v in values} for k, values in owned.items()}
    for partition in _existing_partitions(spark, table):
        if not all(partition[k] in vs for k, vs in owned_text.items()):
            continue
        key = tuple(partition[c] for c in target.partition_columns)
        if key not in present:
            spec = _spec_sql(dict(zip(target.partition_columns, key, strict=True)))
            spark.sql(f"ALTER TABLE {table} DROP IF EXISTS PARTITION ({spec})")
    return spark.table(table).where(owned_filter).count()
