"""The schema files agree with each other, with the code, and with what the simulator writes."""

from __future__ import annotations

import json
from datetime import timedelta

import jsonschema
import pytest

from adplatform import contracts
from adplatform.settings import load


def test_tracking_spec_matches_the_code():
    spec = contracts.tracking_csv_spec()
    assert spec["header"] == contracts.TRACKING_CSV_HEADER
    assert [c["name"] for c in spec["columns"]] == list(contracts.TRACKING_CSV_COLUMNS)
    types = next(c for c in spec["columns"] if c["name"] == "conversion_type")
    assert tuple(types["allowed"]) == contracts.CONVERSION_TYPES


def test_impression_schema_is_valid_draft_2020_12():
    schema = contracts.impression_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["required"][0] == "impression_id"


GOOD = {
    "impression_id": "imp-1",
    "request_id": "r1",
    "imp_id": "1",
    "event_ts": "2025-01-06T13:45:12.345+01:00",
    "user_id": "u-1",
    "campaign_id": "cmp-0001",
    "creative_id": "cr-0001-1",
    "site": None,
    "app": {"id": "app-001", "bundle": "com.example.news", "publisher_id": "pub-013"},
    "device": {"type": "mobile", "os": "iOS", "ua": "Mozilla/5.0", "ifa": None},
    "geo": {"country": "DE", "region": "BY", "city": "München"},
    "ip": "203.0.113.7",
    "win_price_micros": 2510,
    "currency": "USD",
}


@pytest.mark.parametrize(
    "change",
    [
        {"win_price_micros": "2510"},
        {"win_price_micros": 2510.5},
        {"win_price_micros": -1},
        {"user_id": 12345},
        {"user_id": ""},
        {"event_ts": "2025-01-06 13:45:12"},
        {"event_ts": "2025-01-06T13:45:12"},
        {"currency": "EUR"},
        {"site": "unknown"},
    ],
)
def test_impression_schema_rejects_what_the_clean_job_quarantines(change):
    validator = jsonschema.Draft202012Validator(contracts.impression_json_schema())
    assert validator.is_valid(GOOD)
    assert not validator.is_valid({**GOOD, **change})


def test_impression_schema_requires_every_required_field():
    validator = jsonschema.Draft202012Validator(contracts.impression_json_schema())
    for name in contracts.impression_json_schema()["required"]:
        assert not validator.is_valid({k: v for k, v in GOOD.items() if k != name}), name


def test_rules_come_from_the_settings():
    rules = contracts.Rules.from_settings(
        load({"ADPLATFORM_CLICK_WINDOW_HOURS": "12", "ADPLATFORM_LATE_GRACE_HOURS": "3"})
    )
    assert rules.click_window == timedelta(hours=12)
    assert rules.late_grace == timedelta(hours=3)
    assert rules.last_click_lookback == timedelta(days=7)
    assert rules.last_view_lookback == timedelta(days=1)
    assert contracts.Rules.from_settings(load({})) == contracts.Rules()


def test_reason_vocabulary_is_closed_and_unique():
    reasons = contracts.Reason.all()
    assert len(reasons) == len(set(reasons))
    assert "malformed_json" in reasons and "too_late" in reasons


def test_impression_kafka_record_is_what_fluentd_publishes():
    line = json.dumps(GOOD, ensure_ascii=False, separators=(",", ":")).encode()
    assert contracts.impression_kafka_record(line) == (b"imp-1", line)

    truncated = line[:40]
    key, value = contracts.impression_kafka_record(truncated)
    assert key is None
    assert json.loads(value) == {"unmatched_line": truncated.decode()}

    no_id = json.dumps({**GOOD, "impression_id": None}).encode()
    assert contracts.impression_kafka_record(no_id) == (None, no_id)

    not_utf8 = line.replace(b"M\xc3\xbcnchen", b"M\xfcnchen")  # Latin-1 from a bad server
    assert contracts.impression_kafka_record(not_utf8) == (b"imp-1", not_utf8)

    assert contracts.impression_kafka_record(b"[1,2]")[0] is None


@pytest.mark.parametrize(
    "line",
    [b'{"impression_id":"imp-1"}{"impression_id":"imp-2"}', b'{"impression_id":"imp-1","x":NaN}'],
    ids=["two_objects", "nan"],
)
def test_a_line_that_is_not_one_json_object_is_published_as_unmatched(line):
    key, value = contracts.impression_kafka_record(line)
    assert (key, json.loads(value)) == (None, {"unmatched_line": line.decode()})
