"""Lake maintenance: compact small landing files, apply retention to raw partitions,
summarise the quarantine. Run by the ``lake_maintenance`` DAG after each published day.

All three work relative to a day ``as_of`` (the newest day the pipeline published; for a
run started by hand, the newest arrival date landed), never the wall clock, so simulated
days in the past and backfills behave like real days, and a run by hand on a lake of old
data does not delete it all.

**Compaction.** Every ``AvailableNow`` landing run writes its own files into each arrival
hour it touches, so a Kafka topic's hour collects many small Parquet files; Spark then pays
a task and a footer read per file. A closed hour (done marker present) whose arrival date is
at least ``compact_after_days`` before ``as_of`` and that holds two or more data files (and
at most ``max_hour_bytes``) is rewritten as files of up to ``target_file_bytes``, with the
same rows, columns and Parquet types (INT96 timestamps stay INT96). The new hour folder is
built beside the old one under a hidden name (``_compacting_arrival_hour=HH``; Spark skips
names starting with ``_``), its row count checked against the input's, then swapped in with
two renames; the old folder is deleted last. A crash at any point is repaired by the next
run (see ``_recover``); an hour that changed while it was being compacted (a late record
landed into it) is left as it is. The days compacted are older than any day the daily DAG reads for
its next run, and the DAG runs this step holding every slot of the ``spark`` pool, so no
Spark job reads the landing zone while folders are swapped. Tracking CSV hours hold one file
each and are left as they are.

**Retention.** Arrival dates more than ``retention_days`` before ``as_of`` are deleted from
the landing zone of every source, done markers first: a re-run of such a day then waits for
its markers and times out loudly, instead of reading nothing and overwriting good curated
partitions with empty ones. The first date kept is recorded before anything is deleted
(``landing/<source>/_RETAINED``): the clean jobs refuse, in one line, to rebuild a day
before it. Curated tables and the reconciliation table are kept; the quarantine table has its
own retention (``quarantine_retention_days``), applied by each clean job when it writes its
partition (spark_jobs/common/quarantine.py).

**Quarantine summary.** Records quarantined per source and reason over the last
``quarantine_days`` owner days (``adtech.quarantine`` through HiveServer2), and whole files
set aside as unreadable (``quarantine/<source>/arrival_date=...`` in the lake).
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from adplatform import lake
from adplatform.contracts import TOPIC_AD_IMPRESSIONS, TOPIC_BID_REQUESTS
from adplatform.hdfs import FileStatus, FileSystem, join
from adplatform.landing import markers
from adplatform.settings import Settings

log = logging.getLogger(__name__)

MIB = 1024 * 1024
KAFKA_SOURCES = (TOPIC_BID_REQUESTS, TOPIC_AD_IMPRESSIONS)
LANDING_SOURCES = (*KAFKA_SOURCES, lake.TRACKING_SOURCE)
# The daily run of D reads arrival dates D-1 .. D+1: a shorter retention would delete what
# the next run still needs.
MIN_RETENTION_DAYS = 3

_DATE_DIR = re.compile(r"^arrival_date=(\d{4}-\d{2}-\d{2})$")
_HOUR_DIR = re.compile(r"^arrival_hour=(\d{2})$")
STAGING_PREFIX = "_compacting_"
REPLACED_PREFIX = "_replaced_"


@dataclass(frozen=True)
class Policy:
    """How maintenance treats the lake; the DAG's params override these defaults."""

    retention_days: int = 30
    compact_after_days: int = 3
    max_hour_bytes: int = 256 * MIB
    target_file_bytes: int = 128 * MIB
    quarantine_days: int = 7

    def __post_init__(self) -> None:
        if self.retention_days < MIN_RETENTION_DAYS:
            raise ValueError(
                f"retention_days={self.retention_days}: keep at least {MIN_RETENTION_DAYS} "
                "days, the next daily run reads the arrival dates around its day"
            )
        if self.compact_after_days < 2:
            raise ValueError("compact_after_days must be at least 2 (the next run reads them)")
        if self.quarantine_days < 1 or self.target_file_bytes < MIB:
            raise ValueError("quarantine_days must be >= 1 and target_file_bytes >= 1 MiB")


