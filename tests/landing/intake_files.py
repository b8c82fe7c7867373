"""Tracking CSV files and lake views shared by the intake tests."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

from adplatform import contracts
from adplatform import settings as settings_module
from adplatform.hdfs import FileSystem
from adplatform.landing import markers
from adplatform.landing.tracking import SOURCE, Intake
from adplatform.settings import Settings

HEADER = contracts.TRACKING_CSV_HEADER


def csv_bytes(hour_label: str, rows: int) -> bytes:
    """A whole tracking file with ``rows`` clicks; the content differs per hour and count."""
    lines = [HEADER]
    for i in range(rows):
        ts = f"{hour_label[:4]}-{hour_label[4:6]}-{hour_label[6:8]}T{hour_label[9:11]}:00:{i:02d}Z"
        lines.append(f"click,clk-{hour_label}-{i},{ts},u-1,c-1,imp-{i},,")
    return ("\n".join(lines) + "\n").encode()


def local_settings(root: Path, **overrides: object) -> Settings:
    base = settings_module.load({})
    return base.with_overrides(
        lake_uri=f"file://{root / 'lake'}",
        tracking_inbox=str(root / "inbox"),
        tracking_min_file_age_s=0,
        **overrides,
    )


def intake(settings: Settings, run_id: str = "test-run", **kwargs: object):
    return Intake(settings, run_id, **kwargs).run()


def landed_contents(fs: FileSystem, settings: Settings) -> list[bytes]:
    """Every landed tracking file's bytes (sorted), read through the hour folders."""
    out = []
    for folder in markers.hour_folders(fs, settings, SOURCE).values():
        for f in fs.list(folder):
            if f.name.startswith("tracking_") and f.name.endswith(".csv"):
                out.append(fs.read(f.uri))
    return sorted(out)


def landed_names(fs: FileSystem, settings: Settings) -> dict[str, str]:
    """Landed file path (from the hour folder on) -> sha256 prefix."""
    out = {}
    for hour, folder in markers.hour_folders(fs, settings, SOURCE).items():
        for f in fs.list(folder):
            if f.name.endswith(".csv"):
                key = f"{hour:%Y-%m-%dT%H}/{f.name}"
                out[key] = hashlib.sha256(fs.read(f.uri)).hexdigest()[:12]
    return out


def marker(fs: FileSystem, settings: Settings, hour: datetime) -> dict | None:
    return markers.read_marker(fs, settings, SOURCE, hour)


def reason_files(fs: FileSystem, settings: Settings) -> list[dict]:
    from adplatform import lake

    out = []
    root = lake.quarantine_path(settings, SOURCE)
    try:
        days = fs.list(root)
    except FileNotFoundError:
        return out
    for day in days:
        for f in fs.list(day.uri):
            if f.name.endswith(".reason.json"):
                out.append(json.loads(fs.read(f.uri)))
    return out
