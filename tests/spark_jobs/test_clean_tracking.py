"""clean_tracking: CSV lines split by hand, every bad row's reason, dedup by id and by
fingerprint, click-window edges, and last-click / last-view attribution
(docs/data-contracts.md §3-5). Expected outcomes are written by hand."""

from __future__ import annotations

from datetime import date

from pyspark.sql import functions as F

from adplatform.contracts import TRACKING_CSV_HEADER, Rules
from spark_jobs.clean_tracking.transforms import (
    attribute_conversions,
    classify_tracking,
    correlate_clicks,
    curated_clicks,
    parse_tracking,
    tracking_lines,
)
from tests.spark_jobs.landed import KEY, click, conversion, pseudonym, tracking_files, ts

HEADER = TRACKING_CSV_HEADER.encode()

RULES = Rules()
D = date(2025, 3, 1)
FILE = "tracking_20250301_10.csv"  # arrival hour 10:00, arrival time 11:00


def _classify(spark, files, ds=D):
    parsed = parse_tracking(tracking_lines(tracking_files(spark, files)), RULES)
    return classify_tracking(parsed, ds, RULES, KEY)


def _outcomes(df) -> dict[tuple[str, int], tuple[str, str | None]]:
    rows = df.select("file_name", "line_number", "outcome", "reason").collect()
    return {(r.file_name, r.line_number): (r.outcome, r.reason) for r in rows}


def _impressions(spark, rows):
    """Curated impressions as adtech.impressions holds them (user ids pseudonymised)."""
    data = [(i, ts(t), pseudonym(u), c, ts(t).date()) for i, t, u, c in rows]
    return spark.createDataFrame(
        data,
        "impression_id string, event_ts timestamp, user_id string, campaign_id string, dt date",
    )


def test_every_bad_row_gets_its_reason(spark):
    at = "2025-03-01T10:00:10Z"
    lines = [
        click("clk-1", at, "imp-1"),  # 2 valid
        conversion("cnv-1", at),  # 3 valid
        click("clk-2", at, "imp-1") + b",extra",  # 4 one column too many: never truncated
        b"click,clk-3," + at.encode() + b",u-1,c-1,imp-1,",  # 5 one column too few
        b"click,clk-\xe9," + at.encode() + b",u-1,c-1,imp-1,,",  # 6 not UTF-8
        b",clk-4," + at.encode() + b",u-1,c-1,imp-1,,",  # 7 empty record_type
        b"view,clk-5," + at.encode() + b",u-1,c-1,imp-1,,",  # 8
        click("clk-6", at, ""),  # 9 click without its impression
        click("clk-7", "2025-03-01T10:00:10", "imp-1"),  # 10 no zone
        conversion("cnv-2", at, value="12.3.4"),  # 11
        conversion("cnv-3", at, value="-1.50"),  # 12
        conversion("cnv-4", at, kind="refund"),  # 13
        click("clk-8", "2025-09-01T10:00:00Z", "imp-1"),  # 14 far future
        b"",  # 15 blank: not a record
        conversion("cnv-5", at, value="1e3"),  # 16
        conversion("", at, value=""),  # 17 conversion without value
        click("clk-9", at, "imp-1") + b"\r",  # 18 CRLF line end
    ]
    got = _outcomes(_classify(spark, {FILE: lines}))
    assert got == {
        (FILE, 2): ("curated", None),
        (FILE, 3): ("curated", None),
        (FILE, 4): ("quarantined", "bad_column_count"),
        (FILE, 5): ("quarantined", "bad_column_count"),
        (FILE, 6): ("quarantined", "invalid_utf8"),
        (FILE, 7): ("quarantined", "missing_field"),
        (FILE, 8): ("quarantined", "unknown_record_type"),
        (FILE, 9): ("quarantined", "missing_field"),
        (FILE, 10): ("quarantined", "unparsable_timestamp"),
        (FILE, 11): ("quarantined", "unparsable_number"),
        (FILE, 12): ("quarantined", "impossible_value"),
        (FILE, 13): ("quarantined", "impossible_value"),
        (FILE, 14): ("quarantined", "impossible_value"),
        (FILE, 16): ("quarantined", "impossible_value"),  # a number, not in the grammar
        (FILE, 17): ("quarantined", "missing_field"),
        (FILE, 18): ("curated", None),
    }


def _fields(df) -> dict[int, tuple]:
    cols = ("reason", "event_id", "user_id", "campaign_id", "impression_id", "conversion_type")
    rows = df.select("line_number", *cols, "value_micros").collect()
    return {r.line_number: tuple(r[1:]) for r in rows}


