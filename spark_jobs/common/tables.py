"""Writing the partitions a job owns, and nothing else (semantic 2), without a reader ever
seeing a partition empty or half written.

Two ways, both through the catalog (the DDL of hive/ is the schema):

* ``overwrite_partition``: replaces everything under a static spec (a prefix of the partition
  columns), also when the new data is empty: a re-run never leaves a row of an earlier try
  behind. Used for one day of a table (``dt=D``, or ``dt=D, source=S``) and, with ``{}``,
  for whole unpartitioned tables.
* ``overwrite_partitions``: replaces the partitions present in the data and drops the owned
  partitions that are no longer present. Used by the funnel job, which rewrites several days
  of (dt, campaign_id) partitions at once.

**Versioned partitions** (issue 20). ``INSERT OVERWRITE`` deletes a partition's files before
the new ones exist, so a write killed midway left a day at 0 rows, and the Spark Thrift
Server, which caches the file listing of a path, could list files that were gone. Instead,
every write of a partitioned table puts each partition's new files in a fresh folder
``<table>/<partition path>/_v=<version>`` (staged first under ``<table>/_staging/``; names
starting with ``_`` are invisible to Spark), then swaps the partitions in the metastore: the
existing ones get their new location in ONE ``alterPartitions`` call (one metastore
transaction), the new ones are added in one call, the ones the data no longer has are
dropped (their files kept). Until the swap a reader sees the old rows; after it, the new
ones; between the three calls (milliseconds, and only when a write both replaces and adds or
drops partitions) it can see the new rows of some partitions and the old of others. A new
path is never in a reader's listing cache, so a reader sees the new files at once. The
partition's previous version is kept (a query that started before the swap may still read
it) and deleted by the next write of the same partition, together with older versions and
the orphans of killed writes. Unpartitioned tables (the dimension snapshots) are still
written with ``INSERT OVERWRITE``.

Columns are matched by name against the table and cast to its types, and a bucketed table is
written with one file per bucket per partition, named as Spark names bucket files
(``..._<bucket>.c000...``, which is how a bucketed scan finds a file's bucket): the data is
repartitioned by the dynamic partition columns and the bucket id before the write. Rows
written are counted back from the table (Parquet row counts come from file footers), so the
reconciliation checks what really landed.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import itertools
import uuid
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from adplatform.lake import PARTITION_VERSION_PREFIX

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


def _spec_filter(spec: dict[str, object]) -> Column:
    condition = F.lit(True)
    for key, value in spec.items():
        condition = condition & (F.col(key) == F.lit(value))
    return condition


def count_rows(spark: SparkSession, table: str, spec: dict[str, object]) -> int:
    """Rows of the table under a (possibly partial) partition spec."""
    return spark.table(table).where(_spec_filter(spec)).count()


def overwrite_partition(
    df: DataFrame, table: str, spec: dict[str, object], *, compact: bool = False
) -> int:
    """Replace everything under ``spec`` (a prefix of the partition columns; ``{}`` for an
    unpartitioned table) with ``df``; returns the rows now there. ``compact`` writes one
    file per partition, for small outputs (quarantine, reconciliation, aggregates). A full
    spec whose new data is empty leaves the partition present and empty.

    Rows of ``df`` outside the spec are not written (a static spec would file them under
    it); the caller's reconciliation then sees them missing and fails.
    """
    spark = df.sparkSession
    target = layout(spark, table)
    if tuple(spec) != target.partition_columns[: len(spec)]:
        raise ValueError(f"{table}: {list(spec)} is not a prefix of {target.partition_columns}")
    rows = df.where(_spec_filter(spec))
    if not target.partition_columns:
        _insert_overwrite(rows, table, target, compact)
    else:
        prefix = tuple(_partition_text(v) for v in spec.values())
        required = {prefix} if len(spec) == len(target.partition_columns) else set()
        _replace_versioned(rows, table, target, [prefix], required, compact)
    return count_rows(spark, table, spec)


def overwrite_partitions(
    df: DataFrame,
    table: str,
    owned: dict[str, list[object]],
    present: set[tuple[str, ...]],
) -> int:
    """Replace the partitions in ``df``, then drop the owned partitions that the new data
    no longer has; returns the rows now in the owned partitions.

    ``owned`` restricts the leading partition columns (e.g. ``{"dt": [days...]}``);
    ``present`` is the set of full partition values the data has, as strings in partition
    column order (e.g. ``{("2025-03-01", "c-1")}``), which the caller knows cheaply: a
    written partition outside it is a row the caller did not expect, and raises
    ``ValueError`` before any partition is swapped.
    """
    spark = df.sparkSession
    target = layout(spark, table)
    if tuple(owned) != target.partition_columns[: len(owned)]:
        raise ValueError(f"{table}: {list(owned)} is not a prefix of {target.partition_columns}")
    owned_filter = F.lit(True)
    for key, values in owned.items():
        owned_filter = owned_filter & F.col(key).isin(*values)
    prefixes = list(
        itertools.product(*([_partition_text(v) for v in values] for values in owned.values()))
    )
    expected = {tuple(_partition_text(v) for v in key) for key in present}
    _replace_versioned(df.where(owned_filter), table, target, prefixes, set(), False, expected)
    return spark.table(table).where(owned_filter).count()


# A partition's value as the metastore and the folder names spell it.
DEFAULT_PARTITION_NAME = "__HIVE_DEFAULT_PARTITION__"
STAGING_FOLDER = "_staging"
_BUCKET_COLUMN = "__bucket_id"


def _partition_text(value: object) -> str:
    if value is None:
        return DEFAULT_PARTITION_NAME
    if isinstance(value, _dt.date):
        return value.isoformat()
    return str(value)


def _staged_frame(df: DataFrame, table: str, target: TableLayout, compact: bool) -> DataFrame:
    """Columns in table order, cast to the table's types; one task per (partition, bucket)
    for bucketed tables, one per partition for ``compact`` (small) ones; otherwise the
    data's own tasks write in parallel."""
    types = {f.name: f.dataType for f in df.sparkSession.table(table).schema.fields}
    df = df.select(*(F.col(c).cast(types[c]).alias(c) for c in target.columns))
    if target.num_buckets:
        bucket = target.bucket_id()
        return df.repartition(*target.partition_columns, bucket).withColumn(_BUCKET_COLUMN, bucket)
    if compact:
        return df.repartition(*target.partition_columns)
    return df


