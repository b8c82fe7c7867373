"""Tracking files dropped twice and half-written, or as real writers name and write them
(``.CSV``, ``.csv.gz``, hidden names, quoted fields, bare CR line ends), followed through
the intake into the clean job: every row counted once, the duplicates counted, the
reconciliation exact, no id twice in adtech.clicks or adtech.conversions (docs/landing.md,
"Tracking CSV intake").

The intake's own handling of each case (ledger, ``.part``, minimum age, a file growing
while read, truncated and unreadable files, a kill after any write) is tested in
tests/landing/test_tracking_intake.py and tests/landing/test_landing_on_the_stack.py;
this test adds what the curated tables and the reconciliation make of it.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlparse

import pytest
from pyspark.sql import functions as F

from adplatform import contracts, lake
from adplatform.landing.tracking import Intake
from spark_jobs.clean_impressions import job as clean_impressions
from spark_jobs.clean_tracking import job as clean_tracking
from tests.chaos.jobs import duplicated_ids, reconciliation_rows, run_job
from tests.spark_jobs.landed import (
    TRACKING_HEADER,
    click,
    conversion,
    dumps,
    impression,
    land_kafka,
)

pytestmark = pytest.mark.slow

D = date(2023, 7, 20)
UNTIL = datetime(2023, 7, 20, 14, tzinfo=UTC)


def _file(*lines: bytes) -> bytes:
    return TRACKING_HEADER + b"\n" + b"".join(line + b"\n" for line in lines)


def _click(n: int, hour: int) -> bytes:
    return click(f"ev-{n}", f"2023-07-20T{hour}:{n:02d}:00Z", f"imp-{n}", user=f"u-{n}")


def test_files_dropped_twice_and_half_written_reach_the_tables_once(spark, local_lake, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    settings = local_lake.with_overrides(tracking_inbox=str(inbox), tracking_min_file_age_s=0)
    land_kafka(
        spark,
        settings,
        contracts.TOPIC_AD_IMPRESSIONS,
        [
            (f"imp-{n}".encode(), dumps(impression(
                impression_id=f"imp-{n}", user_id=f"u-{n}", event_ts="2023-07-20T09:30:00Z"
            )), "2023-07-20 09:31:00")
            for n in range(8)
        ],
    )  # fmt: skip

    def intake(run_id: str):
        return Intake(settings, run_id, until=UNTIL, min_age_s=0).run()

    first = _file(
        _click(0, 10),
        _click(1, 10),
        _click(2, 10),
        conversion("cv-0", "2023-07-20T10:40:00Z", user="u-0"),
    )
    (inbox / "tracking_20230720_10.csv").write_bytes(first)
    assert len(intake("run-1").landed) == 1

    # Dropped again, under its own name and under another; a file still being written under
    # its .part name; a file whose writer can not rename, cut in the middle of a line.
    (inbox / "tracking_20230720_10.csv").write_bytes(first)
    (inbox / "tracking_20230720_12.csv").write_bytes(first)
    eleven = _file(_click(4, 11), _click(5, 11))
    (inbox / "tracking_20230720_11.csv.part").write_bytes(eleven[: len(eleven) // 2])
    thirteen = _file(_click(6, 13), _click(7, 13))
    (inbox / "tracking_20230720_13.csv").write_bytes(thirteen[:-7])
    second = intake("run-2")
    assert second.landed == []
    assert sorted(f["name"] for f in second.duplicates) == [
        "tracking_20230720_10.csv", "tracking_20230720_12.csv"
    ]  # fmt: skip
    assert [(q["name"], q["reason"]) for q in second.quarantined] == [
        ("tracking_20230720_13.csv", "truncated")
    ]
    assert [p.name for p in inbox.iterdir()] == ["tracking_20230720_11.csv.part"]

    # The writers finish: the .part file is completed and renamed, the cut file is sent
    # again whole; and the first file is re-sent with one more row (another content under
    # the same name: it lands beside the first, its old rows are duplicates).
    (inbox / "tracking_20230720_11.csv.part").write_bytes(eleven)
    (inbox / "tracking_20230720_11.csv.part").rename(inbox / "tracking_20230720_11.csv")
    (inbox / "tracking_20230720_13.csv").write_bytes(thirteen)
    (inbox / "tracking_20230720_10.csv").write_bytes(first + _click(3, 10) + b"\n")
    # Late files of hours already closed, as other writers send them: upper-case extension,
    # bare CR line ends and quoted fields (one with a comma, one value NaN); gzipped, CRLF,
    # every field quoted (the header too), one value 1e300; a gzip cut short; and a write
    # still under its hidden or temporary name.
    (inbox / "tracking_20230720_08.CSV").write_bytes(
        b"\r".join([
            TRACKING_HEADER,
            b'conversion,"cv-1",2023-07-20T09:10:00Z,u-1,c-1,,purchase,"12.50"',
            b'conversion,"cv,2",2023-07-20T09:11:00Z,u-2,c-1,,"lead",3',
            b"conversion,cv-nan,2023-07-20T09:12:00Z,u-2,c-1,,lead,NaN",
        ]) + b"\r"
    )  # fmt: skip
    quoted = b",".join(b'"%s"' % c for c in TRACKING_HEADER.split(b","))
    (inbox / "tracking_20230720_09.csv.gz").write_bytes(gzip.compress(
        quoted + b'\r\n"conversion","cv-3","2023-07-20T09:20:00Z","u-3","c-1","","signup","1"'
        b'\r\n"conversion","cv-big","2023-07-20T09:21:00Z","u-3","c-1","","signup","1e300"\r\n'
    ))  # fmt: skip
    (inbox / "tracking_20230720_07.csv.gz").write_bytes(gzip.compress(first)[:-12])
    (inbox / ".tracking_20230720_13.csv").write_bytes(thirteen)
    (inbox / "_tracking_tmp.csv").write_bytes(thirteen)
    third = intake("run-3")
    assert sorted(f["name"] for f in third.landed) == [
        "tracking_20230720_08.CSV", "tracking_20230720_09.csv.gz",
        "tracking_20230720_10.csv", "tracking_20230720_11.csv", "tracking_20230720_13.csv",
    ]  # fmt: skip
    assert [(q["name"], q["reason"]) for q in third.quarantined] == [
        ("tracking_20230720_07.csv.gz", "bad_gzip")
    ]
    assert sorted(third.pending) == [".tracking_20230720_13.csv", "_tracking_tmp.csv"]
    assert sorted(p.name for p in inbox.iterdir()) == sorted(third.pending)

    run_job(spark, settings, clean_impressions, D, "chaos__tracking")
    rec = run_job(spark, settings, clean_tracking, D, "chaos__tracking")
    # Landed rows: 4 + 5 (the re-sent file) + 2 + 2 + 3 + 2; the re-sent file's first 4 are
    # duplicates; NaN and 1e300 are numbers no decimal of micros holds.
    assert (rec.rows_in, rec.curated, rec.duplicates, rec.quarantined_by_reason) == (
        18, 12, 4, {"impossible_value": 2}
    )  # fmt: skip
    clicks = spark.table("adtech.clicks").where(F.col("dt") == D).collect()
    assert sorted(r.event_id for r in clicks) == [f"ev-{n}" for n in range(8)]
    conversions = spark.table("adtech.conversions").where(F.col("dt") == D).collect()
    assert sorted((r.event_id, r.conversion_type, r.value_micros) for r in conversions) == [
        ("cv,2", "lead", 3_000_000), ("cv-0", "purchase", 12_500_000),
        ("cv-1", "purchase", 12_500_000), ("cv-3", "signup", 1_000_000),
    ]  # fmt: skip
    bad = spark.table("adtech.quarantine").where(
        (F.col("dt") == D) & (F.col("source") == "tracking")
    )
    assert sorted(r.detail for r in bad.collect()) == [
        "conversion_value 1e300 is not a finite decimal with at most 6 places",
        "conversion_value NaN is not a finite decimal with at most 6 places",
    ]
    assert reconciliation_rows(spark, [D], ["clean_tracking"])[("clean_tracking", D)][-1]
    assert set(duplicated_ids(spark, [D]).values()) == {0}

    # The cut file is kept, with its reason, in the lake's quarantine (not lost).
    folder = Path(urlparse(lake.quarantine_path(settings, lake.TRACKING_SOURCE, D)).path)
    assert (folder / "tracking_20230720_13.csv").read_bytes() == thirteen[:-7]
    reason = json.loads((folder / "tracking_20230720_13.csv.reason.json").read_text())
    assert reason["reason"] == "truncated"