def check_as_of(as_of: date, today: date | None = None) -> date:
    """Refuse a day in the future: retention counted from it would delete current data."""
    today = today or datetime.now(UTC).date()
    if as_of > today:
        raise ValueError(f"as_of={as_of} is in the future (today is {today} UTC)")
    return as_of


def is_hidden(name: str) -> bool:
    """Names Spark's file listing skips: not data."""
    return name.startswith(("_", "."))


def _dated_children(
    fs: FileSystem, uri: str, pattern: re.Pattern[str]
) -> list[tuple[str, FileStatus]]:
    if not fs.exists(uri):
        return []
    out = []
    for status in fs.list(uri):
        match = pattern.match(status.name)
        if status.is_dir and match:
            out.append((match.group(1), status))
    return out


def arrival_dates(fs: FileSystem, source_uri: str) -> list[tuple[date, FileStatus]]:
    return [(date.fromisoformat(d), s) for d, s in _dated_children(fs, source_uri, _DATE_DIR)]


def arrival_hours(fs: FileSystem, date_uri: str) -> list[tuple[int, FileStatus]]:
    return [(int(h), s) for h, s in _dated_children(fs, date_uri, _HOUR_DIR)]


def newest_arrival_date(settings: Settings, fs: FileSystem) -> date | None:
    """The newest arrival date in the landing zone of any source, None when it is empty."""
    days = [
        day
        for source in LANDING_SOURCES
        for day, _ in arrival_dates(fs, lake.landing_path(settings, source))
    ]
    return max(days, default=None)


# ---------------------------------------------------------------------------------------------
# Retention


@dataclass(frozen=True)
class RemovedDay:
    source: str
    arrival_date: str
    uri: str


def apply_retention(
    settings: Settings, fs: FileSystem, as_of: date, policy: Policy = Policy()
) -> list[RemovedDay]:
    """Delete landing arrival dates older than ``as_of - retention_days`` (markers first)."""
    check_as_of(as_of)
    cutoff = as_of - timedelta(days=policy.retention_days)
    removed = []
    for source in LANDING_SOURCES:
        days = arrival_dates(fs, lake.landing_path(settings, source))
        if days:
            # Recorded first: a job asked to rebuild a deleted day refuses instead of
            # publishing it empty, and no sensor takes its hours as closed without data.
            markers.write_retained_from(fs, settings, source, cutoff)
        for day, status in days:
            if day >= cutoff:
                continue
            for hour in range(24):
                marker = lake.done_marker_path(settings, source, day, hour)
                if not marker.startswith(status.uri + "/"):
                    fs.delete(marker)
            fs.delete(status.uri, recursive=True)
            log.info("retention: deleted %s (older than %s)", status.uri, cutoff)
            removed.append(RemovedDay(source, day.isoformat(), status.uri))
    return removed


# ---------------------------------------------------------------------------------------------
# Compaction


@dataclass(frozen=True)
class CompactedHour:
    source: str
    hour: str
    files_before: int
    files_after: int
    rows: int
    bytes_before: int
    bytes_after: int


@dataclass
class CompactionReport:
    compacted: list[CompactedHour] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def compact_landing(
    settings: Settings, fs: FileSystem, as_of: date, policy: Policy = Policy()
) -> CompactionReport:
    """Compact the closed hours of the Kafka landing zone older than the policy's cutoff."""
    check_as_of(as_of)
    cutoff = as_of - timedelta(days=policy.compact_after_days)
    report = CompactionReport()
    for source in KAFKA_SOURCES:
        for day, day_status in arrival_dates(fs, lake.landing_path(settings, source)):
            if day >= cutoff:
                continue
            report.recovered += _recover(fs, day_status.uri)
            for hour, hour_status in arrival_hours(fs, day_status.uri):
                label = f"{source} {day.isoformat()}T{hour:02d}"
                if not fs.exists(lake.done_marker_path(settings, source, day, hour)):
                    report.skipped.append({"hour": label, "why": "not closed (no done marker)"})
                    continue
                reason = _compact_hour(
                    fs, day_status.uri, hour_status.uri, source, label, policy, report
                )
                if reason:
                    report.skipped.append({"hour": label, "why": reason})
    return report