def _bucket_file_name(name: str, bucket: int) -> str:
    """Spark's name of a bucket file: ``part-00000-<job>_00003.c000.snappy.parquet``."""
    stem, _, rest = name.partition(".")
    return f"{stem}_{bucket:05d}.{rest}"


class _Lake:
    """The table's catalog entry and file system, through the session's JVM."""

    def __init__(self, spark: SparkSession, table: str, target: TableLayout) -> None:
        self.spark = spark
        self.jvm = spark.sparkContext._jvm
        self.catalog = spark._jsparkSession.sharedState().externalCatalog()
        database, _, name = table.rpartition(".")
        self.database = database or spark.catalog.currentDatabase()
        self.name = name
        self.meta = self.catalog.getTable(self.database, self.name)
        self.columns = target.partition_columns
        self.root = self.path(self.meta.location().toString())
        self.fs = self.root.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
        self._utils = self.jvm.org.apache.spark.sql.catalyst.catalog.ExternalCatalogUtils
        self._python = self.jvm.org.apache.spark.api.python.PythonUtils

    # JVM values
    def path(self, *parts: str):
        return self.jvm.org.apache.hadoop.fs.Path("/".join(parts))

    def qualified(self, path) -> str:
        return self.fs.makeQualified(self.path(str(path.toString()))).toString()

    def _map(self, values: dict[str, str]):
        return self._python.toScalaMap(values)

    def _seq(self, items: list):
        return self._python.toSeq(items)

    def _list(self, seq) -> list:
        return list(self.jvm.scala.jdk.javaapi.CollectionConverters.asJava(seq))

    def _option(self, value):
        return self.jvm.scala.Option.apply(value)

    # layout
    def spec(self, key: tuple[str, ...]) -> dict[str, str]:
        """The spec of a (leading part of a) partition key."""
        return dict(zip(self.columns[: len(key)], key, strict=True))

    def partition_path(self, key: tuple[str, ...]) -> str:
        return "/".join(self._utils.getPartitionPathString(c, v) for c, v in self.spec(key).items())

    def key_of(self, relative: list[str]) -> tuple[str, ...]:
        return tuple(self._utils.unescapePathName(s.partition("=")[2]) for s in relative)

    def rename(self, source, destination) -> None:
        """Hadoop's rename answers ``False`` instead of raising (a missing parent, say)."""
        if not self.fs.rename(source, destination):
            raise OSError(f"could not move {source.toString()} to {destination.toString()}")

    def children(self, path) -> list:
        return list(self.fs.listStatus(path)) if self.fs.exists(path) else []

    def visible_dirs(self, path, depth: int) -> list:
        """The folders ``depth`` levels below ``path`` whose names Spark does not hide."""
        level = [path]
        for _ in range(depth):
            level = [
                s.getPath()
                for p in level
                for s in self.children(p)
                if s.isDirectory() and not s.getPath().getName().startswith(("_", "."))
            ]
        return level

    # metastore
    def partitions(self, prefixes: list[tuple[str, ...]]) -> dict[tuple[str, ...], object]:
        found = {}
        for prefix in prefixes:
            spec = self.spec(prefix)
            listed = self.catalog.listPartitions(
                self.database, self.name, self._option(self._map(spec) if spec else None)
            )
            for p in self._list(listed):
                found[tuple(p.spec().apply(c) for c in self.columns)] = p
        return found

    def _storage(self, template, location):
        uri = self._option(self.path(location).toUri())
        t = template
        return t.copy(
            uri,
            t.inputFormat(),
            t.outputFormat(),
            t.serde(),
            t.compressed(),
            t.properties(),
            t.serdeName(),
        )

    def swap(
        self,
        locations: dict[tuple[str, ...], str],
        before: dict[tuple[str, ...], object],
        drop: list[tuple[str, ...]],
    ) -> None:
        """Point the partitions at their new folders: the existing ones in one call (one
        metastore transaction), then the new ones in one call, then drop ``drop`` keeping
        its files (a query may still read them)."""
        catalog = self.jvm.org.apache.spark.sql.catalyst.catalog
        no_stats, empty = self._option(None), self._map({})
        altered = [
            catalog.CatalogTablePartition(
                before[k].spec(),
                self._storage(before[k].storage(), loc),
                empty,
                before[k].createTime(),
                before[k].lastAccessTime(),
                no_stats,
            )
            for k, loc in sorted(locations.items())
            if k in before
        ]
        added = [
            catalog.CatalogTablePartition(
                self._map(self.spec(k)),
                self._storage(self.meta.storage(), loc),
                empty,
                self.jvm.System.currentTimeMillis(),
                -1,
                no_stats,
            )
            for k, loc in sorted(locations.items())
            if k not in before
        ]
        if altered:
            self.catalog.alterPartitions(self.database, self.name, self._seq(altered))
        if added:
            self.catalog.createPartitions(self.database, self.name, self._seq(added), False)
        if drop:
            specs = [self._map(self.spec(k)) for k in sorted(drop)]
            self.catalog.dropPartitions(
                self.database, self.name, self._seq(specs), True, False, True
            )


