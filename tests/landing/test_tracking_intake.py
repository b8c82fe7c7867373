"""Tracking CSV intake on a local lake: exactly once, half-written files, quarantine, crashes."""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import time
from datetime import UTC, datetime

import pytest

from adplatform import lake
from adplatform.hdfs import LocalFileSystem
from adplatform.landing import markers, tracking
from adplatform.landing.hours import hour_range
from adplatform.landing.tracking import SOURCE, Reason, inspect, ledger_path
from tests.landing.intake_files import (
    HEADER,
    csv_bytes,
    intake,
    landed_contents,
    landed_names,
    local_settings,
    marker,
    reason_files,
)

FS = LocalFileSystem()


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def env(tmp_path):
    settings = local_settings(tmp_path)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    return settings, inbox


def test_a_file_lands_in_its_hour_folder_and_leaves_the_inbox(env):
    settings, inbox = env
    data = csv_bytes("20250106_07", 3)
    (inbox / "tracking_20250106_07.csv").write_bytes(data)

    result = intake(settings, until=t("2025-01-06 07:30"))

    target = (
        f"{lake.landing_path(settings, SOURCE, t('2025-01-06 00:00').date(), 7)}"
        "/tracking_20250106_07.csv"
    )
    assert [f["path"] for f in result.landed] == [target]
    assert FS.read(target) == data
    assert list(inbox.iterdir()) == []
    done = marker(FS, settings, t("2025-01-06 07:00"))
    assert done["files"] == [{"name": "tracking_20250106_07.csv", "bytes": len(data), "rows": 3}]
    assert done["rows"] == 3 and done["reason"] == "moved_past" and done["run_id"] == "test-run"
    # Closed: from the day before the first file up to and including the file's hour.
    closed = hour_range(t("2025-01-05 00:00"), t("2025-01-06 08:00"))
    assert all(marker(FS, settings, h) is not None for h in closed)
    assert marker(FS, settings, t("2025-01-06 08:00")) is None
    assert markers.read_closed_through(FS, settings, SOURCE) == t("2025-01-06 08:00")


def test_the_same_file_dropped_twice_is_ingested_once(env):
    settings, inbox = env
    data = csv_bytes("20250106_07", 2)
    (inbox / "tracking_20250106_07.csv").write_bytes(data)
    intake(settings, until=t("2025-01-06 08:00"))

    (inbox / "tracking_20250106_07.csv").write_bytes(data)
    (inbox / "tracking_20250106_09.csv").write_bytes(data)  # same bytes, another name
    result = intake(settings, until=t("2025-01-06 08:00"))

    assert result.landed == [] and len(result.duplicates) == 2
    assert landed_contents(FS, settings) == [data]
    assert list(inbox.iterdir()) == []


def test_empty_hours_land_each_and_an_empty_file_dropped_twice_once(env):
    """An hour without clicks is delivered as the header alone: the same bytes every hour."""
    settings, inbox = env
    empty = HEADER.encode() + b"\n"
    for hour in ("07", "08"):
        (inbox / f"tracking_20250106_{hour}.csv").write_bytes(empty)
    result = intake(settings, until=t("2025-01-06 09:00"))
    assert [f["name"] for f in result.landed] == [
        "tracking_20250106_07.csv", "tracking_20250106_08.csv"
    ]  # fmt: skip
    assert result.duplicates == []
    assert [marker(FS, settings, t(f"2025-01-06 {h}:00"))["rows"] for h in ("07", "08")] == [0, 0]

    (inbox / "tracking_20250106_07.csv").write_bytes(empty)
    result = intake(settings, until=t("2025-01-06 09:00"))
    assert result.landed == [] and [d["name"] for d in result.duplicates] == [
        "tracking_20250106_07.csv"
    ]


def test_another_file_with_the_same_name_lands_beside_it_and_reopens_the_hour(env, caplog):
    settings, inbox = env
    first, second = csv_bytes("20250106_07", 2), csv_bytes("20250106_07", 5)
    (inbox / "tracking_20250106_07.csv").write_bytes(first)
    intake(settings, until=t("2025-01-06 09:00"))
    (inbox / "tracking_20250106_07.csv").write_bytes(second)
    intake(settings, run_id="second-run", until=t("2025-01-06 09:00"))

    sha = hashlib.sha256(second).hexdigest()
    assert landed_names(FS, settings) == {
        "2025-01-06T07/tracking_20250106_07.csv": hashlib.sha256(first).hexdigest()[:12],
        f"2025-01-06T07/tracking_20250106_07-{sha[:16]}.csv": sha[:12],
    }
    done = marker(FS, settings, t("2025-01-06 07:00"))
    assert done["rows"] == 7 and done["reason"] == "late_records"
    assert done["reopened"][0]["run_id"] == "second-run"
    assert done["reopened"][0]["previous"]["rows"] == 2
    assert "Re-run the daily run" in caplog.text


