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

When a record (or a second tracking file) lands in an hour that already has a marker, the
marker is rewritten with the new counts and a ``reopened`` entry, and a warning is logged:
the daily run that already read that hour must be run again to take the record
(docs/landing.md, "Late records in a closed hour").
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from adplatform import lake
from adplatform.hdfs import FileStatus, FileSystem, filesystem
from adplatform.landing.hours import hour_floor, utc
from adplatform.settings import Settings

log = logging.getLogger(__name__)

CLOSED_STATE = "_CLOSED"


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
) -> dict[str, Any]:
    """Write the marker of a closed hour; returns the marker the hour now has.

    ``body`` says what the hour holds; ``reason`` why it is closed (``moved_past``,
    ``drained``, or ``late_records`` for a rewrite after records arrived in a closed hour).
    A marker that already says the same (a rerun after a crash) is left as it is; one that
    says less is rewritten with a ``reopened`` entry and a warning. ``first``: the caller
    knows the hour has no marker, so none is read.
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
    text = json.dumps(content, indent=1, sort_keys=False) + "\n"
    fs.write_atomic(marker_path(settings, source, hour), text.encode())
    return content


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


def missing_markers(
    settings: Settings, source: str, hours: Iterable[datetime], fs: FileSystem | None = None
) -> list[datetime]:
    """The hours among ``hours`` that have no done marker yet (for the DAGs' sensors)."""
    fs = fs or filesystem(settings.lake, settings)
    return [h for h in hours if not has_marker(fs, settings, source, h)]