def test_quoted_fields_are_read_by_rfc_4180(spark):
    at = "2025-03-01T10:00:10Z"
    lines = [
        f'click,"clk-1","{at}","u-1","c-1","imp-1",,'.encode(),  # 2 quotes removed
        f'"click","clk,2",{at},u-1,c-1,"imp ""a""",,'.encode(),  # 3 comma and "" inside
        f'conversion,"",{at},u-1,c-1,"",purchase,"12.50"'.encode(),  # 4 "" is empty: null
        f'click,c"lk-4,{at},u-1,c-1,imp-1,,'.encode(),  # 5 quote inside an unquoted field
        f'click,"clk-5"x,{at},u-1,c-1,imp-1,,'.encode(),  # 6 text after the closing quote
        f'click,"clk-6,{at},u-1,c-1,imp-1,,'.encode(),  # 7 never closed
        f'click,"a,b,c",{at},u-1,c-1,imp-1,,'.encode() + b",x",  # 8 9 fields once unquoted
        '"click","clk-\u0001\u0003",\u0001'.encode() + b",u,c,i,,",  # 9 separator bytes
    ]
    got = _fields(parse_tracking(tracking_lines(tracking_files(spark, {FILE: lines})), RULES))
    assert got == {
        2: (None, "clk-1", "u-1", "c-1", "imp-1", None, None),
        3: (None, "clk,2", "u-1", "c-1", 'imp "a"', None, None),
        4: (None, None, "u-1", "c-1", None, "purchase", 12_500_000),
        5: ("bad_column_count", None, None, None, None, None, None),
        6: ("bad_column_count", None, None, None, None, None, None),
        7: ("bad_column_count", None, None, None, None, None, None),
        8: ("bad_column_count", None, None, None, None, None, None),
        9: ("unparsable_timestamp", "clk-\u0001\u0003", "u", "c", "i", None, None),
    }


def test_crlf_and_bare_cr_end_lines_and_a_quoted_header_is_a_header(spark):
    from spark_jobs.common.landing import TRACKING_FILES_SCHEMA

    at = "2025-03-01T10:00:10Z"
    header = ",".join(f'"{c}"' for c in HEADER.decode().split(","))
    one, two, three = (click(f"clk-{i}", at, "imp-1") for i in (1, 2, 3))
    files = [
        ("tracking_20250301_10.csv", HEADER + b"\r" + one + b"\r" + two + b"\r\r" + three + b"\r"),
        ("tracking_20250301_11.csv", header.encode() + b"\r\n" + one + b"\r\n\n" + two + b"\n\r"),
    ]
    lines = tracking_lines(spark.createDataFrame(files, TRACKING_FILES_SCHEMA))
    got = sorted((r.file_name[-6:-4], r.line_number, bytes(r.raw_payload)) for r in lines.collect())
    assert got == [
        ("10", 2, one),
        ("10", 3, two),
        ("10", 5, three),
        ("11", 2, one),
        ("11", 4, two),
    ]


def test_numbers_no_decimal_of_micros_can_hold_are_impossible_values(spark):
    at = "2025-03-01T10:00:10Z"
    values = [
        "NaN", "-Infinity", "inf", "1e300", "1e5", "1.1234567", "+5",  # 2-8 numbers, not decimals
        "99999999999999999999999", "9223372036854.775808",  # 9-10 over a BIGINT of micros
        "9223372036854.775807",  # 11 the largest that fits
        "12,5", "0x10", "1e", "١٢", "",  # 12-16 not numbers (the empty one is missing)
    ]  # fmt: skip
    lines = [conversion(f"cnv-{i}", at, value=v) for i, v in enumerate(values)]
    lines = [line.replace(b",12,5", b',"12,5"') for line in lines]
    parsed = parse_tracking(tracking_lines(tracking_files(spark, {FILE: lines})), RULES)
    got = {r.line_number: (r.reason, r.detail) for r in parsed.collect()}
    reasons = {n: r for n, (r, _) in got.items()}
    assert reasons == {
        **dict.fromkeys(range(2, 11), "impossible_value"),
        11: None,
        **dict.fromkeys(range(12, 16), "unparsable_number"),
        16: "missing_field",
    }
    assert got[2][1] == "conversion_value NaN is not a finite decimal with at most 6 places"
    assert got[9][1] == (
        "conversion_value 99999999999999999999999 out of range (at most 9223372036854.775807)"
    )
    assert got[12][1] == "conversion_value 12,5 is not a number"
    assert parsed.where("line_number = 11").first().value_micros == 9223372036854775807


def test_extra_column_is_kept_whole_in_quarantine(spark):
    line = click("clk-2", "2025-03-01T10:00:10Z", "imp-1") + b",extra"
    row = _classify(spark, {FILE: [line]}).select("raw_payload", "detail", "origin").first()
    assert (bytes(row.raw_payload), row.detail, row.origin) == (
        line,
        "9 fields, not 8",
        f"{FILE}:2",
    )


