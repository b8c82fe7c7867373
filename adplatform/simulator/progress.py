"""A progress bar on stderr that needs no extra package."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """``label [#####.....]  52%  3120/6000  1.4 s``; redrawn in place on a terminal,
    printed every 10 % otherwise (logs, CI)."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None) -> None:
        self.total = max(total, 1)
        self.label = label
        self.stream = stream or sys.stderr
        self.done = 0
        self.started = time.monotonic()
        self.tty = self.stream.isatty()
        self._last_decile = -1

    def __call__(self, n: int) -> None:
        self.done += n
        fraction = min(self.done / self.total, 1.0)
        if self.tty:
            self.stream.write("\r" + self._line(fraction))
            self.stream.flush()
        elif int(fraction * 10) > self._last_decile:
            self._last_decile = int(fraction * 10)
            self.stream.write(self._line(fraction) + "\n")

    def _line(self, fraction: float) -> str:
        filled = int(fraction * 30)
        elapsed = time.monotonic() - self.started
        return (
            f"{self.label} [{'#' * filled}{'.' * (30 - filled)}] {fraction:4.0%} "
            f"{self.done}/{self.total} {elapsed:.1f} s"
        )

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
