"""The DuckDB peer's building blocks against the contract's reference, on hand-picked cases."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date

import pytest

from adplatform.contracts import Rules
from adplatform.simulator.reference import parse_ts
from bench.peer import PeerJob

TIMESTAMPS = [
    "2025-03-03T10:45:13.492Z",
    "2025-03-03T10:45:13Z",
    "2025-03-03T10:45:13.1Z",
    "2025-03-03T10:45:13.123456Z",
    "2025-03-01T01:30:00+02:00",
    "2025-03-01T23:30:00-05:30",
    "2024-02-29T00:00:00Z",
    "2025-02-29T00:00:00Z",  # no such day
    "2025-13-01T00:00:00Z",
    "2025-03-03T24:00:00Z",
    "2025-03-03T23:60:00Z",
    "2025-03-03T23:59:60Z",
    "2025-03-03T10:45:13+24:00",
    "2025-03-03T10:45:13+01:60",
    "2025-03-03T10:45:13.1234567Z",
    "2025-03-03 10:45:13Z",
    "2025-03-03T10:45:13",
    "03/03/2025 10:45:13",
    "yesterday",
]


@pytest.fixture(scope="module")
def peer(tmp_path_factory):
    root = tmp_path_factory.mktemp("peer")
    return PeerJob(root / "lake", root / "peer", date(2025, 3, 3), "k3y", Rules())


@pytest.mark.parametrize("text", TIMESTAMPS)
def test_timestamp_grammar_equals_the_reference(peer, text):
    got = peer.con.execute("SELECT contract_ts_us(?)", [text]).fetchone()[0]
    assert got == parse_ts(text)


@pytest.mark.parametrize("user_id", ["u-00058d97652b", "", "ü-ñ"])
def test_pseudonym_is_hmac_sha256(peer, user_id):
    got = peer.con.execute("SELECT pseudonym(?)", [user_id]).fetchone()[0]
    assert got == hmac.new(b"k3y", user_id.encode(), hashlib.sha256).hexdigest()


def test_arrival_hours_are_the_contract_window(peer):
    hours = peer.arrival_hours()
    assert (hours[0].isoformat(), hours[-1].isoformat(), len(hours)) == (
        "2025-03-02T22:00:00",
        "2025-03-04T05:00:00",
        32,
    )