def test_non_utf8_bytes_survive_in_the_payload(spark):
    line = b"click,clk-\xe9,2025-03-01T10:00:10Z,u-1,c-1,imp-1,,"
    row = _classify(spark, {FILE: [line]}).select("raw_payload", "reason").first()
    assert (bytes(row.raw_payload), row.reason) == (line, "invalid_utf8")


def test_dedup_by_event_id_and_by_fingerprint(spark):
    at = "2025-03-01T10:00:10Z"
    later = "tracking_20250301_11.csv"
    files = {
        FILE: [
            click("clk-1", at, "imp-1"),  # 2 first
            conversion("", at, value="5.0"),  # 3 no id: fingerprint
            conversion("cnv-1", at, value="5.0"),  # 4 same payload, with an id: not a duplicate
            conversion("", at, value="5.000000"),  # 5 same value in micros: duplicate of 3
            conversion("", at, value="5.01"),  # 6 other value: kept
        ],
        later: [
            click("clk-1", at, "imp-1"),  # 2 re-sent an hour later: duplicate
            conversion("cnv-1", at, value="5.0"),  # 3 duplicate of FILE:4
        ],
    }
    got = _outcomes(_classify(spark, files))
    assert got == {
        (FILE, 2): ("curated", None),
        (FILE, 3): ("curated", None),
        (FILE, 4): ("curated", None),
        (FILE, 5): ("duplicate", None),
        (FILE, 6): ("curated", None),
        (later, 2): ("duplicate", None),
        (later, 3): ("duplicate", None),
    }


def test_late_rows_within_and_beyond_grace(spark):
    files = {
        # Rows of Mar 1 in the file of Mar 2 05:00 (in time) and 06:00 (too late).
        "tracking_20250302_05.csv": [conversion("cnv-1", "2025-03-01T23:00:00Z")],
        "tracking_20250302_06.csv": [conversion("cnv-2", "2025-03-01T23:00:00Z")],
    }
    assert _outcomes(_classify(spark, files, D)) == {
        ("tracking_20250302_05.csv", 2): ("curated", None)
    }
    assert _outcomes(_classify(spark, files, date(2025, 3, 2))) == {
        ("tracking_20250302_06.csv", 2): ("quarantined", "too_late")
    }


def test_click_window_edges_and_orphans(spark):
    impressions = _impressions(
        spark,
        [
            ("imp-1", "2025-03-01 10:00:00", "u-1", "c-1"),
            ("imp-2", "2025-03-02 08:00:00", "u-1", "c-1"),
        ],
    )
    next_day = "tracking_20250302_10.csv"
    files = {
        next_day: [
            click("clk-1", "2025-03-02T10:00:00Z", "imp-1"),  # 2 exactly 24 h: in
            click("clk-2", "2025-03-02T10:00:01Z", "imp-1"),  # 3 one second over
            click("clk-3", "2025-03-02T07:59:59Z", "imp-2"),  # 4 before its impression
            click("clk-4", "2025-03-02T09:00:00Z", "imp-404"),  # 5 no such impression
            click("clk-5", "2025-03-02T09:00:00Z", "imp-2", campaign="c-2"),  # 6 other campaign
            click("clk-6", "2025-03-02T09:00:00Z", "imp-2", user="u-2"),  # 7 other user
            click("clk-7", "2025-03-02T08:00:00Z", "imp-2"),  # 8 same instant: in
        ]
    }
    classified = _classify(spark, files, date(2025, 3, 2))
    correlated = correlate_clicks(classified, impressions, RULES)
    assert _outcomes(correlated) == {
        (next_day, 2): ("curated", None),
        (next_day, 3): ("quarantined", "click_outside_window"),
        (next_day, 4): ("quarantined", "click_before_impression"),
        (next_day, 5): ("quarantined", "orphan_click"),
        (next_day, 6): ("quarantined", "click_impression_mismatch"),
        (next_day, 7): ("quarantined", "click_impression_mismatch"),
        (next_day, 8): ("curated", None),
    }
    rows = curated_clicks(correlated).select("event_id", "seconds_after_impression", "dt")
    assert sorted(tuple(r) for r in rows.collect()) == [
        ("clk-1", 86400, date(2025, 3, 2)),
        ("clk-7", 0, date(2025, 3, 2)),
    ]