def test_a_part_file_is_left_until_it_is_renamed(env, caplog):
    settings, inbox = env
    data = csv_bytes("20250106_07", 2)
    (inbox / "tracking_20250106_06.csv").write_bytes(csv_bytes("20250106_06", 1))
    (inbox / "tracking_20250106_07.csv.part").write_bytes(data[:-7])
    (inbox / "tracking_20250106_09.csv._COPYING_").write_bytes(data[:-7])

    result = intake(settings, until=t("2025-01-06 12:00"))
    assert result.pending == ["tracking_20250106_07.csv.part", "tracking_20250106_09.csv._COPYING_"]
    assert (inbox / "tracking_20250106_07.csv.part").exists()
    # The file being written holds the hours from its own on open, whatever --until says.
    assert result.frontier == t("2025-01-06 07:00")
    # Still there two hours later: its writer may have died, and the operator is told.
    later = time.time() + 2 * 3600
    assert intake(settings, clock=lambda: later, until=t("2025-01-06 12:00")).landed == []
    assert "tracking_20250106_07.csv.part has not changed for 2 h" in caplog.text

    (inbox / "tracking_20250106_07.csv.part").write_bytes(data)
    os.rename(inbox / "tracking_20250106_07.csv.part", inbox / "tracking_20250106_07.csv")
    os.unlink(inbox / "tracking_20250106_09.csv._COPYING_")
    result = intake(settings, until=t("2025-01-06 12:00"))
    assert [f["name"] for f in result.landed] == ["tracking_20250106_07.csv"]
    assert result.frontier == t("2025-01-06 12:00")
    assert marker(FS, settings, t("2025-01-06 07:00"))["rows"] == 2


def test_a_file_changed_less_than_min_age_ago_is_left_alone(env):
    settings, inbox = env
    (inbox / "tracking_20250106_07.csv").write_bytes(csv_bytes("20250106_07", 2))
    result = intake(settings, min_age_s=60)
    assert result.pending == ["tracking_20250106_07.csv"] and result.landed == []

    later = time.time() + 61
    result = intake(settings, min_age_s=60, clock=lambda: later, until=t("2025-01-06 08:00"))
    assert [f["name"] for f in result.landed] == ["tracking_20250106_07.csv"]


class GrowingFs(LocalFileSystem):
    """Lists a file smaller than it is when read: a writer appended in between."""

    def list(self, uri):
        return [
            s.__class__(s.uri, s.name, s.is_dir, max(0, s.size - 10), s.mtime_s)
            for s in super().list(uri)
        ]


def test_a_file_that_grows_while_it_is_read_waits(env):
    settings, inbox = env
    (inbox / "tracking_20250106_07.csv").write_bytes(csv_bytes("20250106_07", 2))
    result = intake(settings, inbox_fs=GrowingFs())
    assert result.pending == ["tracking_20250106_07.csv"]
    assert (inbox / "tracking_20250106_07.csv").exists()


def test_whole_files_that_can_not_be_read_are_quarantined_with_their_reason(env):
    settings, inbox = env
    whole = csv_bytes("20250106_08", 4)
    bad = {
        "tracking_20250106_08.csv": (whole[:-9], Reason.TRUNCATED),
        "tracking_20250106_09.csv": (b"", Reason.EMPTY_FILE),
        "tracking_20250106_10.csv": (b"event_id,ts\n1,2\n", Reason.BAD_HEADER),
        "clicks-final.csv": (whole, Reason.BAD_FILE_NAME),
        "tracking_20251399_10.csv": (whole + b"\n", Reason.BAD_FILE_NAME),
    }
    for name, (data, _) in bad.items():
        (inbox / name).write_bytes(data)

    result = intake(settings, until=t("2025-01-06 11:00"))

    assert result.landed == []
    assert {q["name"]: q["reason"] for q in result.quarantined} == {
        n: r for n, (_, r) in bad.items()
    }
    assert list(inbox.iterdir()) == []
    for reason in reason_files(FS, settings):
        assert FS.read(reason["path"]) == bad[reason["name"]][0]  # kept byte for byte
        assert reason["detail"]
    truncated = next(r for r in reason_files(FS, settings) if r["reason"] == Reason.TRUNCATED)
    assert "arrival_date=2025-01-06" in truncated["path"]
    # The hour of a quarantined file is closed too, and its marker says where the file is.
    done = marker(FS, settings, t("2025-01-06 08:00"))
    assert done["files"] == [] and done["quarantined"][0]["reason"] == Reason.TRUNCATED