def _recover(fs: FileSystem, day_uri: str) -> list[str]:
    """Finish or undo the swap of a compaction that stopped half way."""
    done = []
    entries = {s.name: s for s in fs.list(day_uri)}
    for name in sorted(entries):
        if not name.startswith(STAGING_PREFIX):
            continue
        live = join(day_uri, name.removeprefix(STAGING_PREFIX))
        if fs.exists(live):  # stopped while writing the new folder: drop it
            fs.delete(entries[name].uri, recursive=True)
        else:  # stopped between the two renames: the new folder is complete
            fs.rename(entries[name].uri, live)
        done.append(entries[name].uri)
    for name in sorted(entries):
        if not name.startswith(REPLACED_PREFIX):
            continue
        live = join(day_uri, name.removeprefix(REPLACED_PREFIX))
        if fs.exists(live):  # stopped before deleting the old folder
            fs.delete(entries[name].uri, recursive=True)
        else:
            fs.rename(entries[name].uri, live)
        done.append(entries[name].uri)
    for uri in done:
        log.warning("compaction: repaired an interrupted compaction at %s", uri)
    return done


def _bins(files: Sequence[FileStatus], target: int) -> list[list[FileStatus]]:
    """Consecutive groups of files of at most ``target`` bytes (a bigger file alone)."""
    groups: list[list[FileStatus]] = []
    size = 0
    for f in files:
        if groups and size + f.size <= target:
            groups[-1].append(f)
            size += f.size
        else:
            groups.append([f])
            size = f.size
    return groups


def _snapshot(entries: Sequence[FileStatus]) -> set[tuple[str, int, float]]:
    return {(e.name, e.size, e.mtime_s) for e in entries}


