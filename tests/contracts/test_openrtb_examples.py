"""The five OpenRTB 2.6 specification examples convert to the Avro subset and round-trip."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adplatform import contracts

EXAMPLES = sorted((Path(__file__).parent.parent / "data" / "openrtb").glob("*.json"))
RECEIVED = datetime(2025, 1, 6, 13, 45, 12, 345000, tzinfo=UTC)


def test_all_five_examples_are_there():
    assert [p.name for p in EXAMPLES] == [
        "request-1-simple-banner.json",
        "request-2-expandable-creative.json",
        "request-3-mobile.json",
        "request-4-video.json",
        "request-5-pmp-direct-deal.json",
    ]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_round_trips_through_the_wire_format(path: Path):
    original = json.loads(path.read_text())
    codec = contracts.BidRequestCodec()
    payload = codec.encode(contracts.bid_request_from_openrtb(original, RECEIVED))

    assert payload[:5] == b"\x00\xff\xff\xff\xfe"  # magic byte, local id -2 (version 2)
    decoded = codec.decode(payload)
    assert decoded["id"] == original["id"]
    assert decoded["event_ts"] == RECEIVED
    assert [i["id"] for i in decoded["imp"]] == [i["id"] for i in original["imp"]]
    assert [i["bidfloor"] for i in decoded["imp"]] == [i["bidfloor"] for i in original["imp"]]
    assert decoded["user"]["id"] == original["user"]["id"]
    for kind in ("site", "app"):
        if kind in original:
            assert decoded[kind]["id"] == original[kind]["id"]
            assert decoded[kind]["publisher"]["id"] == original[kind]["publisher"]["id"]
            assert decoded[kind]["cat"] == original[kind].get("cat", [])
        else:
            assert decoded[kind] is None
    # Encoding the decoded record again gives the same bytes: nothing else was kept.
    assert codec.encode(decoded) == payload


def test_fields_outside_the_subset_are_dropped_and_defaults_filled():
    by_name = {p.stem: json.loads(p.read_text()) for p in EXAMPLES}
    codec = contracts.BidRequestCodec()

    mobile = codec.decode(
        codec.encode(contracts.bid_request_from_openrtb(by_name["request-3-mobile"], RECEIVED))
    )
    assert mobile["device"] == {
        "ua": by_name["request-3-mobile"]["device"]["ua"],
        "ip": None,
        "ipv6": None,
        "ifa": "AA000DFE74168477C70D291f574D344790E0BB11",
        "devicetype": 1,
        "os": "iOS",
        "geo": None,
    }  # make, model, carrier, language, js, dnt, connectiontype dropped
    assert mobile["imp"][0]["tagid"] == "agltb3B1Yi1pbmNyDQsSBFNpdGUY7fD0FAw"
    assert mobile["imp"][0]["bidfloorcur"] == "USD"  # schema default
    assert mobile["cur"] == []  # absent in the example: the schema default
    assert mobile["app"]["bundle"] == "12345"
    assert "bcat" not in mobile and "at" not in mobile

    video = codec.decode(
        codec.encode(contracts.bid_request_from_openrtb(by_name["request-4-video"], RECEIVED))
    )
    assert video["imp"][0]["banner"] is None  # a video imp keeps id and floor only
    assert video["tmax"] == 120
    assert video["site"]["name"] == "Site ABCD"

    pmp = contracts.bid_request_from_openrtb(by_name["request-5-pmp-direct-deal"], RECEIVED)
    assert "pmp" not in pmp["imp"][0]
