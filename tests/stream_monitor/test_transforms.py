"""The monitor's transforms on hand-made records; every expectation is written by hand."""

from __future__ import annotations

import io
import sys
from datetime import UTC, datetime, timedelta

import fastavro
import pytest
from pyspark.sql import Row

from adplatform import contracts
from adplatform.contracts import Reason, Rules
from spark_jobs.stream_monitor import transforms
from spark_jobs.stream_monitor.transforms import PARSE_ERROR, SCHEMA_VIOLATION, VALID

from . import records as make

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
EVENT = NOW - timedelta(seconds=40)
ARRIVAL = NOW - timedelta(seconds=10)
BIDS, IMPS = contracts.TOPIC_BID_REQUESTS, contracts.TOPIC_AD_IMPRESSIONS


def v1_bid_request() -> bytes:
    body = io.BytesIO()
    record = {"id": "req-v1", "event_ts": EVENT, "imp": [{"id": "1", "bidfloor": 0.2}]}
    fastavro.schemaless_writer(body, contracts.bid_request_schema(1), record)
    return contracts.frame(contracts.local_schema_id(1), body.getvalue())


def bid_without_imps() -> bytes:
    return contracts.BidRequestCodec().encode({"id": "req-noimp", "event_ts": EVENT, "imp": []})


# (topic, value, expected reason, expected outcome)
CASES = [
    (IMPS, make.impression(EVENT, "imp-ok"), None, VALID),
    (IMPS, make.malformed_impression(), Reason.MALFORMED_JSON, PARSE_ERROR),
    (IMPS, b"not json at all", Reason.MALFORMED_JSON, PARSE_ERROR),
    (IMPS, make.impression(EVENT, "imp-bin").replace(b"u-1", b"u-\xff"), Reason.INVALID_UTF8,
     PARSE_ERROR),
    (IMPS, make.impression(EVENT, "imp-nocamp", campaign_id=None), Reason.MISSING_FIELD,
     SCHEMA_VIOLATION),
    (IMPS, make.impression(EVENT, "imp-str", win_price_micros="2510"), Reason.WRONG_TYPE,
     SCHEMA_VIOLATION),
    (IMPS, make.impression(EVENT, "imp-ts", event_ts="2026-03-02 11:59:20"),
     Reason.UNPARSABLE_TIMESTAMP, SCHEMA_VIOLATION),
    (IMPS, make.impression(EVENT, "imp-neg", win_price_micros=-1), Reason.IMPOSSIBLE_VALUE,
     SCHEMA_VIOLATION),
    (IMPS, make.impression(NOW + timedelta(days=40), "imp-future"), Reason.IMPOSSIBLE_VALUE,
     SCHEMA_VIOLATION),
    (BIDS, make.bid_request(EVENT, "req-ok"), None, VALID),
    (BIDS, v1_bid_request(), None, VALID),
    (BIDS, make.truncated_bid_request(EVENT), Reason.UNDECODABLE_AVRO, PARSE_ERROR),
    (BIDS, make.bid_request(EVENT, "req-extra") + b"\x02\x04", Reason.UNDECODABLE_AVRO,
     PARSE_ERROR),
    (BIDS, make.json_instead_of_avro(), Reason.BAD_MAGIC_BYTE, PARSE_ERROR),
    (BIDS, contracts.frame(-9, make.bid_request(EVENT)[5:]), Reason.UNKNOWN_SCHEMA_ID,
     PARSE_ERROR),
    (BIDS, b"", Reason.BAD_MAGIC_BYTE, PARSE_ERROR),
    (BIDS, bid_without_imps(), Reason.MISSING_FIELD, SCHEMA_VIOLATION),
    (BIDS, make.bid_request(EVENT, "req-neg", bidfloor=-0.1), Reason.IMPOSSIBLE_VALUE,
     SCHEMA_VIOLATION),
    (BIDS, make.bid_request(NOW + timedelta(days=40), "req-future"), Reason.IMPOSSIBLE_VALUE,
     SCHEMA_VIOLATION),
]  # fmt: skip


def records_frame(spark, cases):
    rows = [
        (topic, 0, offset, ARRIVAL, None, value) for offset, (topic, value, *_) in enumerate(cases)
    ]
    return spark.createDataFrame(rows, transforms.RECORD_SCHEMA)


@pytest.fixture(scope="module")
def classified(spark):
    # The bid-request decoder runs in Python workers: they need this interpreter (with
    # fastavro), not whatever `python3` comes first on the PATH.
    context = spark.sparkContext
    before, context.pythonExec = context.pythonExec, sys.executable
    try:
        frame = transforms.classify_records(records_frame(spark, CASES), Rules())
        rows = frame.collect()
    finally:
        context.pythonExec = before
    return {(r["topic"], r["offset"]): r for r in rows}


