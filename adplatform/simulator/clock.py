"""Simulated time as integer milliseconds since the Unix epoch (UTC), and its text forms."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECOND_MS = 1000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS


def day_start_ms(day: date) -> int:
    return (day - EPOCH.date()).days * DAY_MS


def ms_to_datetime(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def ms_to_date(ms: int) -> date:
    return EPOCH.date() + timedelta(days=ms // DAY_MS)


def hour_floor(ms: int) -> int:
    return ms - ms % HOUR_MS


def iso_ms(ms: int, offset_minutes: int = 0) -> str:
    """``2025-01-01T13:45:12.345Z``, or with ``+01:00`` as an ad server in that zone logs it."""
    local = EPOCH + timedelta(milliseconds=ms + offset_minutes * MINUTE_MS)
    text = f"{local:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}"
    if offset_minutes == 0:
        return text + "Z"
    sign = "+" if offset_minutes > 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"{text}{sign}{hours:02d}:{minutes:02d}"


def hour_label(ms: int) -> str:
    """``20250101_13``: the hour of a timestamp, as file names use it."""
    return f"{ms_to_datetime(ms):%Y%m%d_%H}"
