"""Hand-made Kafka records of both topics, good and bad, written with the contract's encoders.

Each builder returns the exact bytes a producer would put on the topic, so a test knows by
construction how the monitor must classify every record it sends.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from adplatform import contracts


def _ts(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def impression(at: datetime, impression_id: str | None = None, **changes) -> bytes:
    """A valid ad-server JSON line stamped ``at`` (what Fluentd publishes), with ``changes``
    applied; a change to ``None`` removes the field."""
    obj = {
        "impression_id": impression_id or f"imp-{uuid.uuid4().hex[:16]}",
        "request_id": f"req-{uuid.uuid4().hex[:16]}",
        "imp_id": "1",
        "event_ts": _ts(at),
        "user_id": "u-1",
        "campaign_id": "c-1",
        "creative_id": "cr-1",
        "site": {"id": "s-1", "domain": "example.com", "publisher_id": "p-1"},
        "app": None,
        "device": {"type": "mobile", "os": "android", "ua": "ua", "ifa": "ifa-1"},
        "geo": {"country": "FR", "region": "IDF", "city": "Paris"},
        "ip": "192.0.2.10",
        "win_price_micros": 2510,
        "currency": "USD",
    }
    for key, value in changes.items():
        if value is None:
            obj.pop(key, None)
        else:
            obj[key] = value
    return json.dumps(obj, separators=(",", ":")).encode()


def malformed_impression() -> bytes:
    """A log line cut short, as Fluentd publishes a line its JSON parser rejects."""
    _, value = contracts.impression_kafka_record(b'{"impression_id":"imp-cut","event_ts":"20')
    return value


def bid_request(event_ts: datetime, request_id: str | None = None, bidfloor: float = 0.5) -> bytes:
    """A bid request in the Confluent wire format (registry-less schema id)."""
    record = {
        "id": request_id or f"req-{uuid.uuid4().hex[:16]}",
        "event_ts": event_ts,
        "imp": [{"id": "1", "bidfloor": bidfloor, "banner": {"w": 300, "h": 250, "pos": 1}}],
        "device": {"ip": "192.0.2.10", "devicetype": 4, "os": "android"},
        "tmax": 120,
        "cur": ["USD"],
    }
    return contracts.BidRequestCodec().encode(record)


def truncated_bid_request(event_ts: datetime) -> bytes:
    """A wire-format payload cut short: undecodable Avro."""
    return bid_request(event_ts)[:-7]


def json_instead_of_avro() -> bytes:
    """A producer that sent JSON to the Avro topic: bad magic byte."""
    return b'{"id":"req-json","imp":[]}'