def test_the_same_truncated_file_twice_is_quarantined_once(env):
    settings, inbox = env
    data = csv_bytes("20250106_08", 4)[:-3]
    (inbox / "tracking_20250106_08.csv").write_bytes(data)
    intake(settings, until=t("2025-01-06 09:00"))
    (inbox / "tracking_20250106_08.csv").write_bytes(data)
    result = intake(settings, until=t("2025-01-06 09:00"))
    assert result.quarantined == [] and len(result.duplicates) == 1
    assert len(reason_files(FS, settings)) == 1


def test_inspect_accepts_crlf_and_blank_lines_but_not_a_missing_last_line_end():
    good = (HEADER + "\r\nclick,a,2025-01-06T07:00:00Z,u,c,i,,\r\n\r\n").encode()
    assert inspect("tracking_20250106_07.csv", good) is None
    assert inspect("tracking_20250106_07.csv", good.rstrip())[0] == Reason.TRUNCATED


# ---- an intake interrupted after every single write, then run again -----------------------


class Crash(BaseException):
    """Stands for kill -9: nothing of the run after the write is executed."""


class CrashingFs(LocalFileSystem):
    """Lets ``writes`` writes (create, rename, delete) happen, then crashes after the last."""

    def __init__(self, writes: int) -> None:
        self.left = writes

    def _wrote(self) -> None:
        self.left -= 1
        if self.left == 0:
            raise Crash

    def create(self, uri, data, *, overwrite=False):
        super().create(uri, data, overwrite=overwrite)
        self._wrote()

    def rename(self, src, dst, *, overwrite=False):
        super().rename(src, dst, overwrite=overwrite)
        self._wrote()

    def delete(self, uri, *, recursive=False):
        done = super().delete(uri, recursive=recursive)
        self._wrote()
        return done


def test_an_intake_killed_after_any_write_and_run_again_lands_each_file_exactly_once(tmp_path):
    files = {
        "tracking_20250106_07.csv": csv_bytes("20250106_07", 3),
        "tracking_20250106_08.csv": csv_bytes("20250106_08", 2),
        "tracking_20250106_09.csv": csv_bytes("20250106_09", 2)[:-4],  # truncated
    }
    files["tracking_20250106_10.csv"] = files["tracking_20250106_07.csv"]  # a re-send
    until = t("2025-01-06 10:00")
    crashes = 0
    for writes in range(1, 500):
        root = tmp_path / f"w{writes}"
        settings = local_settings(root)
        (root / "inbox").mkdir(parents=True)
        for name, data in files.items():
            (root / "inbox" / name).write_bytes(data)
        # An earlier run closed everything before 07:00, so the run marks 07, 08 and 09.
        markers.write_closed_through(FS, settings, SOURCE, t("2025-01-06 07:00"), "earlier")
        crashing = CrashingFs(writes)
        try:
            intake(settings, until=until, inbox_fs=crashing, lake_fs=crashing)
        except Crash:
            crashes += 1
        else:
            break  # this many writes complete the run: every crash point was tried
        intake(settings, run_id="rerun", until=until)

        assert landed_names(FS, settings) == {
            f"2025-01-06T{h}/tracking_20250106_{h}.csv": hashlib.sha256(
                files[f"tracking_20250106_{h}.csv"]
            ).hexdigest()[:12]
            for h in ("07", "08")
        }, f"crash after write {writes}"
        assert [r["name"] for r in reason_files(FS, settings)] == ["tracking_20250106_09.csv"]
        assert list((root / "inbox").iterdir()) == []
        tmp = root / "lake" / "landing" / SOURCE / "_tmp"
        assert not tmp.exists() or list(tmp.iterdir()) == []
        for name in ("tracking_20250106_07.csv", "tracking_20250106_08.csv"):
            sha = hashlib.sha256(files[name]).hexdigest()
            assert FS.exists(ledger_path(settings, sha))
        closed = hour_range(t("2025-01-06 07:00"), until)
        assert all(marker(FS, settings, h) is not None for h in closed)
        assert marker(FS, settings, t("2025-01-06 07:00"))["rows"] == 3
        assert markers.read_closed_through(FS, settings, SOURCE) == until
    assert crashes > 25  # every write of the run was a crash point


def test_a_stale_temporary_file_is_removed(env):
    settings, _ = env
    tmp = f"{lake.landing_path(settings, SOURCE)}/_tmp/tracking_20250106_07.csv.0123"
    FS.create(tmp, b"partial")
    old = time.time() - 2 * 3600
    os.utime(FS.path(tmp), (old, old))
    intake(settings, until=t("2025-01-06 08:00"))
    assert not FS.exists(tmp)