def _compact_hour(
    fs: FileSystem,
    day_uri: str,
    hour_uri: str,
    source: str,
    label: str,
    policy: Policy,
    report: CompactionReport,
) -> str | None:
    """Compact one hour folder; returns why it was skipped, or None when it was compacted."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    entries = fs.list(hour_uri)
    data = [e for e in entries if not e.is_dir and not is_hidden(e.name)]
    if len(data) < 2:
        return None if data else "no data file"
    if any(not e.name.endswith(".parquet") for e in data):
        return "holds files that are not Parquet"
    total = sum(e.size for e in data)
    if total > policy.max_hour_bytes:
        return f"{total} bytes: larger than max_hour_bytes, not a small-file hour"
    if any(e.is_dir for e in entries):
        return "holds sub-folders"

    outputs: list[tuple[str, bytes]] = []
    rows_in = 0
    schema = None
    for index, group in enumerate(_bins(data, policy.target_file_bytes)):
        tables = []
        int96 = False
        for f in group:
            parquet = pq.ParquetFile(pa.BufferReader(fs.read(f.uri)))
            int96 = int96 or any(
                parquet.schema.column(i).physical_type == "INT96"
                for i in range(len(parquet.schema))
            )
            table = parquet.read()
            if schema is None:
                schema = table.schema
            elif not table.schema.equals(schema, check_metadata=False):
                return f"{f.name} has another schema than the hour's first file"
            rows_in += table.num_rows
            tables.append(table)
        sink = io.BytesIO()
        pq.write_table(
            pa.concat_tables(tables),
            sink,
            compression="snappy",
            use_deprecated_int96_timestamps=int96,
        )
        payload = sink.getvalue()
        digest = hashlib.sha256(payload).hexdigest()[:12]
        outputs.append((f"part-{index:05d}-compacted-{digest}.snappy.parquet", payload))

    rows_out = sum(pq.read_metadata(pa.BufferReader(p)).num_rows for _, p in outputs)
    if rows_out != rows_in:
        raise RuntimeError(f"compaction of {label}: wrote {rows_out} rows for {rows_in}")

    hour_name = hour_uri.rstrip("/").rsplit("/", 1)[-1]
    staging = join(day_uri, STAGING_PREFIX + hour_name)
    replaced = join(day_uri, REPLACED_PREFIX + hour_name)
    if fs.exists(staging):
        fs.delete(staging, recursive=True)
    for name, payload in outputs:
        fs.create(join(staging, name), payload)
    # Markers and other bookkeeping files move with the hour; checksums of old files do not.
    for e in entries:
        if is_hidden(e.name) and not e.is_dir and not e.name.endswith(".crc"):
            fs.create(join(staging, e.name), fs.read(e.uri))
    written = {s.name: s.size for s in fs.list(staging)}
    for name, payload in outputs:
        if written.get(name) != len(payload):
            raise RuntimeError(f"compaction of {label}: {name} was not written whole")

    # A landing run that reopened the hour meanwhile (a late record) would lose its file in
    # the swap: then leave the hour as it is. The spark pool keeps landing out anyway.
    if _snapshot(fs.list(hour_uri)) != _snapshot(entries):
        fs.delete(staging, recursive=True)
        return "changed while being compacted (a landing run wrote to it); left as it was"
    fs.rename(hour_uri, replaced)
    fs.rename(staging, hour_uri)
    fs.delete(replaced, recursive=True)
    compacted = CompactedHour(
        source=source,
        hour=label.split(" ", 1)[1],
        files_before=len(data),
        files_after=len(outputs),
        rows=rows_in,
        bytes_before=total,
        bytes_after=sum(len(p) for _, p in outputs),
    )
    log.info("compaction: %s", compacted)
    report.compacted.append(compacted)
    return None


# ---------------------------------------------------------------------------------------------
# Quarantine summary


@dataclass(frozen=True)
class QuarantinedRecords:
    source: str
    reason: str
    records: int


@dataclass(frozen=True)
class UnreadableFiles:
    source: str
    arrival_date: str
    files: int
    bytes: int


@dataclass
class QuarantineSummary:
    first_day: str
    last_day: str
    # from adtech.quarantine, by owner day in the window
    records: list[QuarantinedRecords] = field(default_factory=list)
    # whole files set aside as unreadable, by arrival date in the window
    files: list[UnreadableFiles] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        out = [f"quarantine {self.first_day} .. {self.last_day}"]
        out.append(f"  records: {sum(r.records for r in self.records)}")
        for r in self.records:
            out.append(f"    {r.source:<14} {r.reason:<24} {r.records:>10}")
        out.append(f"  unreadable files: {sum(f.files for f in self.files)}")
        for f in self.files:
            out.append(f"    {f.source:<14} {f.arrival_date:<24} {f.files:>10} ({f.bytes} bytes)")
        return out


QUARANTINE_QUERY = """
SELECT source, reason, COUNT(*) AS records
FROM {database}.quarantine
WHERE dt BETWEEN DATE '{first}' AND DATE '{last}'
GROUP BY source, reason
ORDER BY source, reason
"""


def summarise_quarantine(
    cursor: Any, settings: Settings, fs: FileSystem, as_of: date, policy: Policy = Policy()
) -> QuarantineSummary:
    """Quarantined records (through a DB-API cursor on HiveServer2) and files, last days."""
    first = as_of - timedelta(days=policy.quarantine_days - 1)
    cursor.execute(
        QUARANTINE_QUERY.format(
            database=lake.DATABASE, first=first.isoformat(), last=as_of.isoformat()
        )
    )
    summary = QuarantineSummary(first.isoformat(), as_of.isoformat())
    summary.records = [
        QuarantinedRecords(str(source), str(reason), int(n))
        for source, reason, n in cursor.fetchall()
    ]
    day = first
    while day <= as_of:
        for source in LANDING_SOURCES:
            uri = lake.quarantine_path(settings, source, day)
            if fs.exists(uri):
                files = [f for f in fs.list(uri) if not f.is_dir and not is_hidden(f.name)]
                if files:
                    size = sum(f.size for f in files)
                    summary.files.append(UnreadableFiles(source, day.isoformat(), len(files), size))
        day += timedelta(days=1)
    return summary
