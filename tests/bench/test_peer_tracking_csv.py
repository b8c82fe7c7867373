"""The DuckDB peer reads tracking lines as the contract's reference does: RFC 4180 quoting,
\\r\\n / \\n / bare \\r line ends, and conversion values no decimal of micros can hold."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import product

import duckdb

from adplatform.contracts import TRACKING_CSV_HEADER, Rules
from adplatform.simulator.reference import Raw, Reference
from adplatform.simulator.reference import csv_fields as reference_fields
from bench.peer import SQL_DIR, PeerJob

AT = "2025-03-03T10:00:10Z"
VALUES = [
    *("12.50", "NaN", "-Infinity", "inf", "1e300", "1e5", "1.1234567", "+5"),
    *("99999999999999999999999999999999999", "9223372036854.775808", "9223372036854.775807"),
    *("12,5", "0x10", "1e", "١٢", "-1"),
]
LINES = [
    f'click,"clk-1","{AT}","u-1","c-1","imp-1",,',
    f'"click","clk,2",{AT},u-1,c-1,"imp ""a""",,',
    f'click,c"lk-4,{AT},u-1,c-1,imp-1,,',
    f'click,"clk-5"x,{AT},u-1,c-1,imp-1,,',
    f'click,"clk-6,{AT},u-1,c-1,imp-1,,',
    *(f'conversion,cnv-{i},{AT},u-1,c-1,,purchase,"{v}"' for i, v in enumerate(VALUES)),
]


def _peer(tmp_path) -> PeerJob:
    peer = PeerJob(tmp_path / "lake", tmp_path / "peer", date(2025, 3, 3), "k3y", Rules())
    impressions = peer.tables / "impressions" / "dt=2025-03-03"
    impressions.mkdir(parents=True)
    duckdb.execute(
        "COPY (SELECT NULL::VARCHAR AS impression_id, NULL::TIMESTAMP AS event_ts, "
        "NULL::VARCHAR AS user_id, NULL::VARCHAR AS campaign_id WHERE false) "
        f"TO '{impressions}/data.parquet' (FORMAT parquet)"
    )
    return peer


def test_peer_reasons_equal_the_reference_on_quoted_cr_and_number_lines(tmp_path):
    peer = _peer(tmp_path)
    folder = tmp_path / "lake/landing/tracking/arrival_date=2025-03-03/arrival_hour=10"
    folder.mkdir(parents=True)
    # Bare CR line ends, a CRLF and a blank line: line numbers count every line end.
    body = "\r".join([TRACKING_CSV_HEADER, *LINES[:3]]) + "\r\n\r" + "\n".join(LINES[3:]) + "\n"
    (folder / "tracking_20250303_10.csv").write_bytes(body.encode())
    peer.clean_tracking()

    rows = peer.con.execute(
        "SELECT line_number, reason FROM tracking_checked ORDER BY line_number"
    ).fetchall()
    numbers = [*range(2, 5), *range(6, 6 + len(LINES) - 3)]
    hour_us = int(datetime(2025, 3, 3, 10, tzinfo=UTC).timestamp()) * 1_000_000
    reference = Reference(Rules())
    expected = [(n, reference.check(Raw.csv_row(line.encode(), hour_us)).reason)
                for n, line in zip(numbers, LINES, strict=True)]  # fmt: skip
    assert rows == expected
    reasons = [r for _, r in rows]
    assert reasons[:5] == [None, None, "bad_column_count", "bad_column_count", "bad_column_count"]
    assert reasons[5:] == [
        None, *["impossible_value"] * 9, None, *["unparsable_number"] * 4, "impossible_value",
    ]  # fmt: skip


def test_peer_splits_every_short_line_as_the_reference(tmp_path):
    peer = _peer(tmp_path)
    macros = (SQL_DIR / "clean_tracking.sql").read_text().split("CREATE OR REPLACE TEMP TABLE")[0]
    peer.con.execute(macros)
    lines = ["".join(p) for n in range(6) for p in product(('"', ",", "a", "\u0001"), repeat=n)]
    got = peer.con.execute("SELECT l, csv_fields(l) FROM unnest(?) t(l)", [lines]).fetchall()
    assert len(got) == 1_365
    assert {line: fields for line, fields in got if fields != reference_fields(line)} == {}
