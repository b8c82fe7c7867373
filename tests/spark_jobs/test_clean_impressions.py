"""clean_impressions: every validation reason, lateness and ownership, dedup, curated columns.

Each test builds a few landed Kafka records by hand and states the expected outcome of each
one (docs/data-contracts.md §2-4).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date

import pytest

from adplatform.contracts import Rules
from spark_jobs.clean_impressions.transforms import (
    classify_impressions,
    curated_impressions,
    parse_impressions,
)
from spark_jobs.common.outcomes import count_outcomes
from tests.spark_jobs.landed import KEY, dumps, impression, kafka_rows, ts

RULES = Rules()
D = date(2025, 3, 1)
TOPIC = "ad_impressions"


def _classify(spark, records, ds=D):
    landed = kafka_rows(spark, TOPIC, records)
    return classify_impressions(parse_impressions(landed, RULES), ds, RULES)


def _outcomes(classified) -> dict[int, tuple[str, str | None]]:
    rows = classified.select("offset", "outcome", "reason").collect()
    return {r.offset: (r.outcome, r.reason) for r in rows}


def test_every_bad_input_gets_its_reason(spark):
    good = dumps(impression())
    records = [
        (b"imp-1", good, "2025-03-01 10:00:05"),  # 0 valid
        (None, good[:-7], "2025-03-01 10:00:05"),  # 1 cut short
        (None, dumps({"unmatched_line": "garbage"}), "2025-03-01 10:00:05"),  # 2 Fluentd
        (None, good + b" trailing", "2025-03-01 10:00:05"),  # 3 data after the object
        (None, good.replace(b'"cr-1"', b'"cr-\xe9"'), "2025-03-01 10:00:05"),  # 4 not UTF-8
        (None, dumps(impression(user_id=...)), "2025-03-01 10:00:05"),  # 5 absent
        (None, dumps(impression(campaign_id=None)), "2025-03-01 10:00:05"),  # 6 null
        (None, dumps(impression(creative_id="")), "2025-03-01 10:00:05"),  # 7 empty
        (None, dumps(impression(win_price_micros="2510")), "2025-03-01 10:00:05"),  # 8
        (None, dumps(impression(win_price_micros=2510.0)), "2025-03-01 10:00:05"),  # 9
        (None, dumps(impression(user_id=12345)), "2025-03-01 10:00:05"),  # 10
        (None, dumps(impression(site="unknown")), "2025-03-01 10:00:05"),  # 11
        (None, dumps(impression(win_price_micros=True)), "2025-03-01 10:00:05"),  # 12
        (None, dumps(impression(event_ts="2025-03-01 10:00:00Z")), "2025-03-01 10:00:05"),  # 13
        (None, dumps(impression(event_ts="2025-02-30T10:00:00Z")), "2025-03-01 10:00:05"),  # 14
        (None, dumps(impression(win_price_micros=-2510)), "2025-03-01 10:00:05"),  # 15
        (None, dumps(impression(currency="EUR")), "2025-03-01 10:00:05"),  # 16
        (None, dumps(impression(ip=7)), "2025-03-01 10:00:05"),  # 17
        (None, b"[1,2,3]", "2025-03-01 10:00:05"),  # 18 not an object
        (None, b"", "2025-03-01 10:00:05"),  # 19 empty value
        (None, dumps(impression(win_price_micros=1_000_000_001)), "2025-03-01 10:00:05"),  # 20
    ]
    got = _outcomes(_classify(spark, records))
    assert got == {
        0: ("curated", None),
        1: ("quarantined", "malformed_json"),
        2: ("quarantined", "malformed_json"),
        3: ("quarantined", "malformed_json"),
        4: ("quarantined", "invalid_utf8"),
        5: ("quarantined", "missing_field"),
        6: ("quarantined", "missing_field"),
        7: ("quarantined", "missing_field"),
        8: ("quarantined", "wrong_type"),
        9: ("quarantined", "wrong_type"),
        10: ("quarantined", "wrong_type"),
        11: ("quarantined", "wrong_type"),
        12: ("quarantined", "wrong_type"),
        13: ("quarantined", "unparsable_timestamp"),
        14: ("quarantined", "unparsable_timestamp"),
        15: ("quarantined", "impossible_value"),
        16: ("quarantined", "impossible_value"),
        17: ("quarantined", "wrong_type"),
        18: ("quarantined", "malformed_json"),
        19: ("quarantined", "malformed_json"),
        20: ("quarantined", "impossible_value"),
    }


def test_the_first_failing_check_wins(spark):
    # Missing user_id and a negative price: missing_field is checked first.
    both = dumps(impression(user_id=..., win_price_micros=-1))
    got = _outcomes(_classify(spark, [(None, both, "2025-03-01 10:00:05")]))
    assert got == {0: ("quarantined", "missing_field")}


def test_lateness_and_the_owner_day(spark):
    def at(event_ts: str, **changes):
        return dumps(impression(impression_id=f"imp-{event_ts}", event_ts=event_ts, **changes))

    records = [
        (None, at("2025-03-01T23:30:00Z"), "2025-03-02 05:59:59"),  # 0 late, within grace
        (None, at("2025-03-01T23:30:00Z"), "2025-03-02 06:00:00"),  # 1 beyond grace
        (None, at("2025-02-28T23:00:00Z"), "2025-03-01 01:00:00"),  # 2 owned by Feb 28
        (None, at("2025-03-02T00:30:00Z"), "2025-03-01 23:00:00"),  # 3 early: owned by Mar 2
        (None, at("2025-06-01T00:00:00Z"), "2025-03-01 12:00:00"),  # 4 far future
        (None, at("2025-03-01T14:00:01Z"), "2025-03-01 12:00:00"),  # 5 just past tolerance
        (None, at("2025-03-01T14:00:00Z"), "2025-03-01 12:59:59"),  # 6 at the tolerance
        (None, at("2025-03-01T10:00:00Z", win_price_micros=-5), "2025-03-02 01:00:00"),  # 7
        (None, at("2025-03-01T10:00:00+02:00"), "2025-03-01 10:00:00"),  # 8 offset -> 08:00Z
    ]
    on_d = _outcomes(_classify(spark, records, D))
    assert on_d == {
        0: ("curated", None),
        4: ("quarantined", "impossible_value"),  # owned by its arrival date
        5: ("quarantined", "impossible_value"),
        6: ("curated", None),
        7: ("quarantined", "impossible_value"),  # readable event_ts: owned by its event date
        8: ("curated", None),
    }
    on_next_day = _outcomes(_classify(spark, records, date(2025, 3, 2)))
    assert on_next_day == {1: ("quarantined", "too_late"), 3: ("curated", None)}


def test_dedup_by_impression_id_first_arrival_wins(spark):
    first = dumps(impression())
    records = [
        (b"imp-1", first, "2025-03-01 10:05:00"),  # 0 re-send, arrived later
        (b"imp-1", first, "2025-03-01 10:00:05"),  # 1 first arrival
        (b"imp-2", dumps(impression(impression_id="imp-2")), "2025-03-01 10:00:05"),  # 2
        (b"imp-1", first, "2025-03-01 10:00:05"),  # 3 same time, larger offset
        (None, first[:-3], "2025-03-01 10:00:05"),  # 4 bad records are never duplicates
        (None, first[:-3], "2025-03-01 10:00:05"),  # 5
    ]
    classified = _classify(spark, records)
    assert _outcomes(classified) == {
        0: ("duplicate", None),
        1: ("curated", None),
        2: ("curated", None),
        3: ("duplicate", None),
        4: ("quarantined", "malformed_json"),
        5: ("quarantined", "malformed_json"),
    }
    counts = count_outcomes(classified)
    assert (counts.rows_in, counts.curated, counts.duplicates) == (6, 2, 2)
    assert counts.quarantined_by_reason == {"malformed_json": 2}


def test_curated_columns_are_normalised_and_pseudonymised(spark):
    records = [(b"imp-1", dumps(impression()), "2025-03-01 10:00:05")]
    row = curated_impressions(_classify(spark, records), KEY).collect()
    assert len(row) == 1
    got = row[0].asDict()
    assert got == {
        "impression_id": "imp-1",
        "request_id": "req-1",
        "imp_id": "1",
        "event_ts": ts("2025-03-01 10:00:00"),
        "user_id": hmac.new(KEY.encode(), b"u-1", hashlib.sha256).hexdigest(),
        "campaign_id": "c-1",
        "creative_id": "cr-1",
        "inventory_type": "site",
        "site_id": "s-1",
        "site_domain": "news.example",
        "app_id": None,
        "app_bundle": None,
        "publisher_id": "p-1",
        "device_type": "mobile",
        "device_os": "iOS",
        "device_ifa": hmac.new(KEY.encode(), b"ifa-1", hashlib.sha256).hexdigest(),
        "country": "DE",
        "region": "BE",
        "city": "Berlin",
        "ip_truncated": "203.0.113.0",
        "win_price_micros": 2510,
        "currency": "USD",
        "arrival_ts": ts("2025-03-01 10:00:05"),
        "kafka_partition": 0,
        "kafka_offset": 0,
        "dt": D,
    }


@pytest.mark.parametrize("detail_of", ["missing_field"])
def test_quarantine_detail_names_the_field(spark, detail_of):
    records = [(None, dumps(impression(request_id=...)), "2025-03-01 10:00:05")]
    row = _classify(spark, records).select("reason", "detail").first()
    assert (row.reason, row.detail) == (detail_of, "missing request_id")