def drop_partitions(spark: SparkSession, table: str, keys: list[tuple[str, ...]]) -> None:
    """Drop these full partition keys (values in partition column order) and delete their
    folders whole, every version in them: for retention, where nothing of an expired
    partition may stay (a rewrite keeps the replaced version for readers in flight)."""
    if not keys:
        return
    lake = _Lake(spark, table, layout(spark, table))
    lake.swap({}, {}, keys)
    for key in keys:
        lake.fs.delete(lake.path(str(lake.root.toString()), lake.partition_path(key)), True)


def _replace_versioned(
    df: DataFrame,
    table: str,
    target: TableLayout,
    prefixes: list[tuple[str, ...]],
    required: set[tuple[str, ...]],
    compact: bool,
    expected: set[tuple[str, ...]] | None = None,
) -> None:
    """Write ``df`` as new versions of its partitions, swap them in, drop the partitions
    under ``prefixes`` that ``df`` does not have (``required`` ones stay, empty), and
    delete what no reader can still be reading."""
    spark = df.sparkSession
    lake = _Lake(spark, table, target)
    version = f"{_dt.datetime.now(_dt.UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    owner = hashlib.sha1(repr(sorted(prefixes)).encode()).hexdigest()[:16]
    staging_owner = lake.path(str(lake.root.toString()), STAGING_FOLDER, owner)
    # What an earlier, killed try of these partitions staged is an orphan.
    lake.fs.delete(staging_owner, True)
    staging = lake.path(str(staging_owner.toString()), version)
    writer = _staged_frame(df, table, target, compact).write.mode("overwrite")
    bucket_columns = (_BUCKET_COLUMN,) if target.num_buckets else ()
    writer.partitionBy(*target.partition_columns, *bucket_columns).parquet(str(staging))

    depth = len(target.partition_columns)
    staged: dict[tuple[str, ...], list] = {}
    base = len(str(lake.qualified(staging)).rstrip("/")) + 1
    files = lake.fs.listFiles(staging, True)
    while files.hasNext():
        path = files.next().getPath()
        if path.getName().startswith(("_", ".")):
            continue
        relative = lake.qualified(path)[base:].split("/")[:-1]
        staged.setdefault(lake.key_of(relative[:depth]), []).append(path)
    if expected is not None and set(staged) - expected:
        raise ValueError(f"{table}: rows in partitions {sorted(set(staged) - expected)}")

    root = str(lake.root.toString())
    locations = {
        key: f"{root}/{lake.partition_path(key)}/{PARTITION_VERSION_PREFIX}{version}"
        for key in set(staged) | required
    }
    for key, location in locations.items():
        folder = lake.path(location)
        paths = staged.get(key, [])
        if target.num_buckets:
            lake.fs.mkdirs(folder)
            for path in paths:
                bucket = int(path.getParent().getName().partition("=")[2])
                lake.rename(path, lake.path(location, _bucket_file_name(path.getName(), bucket)))
        elif paths:
            lake.fs.mkdirs(folder.getParent())
            lake.rename(paths[0].getParent(), folder)
        else:
            lake.fs.mkdirs(folder)

    before = lake.partitions(prefixes)
    lake.swap(locations, before, [k for k in before if k not in locations])
    spark.catalog.refreshTable(table)
    lake.fs.delete(staging_owner, True)

    keep = {lake.qualified(lake.path(loc)) for loc in locations.values()}
    keep |= {lake.qualified(lake.path(p.location().toString())) for p in before.values()}
    for prefix in prefixes:
        start = lake.path(root, lake.partition_path(prefix)) if prefix else lake.root
        for folder in lake.visible_dirs(start, depth - len(prefix)):
            _delete_unread_versions(lake, folder, keep)


