"""Tracking CSV intake: hourly files from the inbox into the landing zone, each exactly once.

The click-tracking system drops one file per arrival hour, ``tracking_YYYYMMDD_HH.csv``
(docs/data-contracts.md 1.3), into the inbox (``ADPLATFORM_TRACKING_INBOX``: a local folder,
``file://`` or ``hdfs://``; by default the lake's ``inbox/tracking``). One intake run:

1. lists the inbox. A file is **still being written**, and left alone (counted and logged
   as pending), when it ends in ``.part`` (writers that can, write ``name.csv.part`` and
   rename it to ``name.csv`` when it is complete; ``hdfs dfs -put`` does the same with
   ``._COPYING_``), when its name starts with ``.`` or ``_`` (the hidden or temporary name
   other writers, rsync and Spark use until their rename), when it changed less than
   ``tracking_min_file_age_s`` ago (for writers that cannot rename), or when its size
   changes while it is read. The extension is read without case (``.CSV``), and a
   ``.csv.gz`` file is decompressed: both land as ``tracking_YYYYMMDD_HH.csv``;
2. reads each complete file (decompressed) and its SHA-256. A checksum already in the ledger
   (``landing/tracking/_ledger/<sha256>.json``) is a **duplicate**: the file is removed from
   the inbox once the ledger's copy is verified to exist, and never landed again;
3. checks that the file is whole and readable: not empty, ends with a line end (the format
   has no trailer, so a file cut anywhere but at a line end is **truncated**), starts with the
   header (each column name may be quoted), and is named after its hour; a ``\\r`` alone
   ends a line too. A file that fails, or a ``.gz`` that does not decompress, goes to
   **quarantine** as it arrived
   (``quarantine/tracking/arrival_date=YYYY-MM-DD/<name>`` plus ``<name>.reason.json``);
   bad rows inside a good file are the clean job's business, not the intake's;
4. lands a good file by its hour: written under ``landing/tracking/_tmp/``, its size and
   checksum read back and compared, then renamed to
   ``landing/tracking/arrival_date=YYYY-MM-DD/arrival_hour=HH/tracking_YYYYMMDD_HH.csv``
   (a second, different file of the same hour gets ``-<sha256 prefix>`` before ``.csv``);
5. records the checksum in the ledger, and only then deletes the file from the inbox;
6. closes the hours that are complete and writes their done markers
   (``adplatform.landing.hours``).

Every step can be interrupted and the run started again: a landed file whose ledger entry
is missing is recognised by its name and content, a ledger entry without its inbox
deletion just makes the file a verified duplicate, and temporary files are overwritten.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from adplatform import contracts, lake
from adplatform.hdfs import FileStatus, FileSystem, filesystem, join
from adplatform.landing import hours as hour_rules
from adplatform.landing import markers
from adplatform.settings import Settings

log = logging.getLogger(__name__)

SOURCE = lake.TRACKING_SOURCE
# Names of files still being written: the inbox's write-then-rename convention, and what
# `hdfs dfs -put` writes before its own rename.
IN_PROGRESS_SUFFIXES = (".part", "._COPYING_")
# ... and the prefixes of hidden or temporary names, renamed when the file is complete.
IN_PROGRESS_PREFIXES = (".", "_")
# Extensions the intake takes, read without case: name -> (landed name, compressed).
_EXTENSION = re.compile(r"^(?P<stem>.+)\.csv(?P<gz>\.gz)?$", re.IGNORECASE)
# A writer that quotes every field (QUOTE_ALL) quotes the header too.
FILE_NAME = re.compile(contracts.tracking_csv_spec()["file_name_regex"])
# The hour in a file name, also in the names the intake derives (``-<sha>.csv``, ``.reason.json``).
_HOUR_IN_NAME = re.compile(r"tracking_([0-9]{8})_([0-9]{2})")
TMP_MAX_AGE = timedelta(hours=1)
# A file still being written after this long is reported: its writer may have died.
STALE_PENDING = timedelta(hours=1)


class Reason:
    """Why a whole tracking file is quarantined (the reasons of single rows are contracts')."""

    EMPTY_FILE = "empty_file"
    TRUNCATED = "truncated"
    BAD_HEADER = "bad_header"
    BAD_FILE_NAME = "bad_file_name"
    BAD_GZIP = "bad_gzip"
    DUPLICATE_OF_MISSING = "duplicate_of_missing_file"


def landed_name(name: str) -> tuple[str, bool] | None:
    """(the name a file lands under, whether it is gzip) for a ``.csv`` or ``.csv.gz`` name
    in any case, else None."""
    match = _EXTENSION.match(name)
    if match is None:
        return None
    return f"{match['stem']}.csv", match["gz"] is not None


def inspect(name: str, data: bytes) -> tuple[str, str] | None:
    """(reason, detail) when the file (its landed name, its bytes decompressed) can not be
    landed as it is, else None."""
    if not FILE_NAME.match(name) or file_hour(name) is None:
        return Reason.BAD_FILE_NAME, f"{name!r} is not tracking_YYYYMMDD_HH.csv"
    if not data:
        return Reason.EMPTY_FILE, "the file is empty (not even the header)"
    if not data.endswith((b"\n", b"\r")):
        tail = contracts.TRACKING_CSV_LINE_END.split(data)[-1][-60:]
        return (
            Reason.TRUNCATED,
            f"the last line has no line end (cut after {len(data)} bytes: ...{tail!r})",
        )
    header = contracts.TRACKING_CSV_LINE_END.split(data, maxsplit=1)[0]
    if header.decode(errors="replace") not in contracts.TRACKING_CSV_HEADERS:
        return Reason.BAD_HEADER, f"first line is {header[:200]!r}, not the tracking header"
    return None


def data_rows(data: bytes) -> int:
    """Records in a file: non-blank lines after the header; ``\\r\\n``, ``\\n`` and a bare
    ``\\r`` end a line (docs/data-contracts.md 1.3)."""
    return sum(1 for line in contracts.TRACKING_CSV_LINE_END.split(data)[1:] if line)


def file_hour(name: str) -> datetime | None:
    """The UTC hour a tracking file name stands for, or None."""
    match = _HOUR_IN_NAME.search(name)
    if not match:
        return None
    try:
        return datetime.strptime("".join(match.groups()), "%Y%m%d%H").replace(tzinfo=UTC)
    except ValueError:
        return None


def ledger_key(name: str, data: bytes, sha256: str, rows: int) -> str:
    """What the ledger knows a file by: its content's SHA-256. An hour without rows is
    delivered as the header alone, the same bytes every hour, so an empty file is known by
    its name too: the same empty file dropped twice is still a duplicate, the empty files of
    two hours are not."""
    if rows:
        return sha256
    return hashlib.sha256(name.encode() + b"\0" + data).hexdigest()


def ledger_path(settings: Settings, sha256: str) -> str:
    return f"{lake.landing_path(settings, SOURCE)}/_ledger/{sha256}.json"


def tmp_path(settings: Settings, name: str, sha256: str) -> str:
    return f"{lake.landing_path(settings, SOURCE)}/_tmp/{name}.{sha256[:16]}"


def quarantine_folder(settings: Settings, hour: datetime | None, now: datetime) -> str:
    """Quarantine folder of a file: by the date of its hour, or of the intake run."""
    return lake.quarantine_path(settings, SOURCE, (hour or now).date())


def inbox_uri(settings: Settings) -> str:
    return settings.tracking_inbox or lake.inbox_path(settings)


@dataclass
class Held:
    """What an arrival hour holds: landed files and reason files of quarantined ones."""

    files: list[FileStatus] = field(default_factory=list)
    quarantined: list[FileStatus] = field(default_factory=list)
    marked: bool = False

    @property
    def has_files(self) -> bool:
        return bool(self.files or self.quarantined)


@dataclass
class IntakeResult:
    landed: list[dict] = field(default_factory=list)
    duplicates: list[dict] = field(default_factory=list)
    quarantined: list[dict] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    frontier: datetime | None = None
    markers_written: int = 0
    rows_read: int = 0

    def rows(self, kind: str) -> int:
        return sum(f["rows"] for f in getattr(self, kind))

    def summary(self) -> str:
        closed = markers.iso(self.frontier) if self.frontier else "nothing yet"
        return (
            f"{len(self.landed)} files landed ({self.rows('landed')} rows), "
            f"{len(self.duplicates)} duplicates, {len(self.quarantined)} quarantined, "
            f"{len(self.pending)} still being written, {len(self.ignored)} ignored; "
            f"closed through {closed}, {self.markers_written} markers written"
        )


class Intake:
    """One run of the intake; ``run()`` does the steps of the module docstring."""

    def __init__(
        self,
        settings: Settings,
        run_id: str,
        *,
        inbox: str | None = None,
        until: datetime | None = None,
        min_age_s: float | None = None,
        inbox_fs: FileSystem | None = None,
        lake_fs: FileSystem | None = None,
        clock: Callable[[], float] = time.time,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.run_id = run_id
        self.inbox = (inbox or inbox_uri(settings)).rstrip("/")
        self.inbox_fs = inbox_fs or filesystem(self.inbox, settings)
        self.fs = lake_fs or filesystem(settings.lake, settings)
        self.clock = clock
        self.started = datetime.fromtimestamp(clock(), UTC)
        # The run empties the inbox as it is now, so it vouches for nothing later.
        self.drained_until = min(hour_rules.utc(until), self.started) if until else self.started
        self.min_age_s = settings.tracking_min_file_age_s if min_age_s is None else min_age_s
        self.progress = progress or (lambda line: None)
        self.closed_through = markers.read_closed_through(self.fs, settings, SOURCE)
        self.result = IntakeResult()
        self._pending_hours: list[datetime] = []

    # -- the run -----------------------------------------------------------------------------

    def run(self) -> IntakeResult:
        self._remove_stale_tmp()
        for entry in _list_or_empty(self.inbox_fs, self.inbox):
            if entry.is_dir:
                continue
            if entry.name.startswith(IN_PROGRESS_PREFIXES):
                log.info(
                    "inbox %s: %s has a hidden or temporary name, a write not yet renamed; "
                    "left until it is",
                    self.inbox,
                    entry.name,
                )
                self.progress(f"left {entry.name}: a hidden or temporary name, not yet renamed")
                self._pending(entry)
            elif entry.name.endswith(IN_PROGRESS_SUFFIXES) or self._too_young(entry):
                self._pending(entry)
            elif landed_name(entry.name) is None:
                log.warning(
                    "inbox %s: %s is not a .csv or .csv.gz file; left alone",
                    self.inbox,
                    entry.name,
                )
                self.result.ignored.append(entry.name)
            else:
                self._take(entry)
        self.result.frontier = self._close()
        return self.result

    def _too_young(self, entry: FileStatus) -> bool:
        return self.clock() - entry.mtime_s < self.min_age_s

    def _pending(self, entry: FileStatus) -> None:
        self.result.pending.append(entry.name)
        hour = file_hour(entry.name)
        if hour is not None:
            self._pending_hours.append(hour)
        idle_s = self.clock() - entry.mtime_s
        if idle_s > STALE_PENDING.total_seconds():
            log.warning(
                "inbox %s: %s has not changed for %.0f h and holds the tracking hours from %s "
                "open; if its writer died, complete and rename it or remove it",
                self.inbox,
                entry.name,
                idle_s / 3600,
                markers.iso(hour) if hour else "its hour",
            )

    def _take(self, entry: FileStatus) -> None:
        raw = self.inbox_fs.read(entry.uri)
        if len(raw) != entry.size:
            self._pending(entry)  # still growing: the next run takes it
            return
        name, compressed = landed_name(entry.name) or (entry.name, False)
        data, problem = raw, None
        if compressed:
            try:
                data = gzip.decompress(raw)
            except (OSError, EOFError, zlib.error) as error:
                problem = Reason.BAD_GZIP, f"not a whole gzip file ({error})"
        # The content is what the ledger knows: the same rows sent plain and gzipped are
        # one file.
        sha = hashlib.sha256(data).hexdigest()
        rows = data_rows(data) if problem is None else 0
        key = ledger_key(name, data, sha, rows)
        self.result.rows_read += rows
        earlier = self._ledger_entry(key)
        if earlier is not None:
            kept = self.fs.status(earlier["path"])
            if kept is not None and kept.size == earlier["bytes"]:
                self._duplicate(entry, sha, rows, earlier)
            else:
                detail = f"same content as {earlier['name']}, whose copy {earlier['path']} is gone"
                self._quarantine(entry, raw, key, rows, Reason.DUPLICATE_OF_MISSING, detail)
            return
        problem = problem or inspect(name, data)
        if problem is not None:
            self._quarantine(entry, raw, key, rows, *problem)
            return
        hour = file_hour(name)
        assert hour is not None  # inspect() checked the name
        target = self._copy(markers.hour_path(self.settings, SOURCE, hour), name, data, sha)
        record = {"status": "landed", "name": entry.name, "path": target, "bytes": len(data)}
        record.update(rows=rows, sha256=sha, hour=markers.iso(hour))
        self._ledger(ledger_key(name, data, sha, rows), record)
        self._mark_if_late(hour)
        self.inbox_fs.delete(entry.uri)
        self.result.landed.append(record)
        self.progress(f"landed {entry.name} -> {target} ({rows} rows)")

    def _duplicate(self, entry: FileStatus, sha: str, rows: int, earlier: dict) -> None:
        self.inbox_fs.delete(entry.uri)
        self.result.duplicates.append({"name": entry.name, "rows": rows, "sha256": sha})
        log.warning(
            "inbox %s: %s has the content of %s, already %s at %s: not ingested again",
            self.inbox,
            entry.name,
            earlier["name"],
            earlier["status"],
            earlier["path"],
        )

    def _quarantine(
        self, entry: FileStatus, data: bytes, key: str, rows: int, reason: str, detail: str
    ) -> None:
        """Keep the file's bytes as they arrived (``data``), with the reason; ``key`` is
        what the ledger knows its content by."""
        sha = hashlib.sha256(data).hexdigest()
        hour = file_hour(entry.name)
        folder = quarantine_folder(self.settings, hour, self.started)
        target = self._copy(folder, entry.name, data, sha)
        record = {"status": "quarantined", "name": entry.name, "path": target, "bytes": len(data)}
        record.update(rows=rows, sha256=sha, hour=markers.iso(hour) if hour else None)
        record.update(reason=reason, detail=detail, run_id=self.run_id)
        record["quarantined_at"] = markers.iso(self.started)
        text = json.dumps(record, indent=1) + "\n"
        self.fs.write_atomic(f"{target}.reason.json", text.encode())
        if reason != Reason.DUPLICATE_OF_MISSING:
            self._ledger(key, record)
        if hour is not None:
            self._mark_if_late(hour)
        self.inbox_fs.delete(entry.uri)
        self.result.quarantined.append(record)
        log.warning("inbox %s: %s quarantined (%s): %s", self.inbox, entry.name, reason, detail)

    def _copy(self, folder: str, name: str, data: bytes, sha: str) -> str:
        """Put the bytes in ``folder`` under the file's name; returns where (idempotent).

        Written to a temporary file, read back and compared, then renamed: the target name
        never holds a partial file. A different file that already has the name makes this
        one ``<stem>-<sha prefix>.csv``. Names depend only on the content, so a rerun after a
        crash finds what the interrupted run copied instead of copying it again.
        """
        stem = (landed_name(name) or (name, False))[0].removesuffix(".csv")
        for candidate in (name, f"{stem}-{sha[:16]}.csv"):
            target = join(folder, candidate)
            if self.fs.status(target) is None:
                tmp = tmp_path(self.settings, name, sha)
                self.fs.create(tmp, data, overwrite=True)
                self._verify(tmp, data, sha)
                self.fs.rename(tmp, target)
                return target
            if self.fs.sha256(target) == sha:
                return target
        raise FileExistsError(f"{folder}: two other files already have the name {name}")

    def _verify(self, uri: str, data: bytes, sha: str) -> None:
        status = self.fs.status(uri)
        if status is None or status.size != len(data) or self.fs.sha256(uri) != sha:
            raise OSError(f"{uri}: the copy in the lake differs from the inbox file")

    def _ledger_entry(self, sha: str) -> dict | None:
        try:
            return json.loads(self.fs.read(ledger_path(self.settings, sha)))
        except FileNotFoundError:
            return None

    def _ledger(self, sha: str, record: dict) -> None:
        entry = {**record, "run_id": self.run_id, "at": markers.iso(self.started)}
        self.fs.write_atomic(ledger_path(self.settings, sha), (json.dumps(entry) + "\n").encode())

    def _remove_stale_tmp(self) -> None:
        folder = f"{lake.landing_path(self.settings, SOURCE)}/_tmp"
        for entry in _list_or_empty(self.fs, folder):
            if self.clock() - entry.mtime_s > TMP_MAX_AGE.total_seconds():
                self.fs.delete(entry.uri)

    # -- closing hours -----------------------------------------------------------------------

    def _held(self, since: datetime | None, only: datetime | None = None) -> dict[datetime, Held]:
        """Hour folders (files, marker) and quarantined files by hour, from ``since`` on, or
        of the hour ``only``."""
        held: dict[datetime, Held] = {}
        if only is not None:
            path = markers.hour_path(self.settings, SOURCE, only)
            scanned = {only: markers.HourFolder(path, tuple(_list_or_empty(self.fs, path)))}
            since = only
        else:
            scanned = markers.scan_hours(self.fs, self.settings, SOURCE, since)
        for hour, folder in scanned.items():
            files = [f for f in folder.files(".csv") if f.name.startswith("tracking_")]
            held[hour] = Held(files=files, marked=folder.marked)
        root = lake.quarantine_path(self.settings, SOURCE)
        for day in _list_or_empty(self.fs, root):
            date_text = day.name.removeprefix("arrival_date=")
            if since is not None and date_text < since.date().isoformat():
                continue
            for f in _list_or_empty(self.fs, day.uri):
                hour = file_hour(f.name)
                if not f.name.endswith(".reason.json") or hour is None:
                    continue
                if (only is None and (since is None or hour >= since)) or hour == only:
                    held.setdefault(hour, Held()).quarantined.append(f)
        return held

    def _marker_body(self, held: Held | None) -> dict:
        held = held or Held()
        files = [
            {"name": f.name, "bytes": f.size, "rows": data_rows(self.fs.read(f.uri))}
            for f in held.files
        ]
        quarantined = []
        for f in held.quarantined:
            why = json.loads(self.fs.read(f.uri))
            quarantined.append({"name": why["name"], "reason": why["reason"], "path": why["path"]})
        return {"rows": sum(f["rows"] for f in files), "files": files, "quarantined": quarantined}

    def _mark_if_late(self, hour: datetime) -> None:
        """A file of an hour that is already closed: (re)write that hour's marker now."""
        if self.closed_through is not None and hour < self.closed_through:
            body = self._marker_body(self._held(None, only=hour).get(hour))
            markers.write_marker(
                self.fs,
                self.settings,
                SOURCE,
                hour,
                body,
                run_id=self.run_id,
                reason="late_records",
            )
            self.result.markers_written += 1

    def _close(self) -> datetime | None:
        held = self._held(self.closed_through)
        data_hours = {hour for hour, h in held.items() if h.has_files}
        newest = max(data_hours, default=None)
        frontier = hour_rules.tracking_frontier(newest, self._pending_hours, self.drained_until)
        if frontier is None or (self.closed_through and frontier <= self.closed_through):
            return self.closed_through
        start = self.closed_through or hour_rules.first_hour(data_hours, frontier)
        closing = [
            (
                hour,
                self._marker_body(held.get(hour)),
                "moved_past" if newest is not None and hour <= newest else "drained",
            )
            for hour in hour_rules.hours_to_mark(start, frontier, data_hours)
        ]
        self.result.markers_written += markers.write_new_markers(
            self.fs,
            self.settings,
            SOURCE,
            closing,
            run_id=self.run_id,
            marked={hour for hour, h in held.items() if h.marked},
        )
        markers.write_closed_through(self.fs, self.settings, SOURCE, frontier, self.run_id)
        self.closed_through = frontier
        return frontier


def _list_or_empty(fs: FileSystem, uri: str) -> list[FileStatus]:
    try:
        return fs.list(uri)
    except FileNotFoundError:
        return []
