"""The reference implementation on tiny hand-written inputs, against hand-computed numbers.

Every expected value here was worked out by hand from docs/data-contracts.md, not from the
code under test.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from itertools import count

import fastavro
import pytest

from adplatform import contracts
from adplatform.contracts import Reason, Rules
from adplatform.simulator.reference import Raw, Reference, parse_ts

_order = count()
HOUR_US = 3600 * 1_000_000


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def impression(
    impression_id: str,
    ts: str,
    user: str = "u1",
    campaign: str = "c1",
    price: int = 1000,
    arrival: str | None = None,
    **changes,
) -> Raw:
    obj = {
        "impression_id": impression_id,
        "request_id": "r-" + impression_id,
        "imp_id": "1",
        "event_ts": ts,
        "user_id": user,
        "campaign_id": campaign,
        "creative_id": "cr-1",
        "site": None,
        "app": None,
        "device": {"type": "desktop"},
        "geo": {"country": "US"},
        "ip": "203.0.113.7",
        "win_price_micros": price,
        "currency": "USD",
    }
    obj.update(changes)
    value = json.dumps(obj, separators=(",", ":")).encode()
    arrival_ms = ms(arrival) if arrival else ms(ts) + 1000
    return Raw.kafka("impressions", value, arrival_ms, ("k", next(_order)))


def row(fields: list[str], file_hour: str | None = None) -> Raw:
    hour_ms = ms(file_hour) if file_hour else ms(fields[2]) // 3_600_000 * 3_600_000
    return Raw.csv_row(",".join(fields).encode(), hour_ms * 1000, ("f", next(_order)))


def click(event_id: str, ts: str, imp_id: str, user="u1", campaign="c1", file_hour=None) -> Raw:
    return row(["click", event_id, ts, user, campaign, imp_id, "", ""], file_hour)


def conversion(event_id: str, ts: str, user="u1", campaign="c1", value="10.00", **kw) -> Raw:
    ctype = kw.get("ctype", "purchase")
    return row(["conversion", event_id, ts, user, campaign, "", ctype, value], kw.get("file_hour"))


def run(*raws: Raw, rules: Rules | None = None) -> dict:
    return Reference(rules or Rules()).compute(raws)


def daily(result: dict) -> dict:
    return {
        (r["dt"], r["campaign_id"]): (
            r["impressions"],
            r["clicks"],
            r["conversions"],
            r["spend_micros"],
            r["revenue_micros"],
            r["unique_users"],
        )
        for r in result["campaign_daily"]
    }


def quarantined(result: dict, source: str) -> dict[str, int]:
    total: dict[str, int] = {}
    for o in result["outcomes"].get(source, {}).values():
        for reason, n in o["quarantined"].items():
            total[reason] = total.get(reason, 0) + n
    return total


def test_campaign_daily_of_a_small_story():
    result = run(
        impression("i1", "2025-01-06T10:00:00Z", "u1", "c1", 1000),
        impression("i2", "2025-01-06T11:00:00Z", "u1", "c1", 2000),
        impression("i3", "2025-01-06T23:50:00Z", "u2", "c1", 1500),
        impression("i4", "2025-01-06T12:00:00Z", "u3", "c2", 700),
        impression("i4", "2025-01-06T12:00:00Z", "u3", "c2", 700, arrival="2025-01-06T12:10:00Z"),
        impression("i5", "2025-01-06T12:00:00Z", "u3", "c2", -5),
        click("k1", "2025-01-06T10:00:30Z", "i1"),
        click("k2", "2025-01-06T10:00:40Z", "i1"),  # a second click on i1
        click("k3", "2025-01-07T00:05:00Z", "i3", "u2"),  # next day
        conversion("x1", "2025-01-07T09:00:00Z", "u1", value="25.50"),  # last click k2
        conversion("x2", "2025-01-06T23:55:00Z", "u2", value="10"),  # last view i3
        conversion("x3", "2025-01-06T12:00:00Z", "u9", value="99.99"),  # unattributed
    )
    assert daily(result) == {
        ("2025-01-06", "c1"): (3, 2, 1, 4500, 10_000_000, 2),
        ("2025-01-06", "c2"): (1, 0, 0, 700, 0, 1),
        ("2025-01-07", "c1"): (0, 1, 1, 0, 25_500_000, 0),
    }
    assert [(a["conversion"], a["model"], a["touch_id"]) for a in result["attributions"]] == [
        ("x3", "unattributed", None),
        ("x2", "last_view", "i3"),
        ("x1", "last_click", "k2"),
    ]
    assert result["outcomes"]["impressions"]["2025-01-06"] == {
        "in": 6,
        "curated": 4,
        "duplicates": 1,
        "quarantined": {"impossible_value": 1},
    }
    assert result["outcomes"]["tracking"]["2025-01-06"]["curated"] == 4  # k1, k2, x2, x3
    assert result["outcomes"]["tracking"]["2025-01-07"]["curated"] == 2  # k3, x1


def test_dedup_by_id_keeps_the_first_arrival_even_when_payloads_differ():
    result = run(
        impression("i1", "2025-01-06T10:00:00Z", price=1000, arrival="2025-01-06T10:00:05Z"),
        impression("i1", "2025-01-06T10:00:00Z", price=9999, arrival="2025-01-06T10:00:01Z"),
        impression("i1", "2025-01-06T10:00:00Z", price=1000, arrival="2025-01-06T10:30:00Z"),
    )
    assert daily(result) == {("2025-01-06", "c1"): (1, 0, 0, 9999, 0, 1)}
    assert result["outcomes"]["impressions"]["2025-01-06"]["duplicates"] == 2


def test_dedup_of_conversions_by_id_and_by_fingerprint():
    result = run(
        impression("i1", "2025-01-06T10:00:00Z"),
        click("k1", "2025-01-06T10:01:00Z", "i1"),
        conversion("", "2025-01-06T11:00:00Z", value="5.00"),
        conversion("", "2025-01-06T11:00:00.000Z", value="5.0"),  # same instant and micros
        conversion("", "2025-01-06T12:00:00+01:00", value="5.000000"),  # same instant in UTC
        conversion("e1", "2025-01-06T11:00:00Z", value="5.00"),  # has an id: not a twin
        conversion("e1", "2025-01-06T11:00:00Z", value="5.00"),  # re-send of e1
        conversion("", "2025-01-06T11:00:00Z", value="5.01"),  # another value
        conversion("", "2025-01-06T11:00:00Z", value="5.00", ctype="lead"),  # another type
    )
    assert result["outcomes"]["tracking"]["2025-01-06"] == {
        "in": 8,
        "curated": 5,  # k1, fingerprint 5.00, e1, 5.01, lead
        "duplicates": 3,
        "quarantined": {},
    }
    assert daily(result)[("2025-01-06", "c1")] == (1, 1, 4, 1000, 20_010_000, 1)


@pytest.mark.parametrize(
    ("click_ts", "outcome"),
    [
        ("2025-01-06T10:00:00.000Z", None),  # the same instant as the impression
        ("2025-01-07T10:00:00.000Z", None),  # exactly 24 h later: inside
        ("2025-01-07T10:00:00.001Z", Reason.CLICK_OUTSIDE_WINDOW),  # one ms over
        ("2025-01-06T09:59:59.999Z", Reason.CLICK_BEFORE_IMPRESSION),
        ("2025-01-05T23:59:00.000Z", Reason.ORPHAN_CLICK),  # impression of a later date
    ],
)
def test_click_window_edges(click_ts: str, outcome: str | None):
    result = run(impression("i1", "2025-01-06T10:00:00Z"), click("k1", click_ts, "i1"))
    clicks = sum(r["clicks"] for r in result["campaign_daily"])
    if outcome is None:
        assert clicks == 1
        assert quarantined(result, "tracking") == {}
    else:
        assert clicks == 0
        assert quarantined(result, "tracking") == {outcome: 1}


def test_click_with_unknown_impression_or_other_user_is_quarantined():
    result = run(
        impression("i1", "2025-01-06T10:00:00Z", "u1", "c1"),
        click("k1", "2025-01-06T10:01:00Z", "nope"),
        click("k2", "2025-01-06T10:01:00Z", "i1", user="u2"),
        click("k3", "2025-01-06T10:01:00Z", "i1", campaign="c2"),
    )
    assert quarantined(result, "tracking") == {
        Reason.ORPHAN_CLICK: 1,
        Reason.CLICK_IMPRESSION_MISMATCH: 2,
    }


def test_attribution_tie_breaks_and_precedence():
    result = run(
        impression("i1", "2025-01-06T10:00:00Z", "u1"),
        click("clk-b", "2025-01-06T10:01:00Z", "i1", "u1"),
        click("clk-a", "2025-01-06T10:01:00Z", "i1", "u1"),  # same time: smallest id wins
        impression("i2", "2025-01-06T12:00:00Z", "u1"),
        click("clk-c", "2025-01-06T12:00:10Z", "i2", "u1"),
        conversion("x1", "2025-01-06T11:00:00Z", "u1"),  # before clk-c: clk-a
        conversion("x2", "2025-01-07T09:00:00Z", "u1"),  # clk-c is the latest
        # A click beats a later view.
        impression("i3", "2025-01-06T08:00:00Z", "u2"),
        click("clk-d", "2025-01-06T08:00:05Z", "i3", "u2"),
        impression("i4", "2025-01-06T20:00:00Z", "u2"),
        conversion("x3", "2025-01-06T21:00:00Z", "u2"),
        # A click on another campaign does not count; the view of this one does.
        impression("i5", "2025-01-06T05:00:00Z", "u3", "c2"),
        click("clk-e", "2025-01-06T05:00:10Z", "i5", "u3", "c2"),
        impression("i6", "2025-01-06T06:00:00Z", "u3", "c1"),
        conversion("x4", "2025-01-06T23:00:00Z", "u3", "c1"),
        # Two views at the same time: smallest impression id.
        impression("i8", "2025-01-06T07:00:00Z", "u4"),
        impression("i7", "2025-01-06T07:00:00Z", "u4"),
        conversion("x5", "2025-01-06T07:30:00Z", "u4"),
    )
    got = {a["conversion"]: (a["model"], a["touch_id"]) for a in result["attributions"]}
    assert got == {
        "x1": ("last_click", "clk-a"),
        "x2": ("last_click", "clk-c"),
        "x3": ("last_click", "clk-d"),
        "x4": ("last_view", "i6"),
        "x5": ("last_view", "i7"),
    }


@pytest.mark.parametrize(
    ("conversion_ts", "model"),
    [
        ("2025-01-07T01:00:00.000Z", "last_view"),  # exactly 1 day after the view
        ("2025-01-07T01:00:00.001Z", "unattributed"),
    ],
)
def test_last_view_lookback_edge(conversion_ts: str, model: str):
    result = run(
        impression("i1", "2025-01-06T01:00:00Z"), conversion("x1", conversion_ts, value="3")
    )
    assert result["attributions"][0]["model"] == model
    expected = (0, 0, 1, 0, 3_000_000, 0) if model == "last_view" else None
    assert daily(result).get(("2025-01-07", "c1")) == expected


@pytest.mark.parametrize(
    ("conversion_ts", "model", "revenue_day"),
    [
        ("2025-01-13T02:00:00.000Z", "last_click", "2025-01-13"),  # exactly 7 days
        ("2025-01-13T02:00:00.001Z", "unattributed", None),
    ],
)
def test_last_click_lookback_edge_and_conversion_counts_on_its_own_day(
    conversion_ts, model, revenue_day
):
    result = run(
        impression("i1", "2025-01-06T01:59:00Z"),
        click("k1", "2025-01-06T02:00:00Z", "i1"),
        conversion("x1", conversion_ts, value="7.25", file_hour=conversion_ts[:13] + ":00:00Z"),
    )
    assert result["attributions"][0]["model"] == model
    rows = daily(result)
    assert rows[("2025-01-06", "c1")] == (1, 1, 0, 1000, 0, 1)
    if revenue_day:
        assert rows[(revenue_day, "c1")] == (0, 0, 1, 0, 7_250_000, 0)
    else:
        assert len(rows) == 1


def test_late_data_within_and_beyond_the_grace_period():
    # Grace 6 h: an event of 2025-01-06 is in time in arrival hours up to 2025-01-07T05.
    result = run(
        impression("i1", "2025-01-06T23:00:00Z", arrival="2025-01-07T05:59:59.999Z"),
        impression("i2", "2025-01-06T23:00:00Z", arrival="2025-01-07T06:00:00.000Z"),
        impression("i3", "2025-01-06T10:00:00Z", arrival="2025-01-09T10:00:00Z"),
        conversion("x1", "2025-01-06T23:30:00Z", file_hour="2025-01-07T05:00:00Z"),
        conversion("x2", "2025-01-06T23:30:00Z", file_hour="2025-01-07T06:00:00Z"),
    )
    assert daily(result)[("2025-01-06", "c1")][0] == 1
    imps = result["outcomes"]["impressions"]
    assert imps["2025-01-06"] == {"in": 1, "curated": 1, "duplicates": 0, "quarantined": {}}
    # Too-late records belong to the run of their arrival date.
    assert imps["2025-01-07"]["quarantined"] == {"too_late": 1}
    assert imps["2025-01-09"]["quarantined"] == {"too_late": 1}
    tracking = result["outcomes"]["tracking"]
    assert tracking["2025-01-06"]["curated"] == 1
    assert tracking["2025-01-07"]["quarantined"] == {"too_late": 1}


def test_a_different_grace_changes_the_verdict():
    late = impression("i1", "2025-01-06T23:00:00Z", arrival="2025-01-07T02:30:00Z")
    assert quarantined(run(late, rules=Rules()), "impressions") == {}
    two_hours = Rules(late_grace=Rules().late_grace / 3)
    assert quarantined(run(late, rules=two_hours), "impressions") == {"too_late": 1}


def test_future_events_are_impossible_and_owned_by_their_arrival_date():
    result = run(
        # Arrival hour 10:00, so event_ts up to 12:00 passes and later does not.
        impression("i1", "2025-01-06T12:00:00Z", arrival="2025-01-06T10:30:00Z"),
        impression("i2", "2025-01-06T12:00:00.001Z", arrival="2025-01-06T10:30:00Z"),
        impression("i3", "2026-03-01T00:00:00Z", arrival="2025-01-06T10:30:00Z"),
    )
    assert result["outcomes"]["impressions"]["2025-01-06"] == {
        "in": 3,
        "curated": 1,
        "duplicates": 0,
        "quarantined": {"impossible_value": 2},
    }


def test_timestamp_grammar():
    assert parse_ts("2025-01-06T10:00:00Z") == ms("2025-01-06T10:00:00Z") * 1000
    assert parse_ts("2025-01-06T11:00:00.5+01:00") == ms("2025-01-06T10:00:00Z") * 1000 + 500_000
    assert parse_ts("2025-03-01T01:30:00+02:00") == ms("2025-02-28T23:30:00Z") * 1000
    assert parse_ts("2025-01-06T10:00:00.123456Z") % 1_000_000 == 123456
    for bad in (
        "2025-01-06 10:00:00Z",
        "2025-01-06T10:00:00",
        "2025-01-06T10:00:00.1234567Z",
        "2025-02-30T10:00:00Z",
        "2025-13-01T10:00:00Z",
        "2025-01-06T24:00:00Z",
        "2025-01-06T10:00:00+24:00",
        "2025-01-06T10:00:00z",
        "٢٠٢٥-01-06T10:00:00Z",  # non-ASCII digits
        "2025-01-06T10:00:00Z\n",
    ):
        assert parse_ts(bad) is None, bad


def _bid_request(floor: float = 0.5, event_ts: int = ms("2025-01-06T10:00:00Z")) -> bytes:
    record = {"id": "r1", "event_ts": event_ts, "imp": [{"id": "1", "bidfloor": floor}]}
    return contracts.BidRequestCodec().encode(record)


def _raw_tracking(line: bytes) -> Raw:
    return Raw.csv_row(line, ms("2025-01-06T10:00:00Z") * 1000, ("f", next(_order)))


def _raw_impression(value: bytes) -> Raw:
    return Raw.kafka("impressions", value, ms("2025-01-06T10:00:01Z"), ("k", next(_order)))


GOOD_IMP = json.loads(impression("i", "2025-01-06T10:00:00Z").payload)


def _imp_with(**changes) -> Raw:
    return _raw_impression(json.dumps({**GOOD_IMP, **changes}).encode())


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (_raw_impression(b'{"unmatched_line":"{\\"impression_id\\":"}'), Reason.MALFORMED_JSON),
        (_raw_impression(b'{"impression_id":"i1","user_id":"\xe9"}'), Reason.INVALID_UTF8),
        (_raw_impression(b"[1,2,3]"), Reason.MALFORMED_JSON),
        (_raw_impression(b'{"impression_id":'), Reason.MALFORMED_JSON),
        (_imp_with(user_id=None), "missing_field"),
        (_imp_with(user_id=""), "missing_field"),
        (
            _raw_impression(
                json.dumps({k: v for k, v in GOOD_IMP.items() if k != "currency"}).encode()
            ),
            Reason.MISSING_FIELD,
        ),
        (_imp_with(user_id=7), "wrong_type"),
        (_imp_with(win_price_micros="9"), "wrong_type"),
        (_imp_with(win_price_micros=9.0), "wrong_type"),
        (_imp_with(win_price_micros=True), "wrong_type"),
        (_imp_with(geo="US"), Reason.WRONG_TYPE),
        (_imp_with(ip=1), Reason.WRONG_TYPE),
        (
            _imp_with(event_ts="2025-01-06 10:00"),
            Reason.UNPARSABLE_TIMESTAMP,
        ),
        (
            _imp_with(win_price_micros=-1),
            Reason.IMPOSSIBLE_VALUE,
        ),
        (
            _imp_with(win_price_micros=10**9 + 1),
            Reason.IMPOSSIBLE_VALUE,
        ),
        (
            _imp_with(currency="EUR"),
            Reason.IMPOSSIBLE_VALUE,
        ),
        (_raw_tracking(b"click,k1,2025-01-06T10:00:00Z,u1,c1,i1,"), Reason.BAD_COLUMN_COUNT),
        (_raw_tracking(b"click,k1,2025-01-06T10:00:00Z,u1,c1,i1,,,x"), Reason.BAD_COLUMN_COUNT),
        (_raw_tracking(b"click,k1,2025-01-06T10:00:00Z,\xffu1,c1,i1,,"), Reason.INVALID_UTF8),
        (_raw_tracking(b",k1,2025-01-06T10:00:00Z,u1,c1,i1,,"), Reason.MISSING_FIELD),
        (_raw_tracking(b"view,k1,2025-01-06T10:00:00Z,u1,c1,i1,,"), Reason.UNKNOWN_RECORD_TYPE),
        (_raw_tracking(b"click,,2025-01-06T10:00:00Z,u1,c1,i1,,"), Reason.MISSING_FIELD),
        (_raw_tracking(b"click,k1,2025-01-06T10:00:00Z,u1,c1,,,"), Reason.MISSING_FIELD),
        (_raw_tracking(b"click,k1,06/01/2025 10:00,u1,c1,i1,,"), Reason.UNPARSABLE_TIMESTAMP),
        (
            _raw_tracking(b"conversion,x1,2025-01-06T10:00:00Z,u1,c1,,purchase,12.5.0"),
            Reason.UNPARSABLE_NUMBER,
        ),
        (
            _raw_tracking(b"conversion,x1,2025-01-06T10:00:00Z,u1,c1,,purchase,"),
            Reason.MISSING_FIELD,
        ),
        (
            _raw_tracking(b"conversion,x1,2025-01-06T10:00:00Z,u1,c1,,purchase,-1.00"),
            Reason.IMPOSSIBLE_VALUE,
        ),
        (
            _raw_tracking(b"conversion,x1,2025-01-06T10:00:00Z,u1,c1,,refund,1.00"),
            Reason.IMPOSSIBLE_VALUE,
        ),
        (
            _raw_tracking(b"conversion,x1,2030-01-06T10:00:00Z,u1,c1,,purchase,1.00"),
            Reason.IMPOSSIBLE_VALUE,
        ),
        (
            Raw.kafka("bid_requests", _bid_request()[:20], ms("2025-01-06T10:00:01Z")),
            Reason.UNDECODABLE_AVRO,
        ),
        (Raw.kafka("bid_requests", b"{}", ms("2025-01-06T10:00:01Z")), Reason.BAD_MAGIC_BYTE),
        (
            Raw.kafka("bid_requests", _bid_request(-0.5), ms("2025-01-06T10:00:01Z")),
            Reason.IMPOSSIBLE_VALUE,
        ),
    ],
)
def test_validation_reason(raw: Raw, reason: str):
    result = run(raw)
    assert quarantined(result, raw.source) == {reason: 1}
    assert result["campaign_daily"] == []


def test_a_bid_request_written_with_the_old_schema_is_curated():
    v1 = contracts.bid_request_schema(1)
    body = io.BytesIO()
    ts = ms("2025-01-06T10:00:00Z")
    fastavro.schemaless_writer(
        body, v1, {"id": "r1", "event_ts": ts, "imp": [{"id": "1"}, {"id": "2"}]}
    )
    old = contracts.frame(contracts.local_schema_id(1), body.getvalue())
    result = run(
        Raw.kafka("bid_requests", old, ts + 5),
        impression("i1", "2025-01-06T10:00:00.100Z", request_id="r1", imp_id="2"),
    )
    assert result["win_rate"] == {"2025-01-06": {"bid_imps": 2, "won_imps": 1}}


def test_tracking_rows_are_read_from_csv_files_with_their_hour(tmp_path):
    from adplatform.simulator.reference import read_raw

    inbox = tmp_path / "tracking_inbox"
    inbox.mkdir()
    (inbox / "tracking_20250106_10.csv").write_bytes(
        contracts.TRACKING_CSV_HEADER.encode()
        + b"\r\nclick,k1,2025-01-06T10:00:00Z,u1,c1,i1,,\r\n\n"
        + b"click,k2,2025-01-06T10:00:01Z,u1,c1,i1,,"  # no final newline: still a row
    )
    raws = list(read_raw(tmp_path))
    assert [r.payload for r in raws] == [
        b"click,k1,2025-01-06T10:00:00Z,u1,c1,i1,,",
        b"click,k2,2025-01-06T10:00:01Z,u1,c1,i1,,",
    ]
    assert {r.arrival_hour_us for r in raws} == {ms("2025-01-06T10:00:00Z") * 1000}
    assert {r.arrival_us for r in raws} == {ms("2025-01-06T11:00:00Z") * 1000}
    assert datetime.fromtimestamp(raws[0].arrival_us / 1e6, UTC).hour == 11