def test_every_record_gets_the_contract_reason_and_outcome(classified):
    assert len(classified) == len(CASES)
    for offset, (topic, value, reason, outcome) in enumerate(CASES):
        row = classified[topic, offset]
        assert (row["reason"], row["outcome"]) == (reason, outcome), value[:60]
        assert row["bytes"] == len(value)


def utc(collected: datetime) -> datetime:
    """A timestamp as collect() returns it (naive, local time) as an aware UTC datetime."""
    return collected.astimezone(UTC)


def test_valid_records_carry_their_id_and_event_time(classified):
    impression, bid = classified[IMPS, 0], classified[BIDS, 9]
    assert (impression["event_id"], utc(impression["event_ts"])) == ("imp-ok", EVENT)
    assert (bid["event_id"], utc(bid["event_ts"])) == ("req-ok", EVENT)


def test_topic_totals(spark):
    frame = spark.createDataFrame(
        [
            Row(topic=BIDS, bytes=10, outcome=VALID),
            Row(topic=BIDS, bytes=20, outcome=PARSE_ERROR),
            Row(topic=BIDS, bytes=30, outcome=SCHEMA_VIOLATION),
            Row(topic=IMPS, bytes=5, outcome=PARSE_ERROR),
            Row(topic=IMPS, bytes=6, outcome=PARSE_ERROR),
        ]
    )
    totals = {r["topic"]: r.asDict() for r in transforms.topic_totals(frame).collect()}
    assert totals == {
        BIDS: {"topic": BIDS, "records": 3, "bytes": 60, "parse_errors": 1,
               "schema_violations": 1},
        IMPS: {"topic": IMPS, "records": 2, "bytes": 11, "parse_errors": 2,
               "schema_violations": 0},
    }  # fmt: skip


def classified_rows(spark, rows):
    schema = "topic string, outcome string, event_id string, event_ts timestamp"
    return spark.createDataFrame(rows, schema)


def test_lag_of_valid_records_only(spark):
    rows = [(IMPS, VALID, f"i{s}", NOW - timedelta(seconds=s)) for s in range(1, 101)]
    rows += [
        (IMPS, SCHEMA_VIOLATION, "future", NOW + timedelta(days=40)),
        (IMPS, PARSE_ERROR, None, None),
        (BIDS, VALID, "b1", NOW - timedelta(seconds=2)),
        (BIDS, VALID, "b2", NOW - timedelta(seconds=4)),
    ]
    lags = transforms.event_lags(classified_rows(spark, rows), NOW)
    summary = {r["topic"]: r.asDict() for r in transforms.lag_summary(lags).collect()}
    assert summary[IMPS] == {
        "topic": IMPS,
        "lag_mean_s": pytest.approx(50.5),
        "lag_p50_s": pytest.approx(50.0),
        "lag_p95_s": pytest.approx(95.0),
        "lag_p99_s": pytest.approx(99.0),
        "samples": 100,
    }
    assert summary[BIDS]["lag_mean_s"] == pytest.approx(3.0)
    assert summary[BIDS]["samples"] == 2


def test_duplicates_within_the_window_and_the_next_state(spark):
    window = timedelta(minutes=10)
    seen = spark.createDataFrame(
        [
            (IMPS, "a", NOW - timedelta(minutes=5)),  # still in the window
            (IMPS, "b", NOW - timedelta(minutes=20)),  # forgotten
            (BIDS, "c", NOW - timedelta(minutes=1)),  # same id, other topic
        ],
        transforms.SEEN_SCHEMA,
    )
    batch = classified_rows(
        spark,
        [
            (IMPS, VALID, "a", EVENT),
            (IMPS, VALID, "a", EVENT),
            (IMPS, VALID, "b", EVENT),
            (IMPS, VALID, "c", EVENT),
            (IMPS, VALID, "c", EVENT),
            (IMPS, VALID, "c", EVENT),
            (IMPS, VALID, "d", EVENT),
            (IMPS, SCHEMA_VIOLATION, "e", EVENT),  # invalid records are never duplicates
            (IMPS, SCHEMA_VIOLATION, "e", EVENT),
            (BIDS, VALID, "x", EVENT),
        ],
    )
    ids = transforms.dedup_ids(batch, seen, NOW, window)
    counts = {r["topic"]: r["duplicates"] for r in transforms.duplicate_counts(ids).collect()}
    # a: 2 repeats of an id seen 5 min ago; c: 2 repeats within the batch; b was forgotten.
    assert counts == {IMPS: 4, BIDS: 0}
    state = {
        (r["topic"], r["event_id"]): utc(r["first_seen_ts"])
        for r in transforms.next_seen(ids).collect()
    }
    assert state == {
        (IMPS, "a"): NOW - timedelta(minutes=5),
        (IMPS, "b"): NOW,
        (IMPS, "c"): NOW,
        (IMPS, "d"): NOW,
        (BIDS, "c"): NOW - timedelta(minutes=1),
        (BIDS, "x"): NOW,
    }
