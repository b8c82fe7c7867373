"""Confluent wire format for bid requests: framing, local ids, registry ids, and errors."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import fastavro
import pytest

from adplatform import contracts
from adplatform.contracts import BidRequestCodec, DecodeError, Reason
from tests.contracts.fake_registry import fake_registry

TS = datetime(2025, 1, 6, 0, 0, tzinfo=UTC)
REQUEST = {
    "id": "req-1",
    "event_ts": TS,
    "imp": [{"id": "1", "bidfloor": 0.45, "banner": {"w": 300, "h": 250, "pos": 1}}],
    "user": {"id": "u-1", "yob": 1984, "gender": "F"},
    "regs": {"coppa": 0, "gdpr": 1},
    "cur": ["USD"],
}


def test_frame_layout_is_magic_byte_then_big_endian_signed_id():
    assert contracts.frame(1, b"body") == b"\x00\x00\x00\x00\x01body"
    assert contracts.frame(contracts.local_schema_id(2), b"") == b"\x00\xff\xff\xff\xfe"
    assert contracts.unframe(b"\x00\x00\x00\x01\x00xyz") == (256, b"xyz")
    assert contracts.unframe(b"\x00\xff\xff\xff\xff") == (-1, b"")


def test_encode_decode_round_trip_with_the_local_id():
    codec = BidRequestCodec()
    payload = codec.encode(REQUEST)
    assert contracts.unframe(payload)[0] == -contracts.BID_REQUEST_VERSION
    decoded = codec.decode(payload)
    assert decoded["id"] == "req-1"
    assert decoded["imp"][0]["bidfloor"] == 0.45
    assert decoded["regs"] == {"coppa": 0, "gdpr": 1}
    assert decoded["site"] is None and decoded["tmax"] is None


def test_data_written_with_schema_version_1_reads_with_version_2():
    v1 = contracts.bid_request_schema(1)
    old = {k: v for k, v in REQUEST.items() if k != "regs"}
    body = io.BytesIO()
    fastavro.schemaless_writer(body, v1, old)
    payload = contracts.frame(contracts.local_schema_id(1), body.getvalue())
    assert payload[:5] == b"\x00\xff\xff\xff\xff"

    decoded = BidRequestCodec().decode(payload)
    assert decoded["regs"] is None  # added in version 2, default null
    assert decoded["imp"][0]["bidfloorcur"] == "USD"  # added in version 2, default USD
    assert decoded["user"] == {"id": "u-1", "yob": 1984, "gender": "F"}


def test_version_2_only_adds_fields_with_defaults():
    v1 = json.loads(contracts.bid_request_schema_text(1))
    v2 = json.loads(contracts.bid_request_schema_text(2))
    v1_fields = {f["name"] for f in v1["fields"]}
    added = [f for f in v2["fields"] if f["name"] not in v1_fields]
    assert [f["name"] for f in added] == ["regs"]
    assert all("default" in f for f in added)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", Reason.BAD_MAGIC_BYTE),
        (b'{"id":"req-1"}', Reason.BAD_MAGIC_BYTE),
        (b"\x01\xff\xff\xff\xfe\x00", Reason.BAD_MAGIC_BYTE),
        (b"\x00\xff\xff", Reason.UNDECODABLE_AVRO),
        (b"\x00\xff\xff\xff\xf0" + b"\x00" * 20, Reason.UNKNOWN_SCHEMA_ID),  # version 16
        (b"\x00\x00\x00\x00\x07" + b"\x00" * 20, Reason.UNKNOWN_SCHEMA_ID),  # no registry
    ],
)
def test_corrupted_payloads_raise_decode_error_with_reason(payload: bytes, reason: str):
    with pytest.raises(DecodeError) as caught:
        BidRequestCodec().decode(payload)
    assert caught.value.reason == reason
    assert caught.value.detail


def test_every_truncation_and_trailing_garbage_is_undecodable():
    codec = BidRequestCodec()
    payload = codec.encode(REQUEST)
    for cut in range(5, len(payload)):
        with pytest.raises(DecodeError) as caught:
            codec.decode(payload[:cut])
        assert caught.value.reason == Reason.UNDECODABLE_AVRO, cut
    with pytest.raises(DecodeError) as caught:
        codec.decode(payload + b"\x00")
    assert caught.value.reason == Reason.UNDECODABLE_AVRO
    assert "left after the record" in caught.value.detail


def test_with_a_schema_registry_the_id_is_the_registry_id():
    with fake_registry() as registry_url:
        _check_registry(registry_url)


def _check_registry(registry_url: str) -> None:
    codec = BidRequestCodec(contracts.SchemaRegistryClient(registry_url))
    payload = codec.encode(REQUEST)
    assert payload[:5] == b"\x00\x00\x00\x00\x64"  # id 100 from the registry
    # A second reader that only knows the registry decodes it by looking the id up.
    reader = BidRequestCodec(contracts.SchemaRegistryClient(registry_url))
    assert reader.decode(payload)["id"] == "req-1"
    # Local ids still decode when a registry is configured.
    assert reader.decode(BidRequestCodec().encode(REQUEST))["id"] == "req-1"
    with pytest.raises(DecodeError) as caught:
        reader.decode(b"\x00\x00\x00\x00\x65" + payload[5:])
    assert caught.value.reason == Reason.UNKNOWN_SCHEMA_ID
