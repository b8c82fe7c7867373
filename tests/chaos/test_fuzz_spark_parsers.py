"""Property-based fuzzing of the clean jobs' parsers (the pure Spark transforms), against
the contract's independent Python reference.

Each example is a whole batch of generated records, parsed in one Spark job, so that a
bounded number of examples still covers thousands of records. For every record: the
transform neither raises nor loses it (one output row per input row), its reason is in
the contract's vocabulary, and it is the reason the reference gives (the reference also
decides lateness, which the parse step leaves to the classification: its ``too_late`` is
"valid" here). The two documented differences (docs/batch-jobs.md, "Where the
implementation differs") are excluded by construction: generated JSON has no duplicate
keys, NaN or integers beyond 64 bits, and a bid-request body with bytes left over after
a whole record may read in Spark.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import fastavro
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adplatform import contracts
from adplatform.contracts import Reason, Rules
from adplatform.simulator.reference import Raw, Reference
from spark_jobs.clean_bid_requests.transforms import (
    decode_avro,
    parse_bid_requests,
    split_wire_format,
    writer_schemas,
)
from spark_jobs.clean_impressions.transforms import parse_impressions
from spark_jobs.clean_tracking.transforms import parse_tracking, tracking_lines
from tests.chaos.fuzzing import SPARK
from tests.chaos.test_fuzz_contracts import impression_objects, json_values
from tests.spark_jobs.landed import TRACKING_HEADER, kafka_rows, tracking_files
from tests.spark_jobs.test_clean_bid_requests import _has_spark_avro

pytestmark = pytest.mark.slow

RULES = Rules()
REFERENCE = Reference(RULES)
REASONS = set(Reason.all())
ARRIVAL = datetime(2025, 3, 1, 12, 7, 30)  # naive UTC, as the session time zone is UTC
ARRIVAL_MS = int(ARRIVAL.replace(tzinfo=UTC).timestamp() * 1000)
CODEC = contracts.BidRequestCodec()
BATCH = st.integers(min_value=20, max_value=60)


def _expected(raw: Raw) -> str | None:
    reason = REFERENCE.check(raw).reason
    return None if reason == Reason.TOO_LATE else reason


def _kafka(spark, topic: str, payloads: list[bytes]):
    return kafka_rows(spark, topic, [(None, p, ARRIVAL.isoformat(" ")) for p in payloads])


def _reasons(parsed, order: str) -> list[str | None]:
    rows = parsed.select(order, "reason").orderBy(order).collect()
    return [r.reason for r in rows]


@pytest.fixture(scope="module")
def session(spark):
    return spark


# -- impressions ------------------------------------------------------------------------

impression_payloads = st.one_of(
    impression_objects().map(lambda o: json.dumps(o, separators=(",", ":")).encode()),
    impression_objects().map(lambda o: json.dumps(o, ensure_ascii=False).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=300),
    # truncated objects, as a cut log line
    impression_objects().flatmap(
        lambda o: st.integers(0, 200).map(lambda n: json.dumps(o).encode()[:n])
    ),
)


@SPARK
@given(st.lists(impression_payloads, min_size=20, max_size=60))
def test_impression_parser_gives_every_record_the_reference_reason(session, payloads):
    parsed = parse_impressions(_kafka(session, contracts.TOPIC_AD_IMPRESSIONS, payloads), RULES)
    got = _reasons(parsed, "offset")
    assert len(got) == len(payloads)
    assert {r for r in got if r is not None} <= REASONS
    for payload, reason in zip(payloads, got, strict=True):
        assert reason == _expected(Raw.kafka("impressions", payload, ARRIVAL_MS)), payload


# -- tracking CSV -----------------------------------------------------------------------

csv_fields = st.one_of(
    st.sampled_from(
        [
            *("", "click", "conversion", "purchase", "lead", "12.50", "-1", "1.1234567", "x"),
            *("2025-03-01T11:00:00Z", "2025-03-01T11:00:00+02:00", "2025-02-30T11:00:00Z"),
        ]
    ),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters=",\n\r"), max_size=12),
)
tracking_lines_st = st.one_of(
    st.lists(csv_fields, min_size=8, max_size=8).map(lambda f: ",".join(f).encode()),
    st.lists(csv_fields, min_size=1, max_size=11).map(lambda f: ",".join(f).encode()),
    st.binary(min_size=1, max_size=200).filter(lambda b: b"\n" not in b and b"\r" not in b),
)


@SPARK
@given(st.lists(tracking_lines_st, min_size=20, max_size=60))
def test_tracking_parser_gives_every_row_the_reference_reason(session, lines):
    lines = [line for line in lines if line and line != TRACKING_HEADER]
    parsed = parse_tracking(
        tracking_lines(tracking_files(session, {"tracking_20250301_11.csv": lines})), RULES
    )
    got = _reasons(parsed, "line_number")
    assert len(got) == len(lines)
    assert {r for r in got if r is not None} <= REASONS
    hour_us = int(datetime(2025, 3, 1, 11, tzinfo=UTC).timestamp()) * 1_000_000
    for line, reason in zip(lines, got, strict=True):
        assert reason == _expected(Raw.csv_row(line, hour_us)), line


# -- bid requests -----------------------------------------------------------------------

ids = st.one_of(st.just(""), st.text(max_size=8))


@st.composite
def bid_requests(draw) -> bytes:
    event = datetime(2025, 3, 1, 11, tzinfo=UTC) + timedelta(minutes=draw(st.integers(-3000, 300)))
    imps = draw(
        st.lists(
            st.fixed_dictionaries({"id": ids, "bidfloor": st.floats(-5, 50, allow_nan=False)}),
            max_size=3,
        )
    )
    payload = CODEC.encode({"id": draw(ids), "imp": imps, "event_ts": event})
    cut = draw(st.integers(0, len(payload)) | st.just(len(payload)))
    return payload[:cut]


bid_payloads = st.one_of(
    bid_requests(),
    st.binary(max_size=200),
    st.binary(max_size=200).map(lambda b: contracts.frame(-2, b)),
    st.binary(max_size=40).map(lambda b: contracts.frame(7, b)),
)


def _reads_with_leftover(payload: bytes) -> bool:
    """The Python decoder rejects bytes after a whole record; from_avro does not notice."""
    try:
        schema_id, body = contracts.unframe(payload)
        stream = io.BytesIO(body)
        fastavro.schemaless_reader(stream, CODEC.writer_schema(schema_id), CODEC.reader_schema)
    except Exception:
        return False
    return stream.tell() != len(body)


@SPARK
@given(st.lists(bid_payloads, min_size=20, max_size=60))
def test_bid_request_parser_gives_every_record_the_reference_reason(session, payloads):
    if not _has_spark_avro(session):
        pytest.skip("spark-avro jar not on the test session's classpath (spark.jars)")
    landed = _kafka(session, contracts.TOPIC_BID_REQUESTS, payloads)
    parsed = parse_bid_requests(decode_avro(split_wire_format(landed), writer_schemas()), RULES)
    got = _reasons(parsed, "offset")
    assert len(got) == len(payloads)
    assert {r for r in got if r is not None} <= REASONS
    for payload, reason in zip(payloads, got, strict=True):
        if _reads_with_leftover(payload):
            continue
        assert reason == _expected(Raw.kafka("bid_requests", payload, ARRIVAL_MS)), payload
