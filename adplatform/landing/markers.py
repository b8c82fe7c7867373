"""Done markers of closed arrival hours, and how far each landed source is closed.

Layout (paths from ``adplatform.lake``, docs/landing.md):

    landing/<source>/arrival_date=YYYY-MM-DD/arrival_hour=HH/_DONE   one per closed hour
    landing/<source>/_CLOSED                                         the source's frontier

``_DONE`` is JSON: the source, the hour, what it holds (Kafka: records, first and last
offset per partition; tracking: the files), the run that closed it and why. An empty hour
still gets its folder and marker. ``_CLOSED`` holds ``closed_through``: every hour before it
is closed; the next run only looks at hours from there on. Both are replaced atomically
(written under a hidden name, then renamed), and the leading underscore keeps Spark and the
batch jobs' globs from reading them as data.

An hour before the frontier that holds no landed data is closed too, marker or not
(``open_hours``): the source has moved past it and nothing arrived in it, so a quiet source
(no bid requests before day 2, a gap of a week) never leaves a daily run waiting for markers
landing has no reason to write. Retention records the first arrival date it kept
(``landing/<source>/_RETAINED``): an hour before it is gone, never "closed as empty", and a
job asked to rebuild a day from it refuses (``require_retained``).

When a record (or a second tracking file) lands in an hour that was already closed, the
marker is rewritten with the new counts and a ``reopened`` entry, the hour is recorded in
``landing/<source>/_LATE/`` for ``adplatform restate`` (which re-runs the daily runs that
read it), and a warning is logged (docs/landing.md, "Late records in a closed hour").
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from adplatform import lake
from adplatform.errors import UserError
from adplatform.hdfs import FileStatus, FileSystem, filesystem
from adplatform.landing.hours import hour_floor, utc
from adplatform.settings import Settings

log = logging.getLogger(__name__)

CLOSED_STATE = "_CLOSED"
RETAINED_STATE = "_RETAINED"
LATE_FOLDER = "_LATE"


def iso(ts: datetime) -> str:
    """``2025-01-06T07:00:00Z``: the one text form of instants in markers and state."""
    return utc(ts).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


def hour_path(settings: Settings, source: str, hour: datetime) -> str:
    hour = hour_floor(hour)
    return lake.landing_path(settings, source, hour.date(), hour.hour)


def marker_path(settings: Settings, source: str, hour: datetime) -> str:
    hour = hour_floor(hour)
    return lake.done_marker_path(settings, source, hour.date(), hour.hour)


def state_path(settings: Settings, source: str) -> str:
    return f"{lake.landing_path(settings, source)}/{CLOSED_STATE}"


def read_marker(fs: FileSystem, settings: Settings, source: str, hour: datetime) -> dict | None:
    try:
        return json.loads(fs.read(marker_path(settings, source, hour)))
    except FileNotFoundError:
        return None


def write_marker(
    fs: FileSystem,
    settings: Settings,
    source: str,
    hour: datetime,
    body: dict[str, Any],
    *,
    run_id: str,
    reason: str,
    first: bool = False,
    now: datetime | None = None,
    late_records: int | None = None,
) -> dict[str, Any]:
    """Write the marker of a closed hour; returns the marker the hour now has.

    ``body`` says what the hour holds; ``reason`` why it is closed (``moved_past``,
    ``drained``, or ``late_records`` for a rewrite after records arrived in a closed hour).
    A marker that already says the same (a rerun after a crash) is left as it is; one that
    says less is rewritten with a ``reopened`` entry and a warning. ``first``: the caller
    knows the hour has no marker, so none is read. ``late_records``: the caller knows the hour
    was closed and got that many records after it (the Kafka job); the hour is recorded as
    late (``record_late``) even when it was closed without a marker. A reopened marker is
    recorded as late too, with the records or rows it gained.
    """
    now = now or datetime.now(UTC)
    hour = hour_floor(hour)
    previous = None if first else read_marker(fs, settings, source, hour)
    if previous is not None and _summary(previous) == _summary(body):
        return previous
    content: dict[str, Any] = {
        "source": source,
        "arrival_date": hour.date().isoformat(),
        "arrival_hour": f"{hour.hour:02d}",
        "hour_start": iso(hour),
        **body,
        "run_id": run_id,
        "closed_at": iso(now),
        "reason": reason,
    }
    if previous is not None:
        reopened = list(previous.get("reopened", []))
        reopened.append({"run_id": run_id, "at": iso(now), "previous": _summary(previous)})
        content["reopened"] = reopened
        content["first_closed_by"] = previous.get("first_closed_by", previous.get("run_id"))
        log.warning(
            "%s: new data landed in the closed hour %s (run %s); its marker now says %s. "
            "Re-run the daily run(s) that read this hour to take them.",
            source,
            iso(hour),
            run_id,
            _summary(content),
        )
        if late_records is None:
            late_records = _count(content) - _count(previous)
    # A rewrite that gained no record (a file quarantined into the hour) restates nothing.
    if late_records:
        record_late(fs, settings, source, hour, late_records, run_id=run_id, now=now)
    text = json.dumps(content, indent=1, sort_keys=False) + "\n"
    fs.write_atomic(marker_path(settings, source, hour), text.encode())
    return content


def _count(marker: dict[str, Any]) -> int:
    """Kafka records or tracking CSV rows a marker counts."""
    value = marker.get("records", marker.get("rows", 0))
    return value if isinstance(value, int) else 0


def write_new_markers(
    fs: FileSystem,
    settings: Settings,
    source: str,
    closing: Iterable[tuple[datetime, dict[str, Any], str]],
    *,
    run_id: str,
    marked: set[datetime],
    threads: int = 16,
) -> int:
    """Write the markers of the hours a run closes, (hour, body, reason) each.

    ``marked``: the hours that have a marker already (a rerun after a crash during closing
    wrote some); only those are read first. Several at a time: a marker is three round
    trips to HDFS and most of its time is spent waiting (a DataNode takes ~0.4 s to
    confirm a closed file with Hadoop's default client settings), and the first run over a
    few simulated days writes a hundred of them.
    """

    def one(item: tuple[datetime, dict[str, Any], str]) -> None:
        hour, body, reason = item
        first = hour_floor(hour) not in marked
        write_marker(fs, settings, source, hour, body, run_id=run_id, reason=reason, first=first)

    items = list(closing)
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        list(pool.map(one, items))
    return len(items)


def _summary(marker: dict[str, Any]) -> dict[str, Any]:
    keys = ("records", "rows", "files", "quarantined")
    return {k: marker[k] for k in keys if k in marker}


def hour_folders(
    fs: FileSystem, settings: Settings, source: str, since: datetime | None = None
) -> dict[datetime, str]:
    """The hour folders of a source, from the hour ``since`` on (all when None)."""
    return {hour: folder.uri for hour, folder in scan_hours(fs, settings, source, since).items()}


@dataclass(frozen=True)
class HourFolder:
    """An hour folder and its entries (data files, ``_DONE``), from one listing."""

    uri: str
    entries: tuple[FileStatus, ...]

    @property
    def marked(self) -> bool:
        return any(e.name == lake.DONE_MARKER for e in self.entries)

    def files(self, suffix: str) -> list[FileStatus]:
        """Data files: names ending in ``suffix`` that are not hidden (``_``, ``.``)."""
        return [
            e
            for e in self.entries
            if not e.is_dir and e.name.endswith(suffix) and not e.name.startswith(("_", "."))
        ]


def scan_hours(
    fs: FileSystem, settings: Settings, source: str, since: datetime | None = None
) -> dict[datetime, HourFolder]:
    """Every hour folder of a source from the hour ``since`` on, with what it holds."""
    root = lake.landing_path(settings, source)
    try:
        days = fs.list(root)
    except FileNotFoundError:
        return {}
    found = {}
    for day in days:
        if not (day.is_dir and day.name.startswith("arrival_date=")):
            continue
        date_text = day.name.removeprefix("arrival_date=")
        if since is not None and date_text < since.date().isoformat():
            continue
        for entry in fs.list(day.uri):
            if entry.is_dir and entry.name.startswith("arrival_hour="):
                hour = datetime.fromisoformat(date_text).replace(
                    hour=int(entry.name.removeprefix("arrival_hour=")), tzinfo=UTC
                )
                if since is None or hour >= since:
                    found[hour] = HourFolder(entry.uri, tuple(fs.list(entry.uri)))
    return found


def has_marker(fs: FileSystem, settings: Settings, source: str, hour: datetime) -> bool:
    return fs.exists(marker_path(settings, source, hour))


def read_closed_through(fs: FileSystem, settings: Settings, source: str) -> datetime | None:
    """Every hour of the source before this is closed; None before its first closed hour."""
    try:
        state = json.loads(fs.read(state_path(settings, source)))
    except FileNotFoundError:
        return None
    return parse_iso(state["closed_through"])


def write_closed_through(
    fs: FileSystem, settings: Settings, source: str, closed_through: datetime, run_id: str
) -> None:
    state = {
        "source": source,
        "closed_through": iso(closed_through),
        "run_id": run_id,
        "updated_at": iso(datetime.now(UTC)),
    }
    fs.write_atomic(state_path(settings, source), (json.dumps(state) + "\n").encode())


def retained_path(settings: Settings, source: str) -> str:
    return f"{lake.landing_path(settings, source)}/{RETAINED_STATE}"


def read_retained_from(fs: FileSystem, settings: Settings, source: str) -> date | None:
    """The first arrival date retention kept of the source; None if it never ran."""
    try:
        state = json.loads(fs.read(retained_path(settings, source)))
    except FileNotFoundError:
        return None
    return date.fromisoformat(state["retained_from"])


def write_retained_from(fs: FileSystem, settings: Settings, source: str, day: date) -> date:
    """Record that arrival dates before ``day`` are (being) deleted; returns what is recorded.

    Written before retention deletes anything, and never moved back: a run with a longer
    retention cannot bring back what an earlier run deleted.
    """
    previous = read_retained_from(fs, settings, source)
    if previous is not None and previous >= day:
        return previous
    state = {
        "source": source,
        "retained_from": day.isoformat(),
        "updated_at": iso(datetime.now(UTC)),
    }
    fs.write_atomic(retained_path(settings, source), (json.dumps(state) + "\n").encode())
    return day


def require_retained(
    settings: Settings,
    source: str,
    hours: Iterable[datetime],
    what: str,
    fs: FileSystem | None = None,
) -> None:
    """Refuse (``UserError``, one line) to rebuild ``what`` from hours retention deleted.

    The day's landing is gone: reading it would give nothing, and replacing the curated
    partitions with that would erase the day. Nothing is changed.
    """
    hours = sorted(hour_floor(h) for h in hours)
    if not hours:
        return
    fs = fs or filesystem(settings.lake, settings)
    retained = read_retained_from(fs, settings, source)
    if retained is not None and hours[0].date() < retained:
        raise UserError(
            f"{what} reads {source} arrival hours from {iso(hours[0])}, but landing retention "
            f"deleted every arrival date before {retained}: refusing to replace the day's "
            "curated data with nothing (it is left as it is). Restore the raw data into "
            f"{lake.landing_path(settings, source)} first, or do not re-run this day "
            "(docs/landing.md, Retention)"
        )


def holds_data(fs: FileSystem, settings: Settings, source: str, hour: datetime) -> bool:
    """Whether the hour folder holds a landed data file (anything not hidden)."""
    try:
        entries = fs.list(hour_path(settings, source, hour))
    except FileNotFoundError:
        return False
    return any(not e.name.startswith(("_", ".")) for e in entries)


def open_hours(
    settings: Settings, source: str, hours: Iterable[datetime], fs: FileSystem | None = None
) -> list[datetime]:
    """The hours among ``hours`` that are not closed yet, oldest first (for the sensors).

    Closed: the hour has its done marker; or it lies before the source's frontier
    (``_CLOSED``: every partition moved past it or was drained beyond it), holds no landed
    data, and is not older than what retention kept: closed as empty. An unmarked hour that
    holds data is open (a late batch is being committed into it, or a run was killed while
    closing), and so is every hour from the frontier on: one partition that is behind holds
    the frontier for the whole topic (``hours.kafka_frontier``).
    """
    fs = fs or filesystem(settings.lake, settings)
    unmarked = missing_markers(settings, source, sorted({hour_floor(h) for h in hours}), fs)
    if not unmarked:
        return []
    frontier = read_closed_through(fs, settings, source)
    retained = read_retained_from(fs, settings, source)

    def closed_empty(hour: datetime) -> bool:
        return (
            frontier is not None
            and hour < frontier
            and (retained is None or hour.date() >= retained)
            and not holds_data(fs, settings, source, hour)
        )

    return [h for h in unmarked if not closed_empty(h)]


@dataclass(frozen=True)
class LateHour:
    """An arrival hour that got records after it was closed, waiting for its restatement."""

    source: str
    hour: datetime
    records: int
    run_id: str
    uri: str
    text: bytes


def late_path(settings: Settings, source: str, hour: datetime | None = None) -> str:
    folder = f"{lake.landing_path(settings, source)}/{LATE_FOLDER}"
    return folder if hour is None else f"{folder}/{hour_floor(hour):%Y-%m-%dT%H}.json"


def record_late(
    fs: FileSystem,
    settings: Settings,
    source: str,
    hour: datetime,
    records: int,
    *,
    run_id: str,
    now: datetime | None = None,
) -> None:
    """Record that ``records`` landed in the closed ``hour`` (replaces an older entry)."""
    entry = {
        "source": source,
        "hour": iso(hour_floor(hour)),
        "records": int(records),
        "run_id": run_id,
        "at": iso(now or datetime.now(UTC)),
    }
    fs.write_atomic(late_path(settings, source, hour), (json.dumps(entry) + "\n").encode())


def late_hours(fs: FileSystem, settings: Settings, source: str) -> list[LateHour]:
    """The recorded late hours of a source not restated yet, oldest first."""
    try:
        entries = fs.list(late_path(settings, source))
    except FileNotFoundError:
        return []
    found = []
    for entry in entries:
        if entry.is_dir or not entry.name.endswith(".json") or entry.name.startswith((".", "_")):
            continue
        text = fs.read(entry.uri)
        body = json.loads(text)
        found.append(
            LateHour(
                source,
                parse_iso(body["hour"]),
                int(body["records"]),
                body["run_id"],
                entry.uri,
                text,
            )
        )
    return sorted(found, key=lambda h: h.hour)


def forget_late(fs: FileSystem, late: LateHour) -> bool:
    """Drop a restated late hour, unless more records were recorded in it meanwhile."""
    try:
        if fs.read(late.uri) != late.text:
            return False
    except FileNotFoundError:
        return True
    fs.delete(late.uri)
    return True


def missing_markers(
    settings: Settings, source: str, hours: Iterable[datetime], fs: FileSystem | None = None
) -> list[datetime]:
    """The hours among ``hours`` that have no done marker yet (for the DAGs' sensors)."""
    fs = fs or filesystem(settings.lake, settings)
    return [h for h in hours if not has_marker(fs, settings, source, h)]