# ---- names and encodings real writers use -------------------------------------------------


def test_upper_case_and_gzip_files_land_under_the_contract_name(env):
    settings, inbox = env
    upper, zipped = csv_bytes("20250106_07", 2), csv_bytes("20250106_08", 3)
    (inbox / "tracking_20250106_07.CSV").write_bytes(upper)
    (inbox / "tracking_20250106_08.csv.GZ").write_bytes(gzip.compress(zipped))
    # The 08 content again, plain under another hour's name: the ledger knows it unzipped.
    (inbox / "tracking_20250106_09.csv").write_bytes(zipped)
    cut_bytes = gzip.compress(zipped)[:-9]  # cut before gzip's trailer
    (inbox / "tracking_20250106_10.csv.gz").write_bytes(cut_bytes)
    (inbox / "tracking_20250106_11.csv.gz").write_bytes(b"\x1f\x8bnot gzip at all\n")

    result = intake(settings, until=t("2025-01-06 12:00"))

    assert [(f["name"], f["rows"]) for f in result.landed] == [
        ("tracking_20250106_07.CSV", 2), ("tracking_20250106_08.csv.GZ", 3)
    ]  # fmt: skip
    assert landed_names(FS, settings) == {
        "2025-01-06T07/tracking_20250106_07.csv": hashlib.sha256(upper).hexdigest()[:12],
        "2025-01-06T08/tracking_20250106_08.csv": hashlib.sha256(zipped).hexdigest()[:12],
    }
    assert [f["name"] for f in result.duplicates] == ["tracking_20250106_09.csv"]
    assert {q["name"]: q["reason"] for q in result.quarantined} == {
        "tracking_20250106_10.csv.gz": Reason.BAD_GZIP,
        "tracking_20250106_11.csv.gz": Reason.BAD_GZIP,
    }
    cut = next(
        r for r in reason_files(FS, settings) if r["name"].startswith("tracking_20250106_10")
    )
    assert FS.read(cut["path"]) == cut_bytes  # kept as it arrived
    assert "gzip" in cut["detail"]
    assert list(inbox.iterdir()) == []
    assert marker(FS, settings, t("2025-01-06 08:00"))["rows"] == 3
    assert marker(FS, settings, t("2025-01-06 11:00"))["quarantined"][0]["reason"] == "bad_gzip"


def test_hidden_and_temporary_names_are_counted_as_pending_until_renamed(env, caplog):
    settings, inbox = env
    caplog.set_level(logging.INFO, logger="adplatform.landing.tracking")
    data = csv_bytes("20250106_07", 2)
    (inbox / ".tracking_20250106_07.csv").write_bytes(data)
    (inbox / "_tmp.csv").write_bytes(data)
    (inbox / "tracking_20250106_06.csv").write_bytes(csv_bytes("20250106_06", 1))

    lines: list[str] = []
    result = intake(settings, until=t("2025-01-06 12:00"), progress=lines.append)

    assert sorted(result.pending) == [".tracking_20250106_07.csv", "_tmp.csv"]
    assert "left _tmp.csv: a hidden or temporary name, not yet renamed" in lines
    assert "2 still being written" in result.summary()
    assert ".tracking_20250106_07.csv has a hidden or temporary name" in caplog.text
    # The hidden file of 07 holds its hour open, as a .part file does.
    assert result.frontier == t("2025-01-06 07:00")
    os.rename(inbox / ".tracking_20250106_07.csv", inbox / "tracking_20250106_07.csv")
    result = intake(settings, until=t("2025-01-06 12:00"))
    assert [f["name"] for f in result.landed] == ["tracking_20250106_07.csv"]
    assert result.pending == ["_tmp.csv"] and result.frontier == t("2025-01-06 12:00")


def test_bare_cr_line_ends_and_a_quoted_header_are_a_whole_file():
    quoted = ",".join(f'"{c}"' for c in HEADER.split(","))
    row = b"click,a,2025-01-06T07:00:00Z,u,c,i,,"
    cr = HEADER.encode() + b"\r" + row + b"\r\r" + row + b"\r"
    assert inspect("tracking_20250106_07.csv", cr) is None
    assert tracking.data_rows(cr) == 2
    assert inspect("tracking_20250106_07.csv", cr[:-1])[0] == Reason.TRUNCATED
    assert inspect("tracking_20250106_07.csv", quoted.encode() + b"\r\n" + row + b"\r\n") is None
    half = quoted.replace('"record_type"', "record_type").encode() + b"\n"
    assert inspect("tracking_20250106_07.csv", half)[0] == Reason.BAD_HEADER