def test_a_click_before_an_impression_of_the_next_day_is_an_orphan(spark):
    impressions = _impressions(spark, [("imp-1", "2025-03-02 00:10:00", "u-1", "c-1")])
    files = {"tracking_20250301_23.csv": [click("clk-1", "2025-03-01T23:50:00Z", "imp-1")]}
    correlated = correlate_clicks(_classify(spark, files), impressions, RULES)
    assert _outcomes(correlated) == {
        ("tracking_20250301_23.csv", 2): ("quarantined", "orphan_click")
    }


def test_attribution_last_click_then_last_view(spark):
    impressions = _impressions(
        spark,
        [
            ("imp-1", "2025-03-01 09:00:00", "u-1", "c-1"),
            ("imp-2", "2025-03-01 09:30:00", "u-1", "c-1"),
            ("imp-3", "2025-03-01 11:00:00", "u-2", "c-1"),  # u-2 only viewed
            ("imp-4", "2025-02-28 08:00:00", "u-3", "c-1"),  # u-3: view older than 1 day
            ("imp-5", "2025-03-01 11:00:00", "u-4", "c-2"),  # u-4 viewed another campaign
            ("imp-6", "2025-03-01 11:30:00", "u-1", "c-1"),  # later view than every click
            ("imp-7", "2025-03-01 11:00:00", "u-5", "c-1"),  # u-5 tie: two views, same time
            ("imp-8", "2025-03-01 11:00:00", "u-5", "c-1"),
        ],
    )
    past_clicks = spark.createDataFrame(
        [("clk-0", ts("2025-02-27 12:00:00"), pseudonym("u-6"), "c-1", "imp-0")],
        "event_id string, event_ts timestamp, user_id string, campaign_id string, "
        "impression_id string",
    )
    files = {
        FILE: [
            click("clk-b", "2025-03-01T09:40:00Z", "imp-2"),  # 2 same time as clk-a
            click("clk-a", "2025-03-01T09:40:00Z", "imp-1"),  # 3 tie: smallest id wins
            click("clk-c", "2025-03-01T09:10:00Z", "imp-1"),  # 4 earlier click
            conversion("cnv-1", "2025-03-01T12:00:00Z"),  # 5 u-1: last click clk-a, not imp-6
            conversion("cnv-2", "2025-03-01T12:00:00Z", user="u-2"),  # 6 last view imp-3
            conversion("cnv-3", "2025-03-01T12:00:00Z", user="u-3"),  # 7 view too old: none
            conversion("cnv-4", "2025-03-01T12:00:00Z", user="u-4"),  # 8 other campaign: none
            conversion("cnv-5", "2025-03-01T12:00:00Z", user="u-5"),  # 9 view tie: imp-7
            conversion("cnv-6", "2025-03-01T12:00:00Z", user="u-6"),  # 10 click 2 days before
            conversion("cnv-7", "2025-03-01T09:05:00Z"),  # 11 before every click: view imp-1
        ]
    }
    correlated = correlate_clicks(_classify(spark, files), impressions, RULES)
    attributed = attribute_conversions(correlated, past_clicks, impressions, RULES)
    got = {
        r.event_id: (r.attribution, r.attributed_click_id, r.attributed_impression_id)
        for r in attributed.collect()
    }
    assert got == {
        "cnv-1": ("last_click", "clk-a", "imp-1"),
        "cnv-2": ("last_view", None, "imp-3"),
        "cnv-3": ("none", None, None),
        "cnv-4": ("none", None, None),
        "cnv-5": ("last_view", None, "imp-7"),
        "cnv-6": ("last_click", "clk-0", "imp-0"),
        "cnv-7": ("last_view", None, "imp-1"),
    }


def test_last_click_lookback_is_inclusive(spark):
    past_clicks = spark.createDataFrame(
        [
            ("clk-in", ts("2025-02-22 12:00:00"), pseudonym("u-1"), "c-1", "imp-1"),
            ("clk-out", ts("2025-02-22 11:59:59"), pseudonym("u-2"), "c-1", "imp-2"),
        ],
        "event_id string, event_ts timestamp, user_id string, campaign_id string, "
        "impression_id string",
    )
    files = {
        FILE: [
            conversion("cnv-1", "2025-03-01T12:00:00Z"),  # exactly 7 days after clk-in
            conversion("cnv-2", "2025-03-01T12:00:00Z", user="u-2"),  # 7 days + 1 s
        ]
    }
    impressions = _impressions(spark, [])
    correlated = correlate_clicks(_classify(spark, files), impressions, RULES)
    attributed = attribute_conversions(correlated, past_clicks, impressions, RULES)
    got = {
        r.event_id: r.attribution for r in attributed.select("event_id", "attribution").collect()
    }
    assert got == {"cnv-1": "last_click", "cnv-2": "none"}
    assert attributed.where(F.col("user_id") == pseudonym("u-1")).count() == 1
