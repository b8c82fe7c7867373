"""OpenRTB JSON as real exchanges send it: the specification's simple-banner example
(tests/data/openrtb/) with the deviations met in real traffic. What the spec's JSON allows
is normalised (numeric strings, one string for a list of strings); the rest raises a
DecodeError with a reason and the field's path, never a bare ValueError."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adplatform import contracts
from adplatform.contracts import DecodeError, Reason

EXAMPLE = json.loads(
    (Path(__file__).parent.parent / "data" / "openrtb" / "request-1-simple-banner.json").read_text()
)
RECEIVED = datetime(2025, 1, 6, 13, 45, 12, tzinfo=UTC)


def _example(**changes) -> dict:
    """The example with ``changes`` applied: ``{"user.yob": "1985"}``-style paths."""
    obj = copy.deepcopy(EXAMPLE)
    obj["device"] = {"geo": {"country": "US"}, "devicetype": 2}
    for path, value in changes.items():
        *parents, name = path.split(".")
        target = obj
        for parent in parents:
            target = target[int(parent)] if isinstance(target, list) else target[parent]
        target[name] = value
    return obj


def test_numeric_strings_and_a_single_category_are_normalised():
    obj = _example(**{"user.yob": "1985", "site.cat": "IAB1", "imp.0.bidfloor": "0.5",
                      "device.devicetype": "4", "tmax": "120", "cur": "USD"})  # fmt: skip
    codec = contracts.BidRequestCodec()
    decoded = codec.decode(codec.encode(contracts.bid_request_from_openrtb(obj, RECEIVED)))
    assert decoded["user"]["yob"] == 1985
    assert decoded["site"]["cat"] == ["IAB1"]
    assert decoded["imp"][0]["bidfloor"] == 0.5
    assert decoded["device"]["devicetype"] == 4
    assert decoded["tmax"] == 120
    assert decoded["cur"] == ["USD"]
    # An alpha-2 country is kept as sent; clean_bid_requests normalises it (and counts it).
    assert decoded["device"]["geo"]["country"] == "US"


@pytest.mark.parametrize(
    ("changes", "reason", "detail"),
    [
        ({"user.yob": "19x5"}, Reason.UNPARSABLE_NUMBER, "user.yob '19x5' is not a number"),
        ({"user.yob": "1985.0"}, Reason.UNPARSABLE_NUMBER, "user.yob '1985.0' is not a number"),
        ({"user.yob": 1985.5}, Reason.WRONG_TYPE, "user.yob is float, not an integer"),
        ({"imp.0.bidfloor": "cheap"}, Reason.UNPARSABLE_NUMBER,
         "imp.bidfloor 'cheap' is not a number"),
        ({"imp.0.bidfloor": "NaN"}, Reason.UNPARSABLE_NUMBER, "imp.bidfloor 'NaN' is not a number"),
        ({"imp.0.bidfloor": True}, Reason.WRONG_TYPE, "imp.bidfloor is bool, not a number"),
        ({"imp.0.bidfloor": [0.5]}, Reason.WRONG_TYPE, "imp.bidfloor is list, not a number"),
        ({"site.cat": 7}, Reason.WRONG_TYPE, "site.cat is int, not a list of strings"),
        ({"site.cat": ["IAB1", 2]}, Reason.WRONG_TYPE, "site.cat is list, not a list of strings"),
        ({"site.publisher": "8953"}, Reason.WRONG_TYPE, "site.publisher is str, not an object"),
        ({"site.id": 102855}, Reason.WRONG_TYPE, "site.id is int, not a string"),
        ({"imp": {"id": "1"}}, Reason.WRONG_TYPE, "imp is dict, not a list"),
        ({"id": None}, Reason.MISSING_FIELD, "id is missing"),
        ({"imp.0.id": None}, Reason.MISSING_FIELD, "imp.id is missing"),
        ({"tmax": 2**31}, Reason.IMPOSSIBLE_VALUE, "tmax 2147483648 is not a 32-bit int"),
        ({"tmax": "9" * 5000}, Reason.IMPOSSIBLE_VALUE, "tmax has too many digits"),
        ({"imp.0.bidfloor": 10**400}, Reason.IMPOSSIBLE_VALUE,
         "imp.bidfloor does not fit a double"),
    ],
)  # fmt: skip
def test_what_can_not_be_normalised_raises_a_decode_error_with_its_reason(changes, reason, detail):
    with pytest.raises(DecodeError) as err:
        contracts.bid_request_from_openrtb(_example(**changes), RECEIVED)
    assert (err.value.reason, err.value.detail) == (reason, detail)
