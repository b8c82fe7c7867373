"""A rewrite of a day killed with SIGKILL midway never shows a reader an empty or half day
(issue 20, docs/chaos.md "Replacing a day under a reader").

A reader queries the day's row count through HiveServer2 (the stack's Spark Thrift Server,
which caches file listings) in a loop while a child process replaces the day through the
stack's metastore: once to completion, once killed with SIGKILL while its tasks write, and
once more (the retry). The reader sees only the old count, then only the new one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import pytest
from pyhive import hive

from adplatform.landing import kafka_job
from tests.chaos.conftest import PSEUDONYM_KEY, hive_initialised

pytestmark = [pytest.mark.stack, pytest.mark.slow]

APP = Path(__file__).parent / "apps" / "overwrite_day.py"
TABLE = "adtech.impressions"
D = date(2023, 6, 20)  # no other test writes this day
OLD_ROWS, NEW_ROWS = 1000, 1500
READS_AROUND_EACH_STEP = 3


@pytest.fixture(scope="module")
def sql_stack(test_stack):
    settings = test_stack.require("spark-thrift").with_overrides(pseudonym_key=PSEUDONYM_KEY)
    return hive_initialised(settings)


class Reader(threading.Thread):
    """Counts the day's rows through HiveServer2 until stopped; every answer is kept."""

    def __init__(self, settings) -> None:
        super().__init__(daemon=True)
        self.settings = settings
        self.counts: list[int | str] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        conn = hive.connect(
            host=self.settings.host, port=self.settings.thrift_port, username="analyst"
        )
        try:
            cursor = conn.cursor()
            while not self.stopped.is_set():
                try:
                    cursor.execute(f"SELECT count(*) FROM {TABLE} WHERE dt = '{D}'")
                    self.counts.append(cursor.fetchall()[0][0])
                except Exception as exc:  # a failed read is a finding, not a crash
                    self.counts.append(f"error: {exc}"[:300])
        finally:
            conn.close()

    def wait_for_reads(self, more: int, timeout_s: float = 60) -> None:
        target = len(self.counts) + more
        deadline = time.monotonic() + timeout_s
        while len(self.counts) < target:
            assert time.monotonic() < deadline, f"the reader is stuck at {self.counts[-5:]}"
            time.sleep(0.05)


def _overwrite(settings, rows: int, marker: Path | None = None) -> subprocess.Popen:
    args = [sys.executable, str(APP), TABLE, D.isoformat(), str(rows)]
    return subprocess.Popen(
        args + ([str(marker)] if marker else []),
        env=kafka_job.environment(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _finish(proc: subprocess.Popen, rows: int) -> None:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-4000:]
    assert f"RESULT rows={rows}" in out


def test_a_rewrite_killed_midway_shows_a_reader_the_old_rows_then_the_new(sql_stack, tmp_path):
    settings = sql_stack
    _finish(_overwrite(settings, OLD_ROWS), OLD_ROWS)
    reader = Reader(settings)
    reader.start()
    try:
        reader.wait_for_reads(READS_AROUND_EACH_STEP)
        marker = tmp_path / "writing"
        killed = _overwrite(settings, NEW_ROWS, marker)
        try:
            deadline = time.monotonic() + 300  # a Spark start on a loaded machine
            while not marker.exists():
                assert killed.poll() is None, killed.communicate()[1][-4000:]
                assert time.monotonic() < deadline, "the rewrite never started writing"
                time.sleep(0.1)
            reader.wait_for_reads(READS_AROUND_EACH_STEP)  # while its tasks write
        finally:
            os.killpg(killed.pid, signal.SIGKILL)
            killed.communicate()
        assert killed.returncode == -signal.SIGKILL
        reads_before_retry = len(reader.counts) + READS_AROUND_EACH_STEP
        reader.wait_for_reads(READS_AROUND_EACH_STEP)

        _finish(_overwrite(settings, NEW_ROWS), NEW_ROWS)
        reader.wait_for_reads(READS_AROUND_EACH_STEP)
    finally:
        reader.stopped.set()
        reader.join(timeout=60)

    counts = reader.counts
    print(f"reader saw {len(counts)} answers: {counts}")
    assert set(counts) <= {OLD_ROWS, NEW_ROWS}, counts
    assert counts[:reads_before_retry] == [OLD_ROWS] * reads_before_retry, counts
    switched = counts.index(NEW_ROWS)
    assert counts[switched:] == [NEW_ROWS] * (len(counts) - switched), counts