def _delete_unread_versions(lake: _Lake, folder, keep: set[str]) -> None:
    """In a partition's folder, delete every version that is neither current nor the one it
    replaced (older ones, orphans of killed writes, partitions dropped before), and files of
    the pre-versioning layout once the folder itself is no longer read."""
    folder_kept = lake.qualified(folder) in keep
    for status in lake.children(folder):
        path = status.getPath()
        if status.isDirectory():
            stale = (
                path.getName().startswith(PARTITION_VERSION_PREFIX)
                and lake.qualified(path) not in keep
            )
        else:
            stale = not folder_kept
        if stale:
            lake.fs.delete(path, True)
    if not folder_kept and not lake.children(folder):
        lake.fs.delete(folder, True)


def _insert_overwrite(df: DataFrame, table: str, target: TableLayout, compact: bool) -> None:
    """An unpartitioned table, replaced whole by ``INSERT OVERWRITE``."""
    spark = df.sparkSession
    view = f"_overwrite_{next(_view_ids)}"
    df = df.select(*target.columns)
    if target.num_buckets:
        df = df.repartition(target.bucket_id())
    elif compact:
        df = df.repartition(1)
    df.createOrReplaceTempView(view)
    try:
        spark.sql(
            f"INSERT OVERWRITE TABLE {table} "
            f"SELECT {', '.join(f'`{c}`' for c in target.columns)} FROM {view}"
        )
    finally:
        spark.catalog.dropTempView(view)
