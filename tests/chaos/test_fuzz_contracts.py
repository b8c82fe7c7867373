"""Property-based fuzzing of the pure-Python parsers and validators: arbitrary bytes and
rows never raise, and every input ends either parsed or rejected with a contract reason.

Covered: the Confluent wire format and Avro decoder (``contracts.unframe``,
``BidRequestCodec.decode``), what Fluentd publishes for a log line
(``contracts.impression_kafka_record``), the timestamp grammar (``reference.parse_ts``),
the contract's record checks for every source (``Reference.check``, the ground truth the
jobs are held to), and the tracking intake's whole-file checks (``tracking.inspect``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from adplatform import contracts
from adplatform.contracts import Reason, Rules
from adplatform.landing import tracking
from adplatform.simulator.reference import Raw, Reference, parse_ts
from tests.chaos.fuzzing import PURE

REASONS = set(Reason.all())
DECODE_REASONS = {Reason.BAD_MAGIC_BYTE, Reason.UNKNOWN_SCHEMA_ID, Reason.UNDECODABLE_AVRO}
ARRIVAL_MS = int(datetime(2025, 3, 1, 12, tzinfo=UTC).timestamp() * 1000)
HOUR_US = 3600 * 1_000_000
CODEC = contracts.BidRequestCodec()
REFERENCE = Reference(Rules())

# A frame with a schema id the reader knows, so the fuzzing reaches the Avro decoder.
known_frames = st.builds(
    lambda version, body: contracts.frame(-version, body),
    st.sampled_from(sorted(contracts.BID_REQUEST_SCHEMA_FILES)),
    st.binary(max_size=400),
)
payloads = st.one_of(st.binary(max_size=600), known_frames)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = (
    "impression_id", "request_id", "imp_id", "event_ts", "user_id", "campaign_id",
    "creative_id", "site", "app", "device", "geo", "ip", "win_price_micros", "currency",
)  # fmt: skip


@st.composite
def impression_objects(draw) -> dict:
    """A valid impression with a few fields removed or replaced by arbitrary JSON."""
    obj = {
        "impression_id": "imp-1", "request_id": "req-1", "imp_id": "1",
        "event_ts": "2025-03-01T11:30:00.123Z", "user_id": "u-1", "campaign_id": "c-1",
        "creative_id": "cr-1", "site": {"id": "s-1"}, "app": None, "device": None,
        "geo": None, "ip": "203.0.113.7", "win_price_micros": 2510, "currency": "USD",
    }  # fmt: skip
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=3, unique=True)):
        if draw(st.booleans()):
            del obj[name]
        else:
            obj[name] = draw(json_values | st.text(max_size=40))
    return obj


@PURE
@given(payloads)
def test_the_bid_request_decoder_returns_a_record_or_a_decode_reason(payload):
    try:
        record = CODEC.decode(payload)
    except contracts.DecodeError as exc:
        assert exc.reason in DECODE_REASONS
    else:
        assert isinstance(record["id"], str) and isinstance(record["imp"], list)
        # A record that decodes is a whole record: it encodes back to the same body.
        assert CODEC.decode(CODEC.encode(record)) == record


@PURE
@given(st.binary(max_size=600))
def test_fluentd_publishes_every_line_as_itself_or_as_an_unmatched_line(line):
    key, value = contracts.impression_kafka_record(line)
    if value == line:
        obj = json.loads(line.decode("utf-8", errors="surrogateescape"))
        assert isinstance(obj, dict)
        assert key is None or key == obj["impression_id"].encode("utf-8", "surrogateescape")
    else:
        assert key is None
        assert list(json.loads(value)) == [contracts.FLUENTD_UNMATCHED_KEY]


@PURE
@given(st.text(max_size=40))
def test_the_timestamp_grammar_never_raises(text):
    assert parse_ts(text) is None or isinstance(parse_ts(text), int)


@PURE
@given(
    st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ),
    st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59),
)
def test_every_real_instant_in_any_offset_parses_to_itself(instant, offset_minutes):
    offset = timedelta(minutes=offset_minutes)
    local = (instant + offset).replace(tzinfo=None)
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    text = f"{local.isoformat(timespec='microseconds')}{sign}{hours:02d}:{minutes:02d}"
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert parse_ts(text) == (instant - epoch) // timedelta(microseconds=1)


def _checked(raw: Raw) -> str | None:
    checked = REFERENCE.check(raw)
    assert checked.reason is None or checked.reason in REASONS
    if checked.reason is None:
        assert checked.event_us is not None and checked.fields
    return checked.reason


@PURE
@given(payloads)
def test_every_bid_request_payload_is_valid_or_has_a_reason(payload):
    reason = _checked(Raw.kafka("bid_requests", payload, ARRIVAL_MS))
    try:
        CODEC.decode(payload)
    except contracts.DecodeError as exc:
        assert reason == exc.reason


@PURE
@given(
    st.one_of(
        st.binary(max_size=600),
        impression_objects().map(lambda o: json.dumps(o, separators=(",", ":")).encode()),
        json_values.map(lambda v: json.dumps(v).encode()),
    )
)
def test_every_impression_payload_is_valid_or_has_a_reason(payload):
    reason = _checked(Raw.kafka("impressions", payload, ARRIVAL_MS))
    try:
        obj = json.loads(payload)
    except ValueError:
        assert reason in {Reason.INVALID_UTF8, Reason.MALFORMED_JSON}
        return
    if not isinstance(obj, dict):
        assert reason == Reason.MALFORMED_JSON


csv_fields = st.one_of(
    st.sampled_from(["", "click", "conversion", "2025-03-01T11:00:00Z", "purchase", "9.99"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters=",\n\r"), max_size=12),
)


@PURE
@given(
    st.one_of(
        st.binary(max_size=300).filter(lambda b: b"\n" not in b),
        st.lists(csv_fields, min_size=6, max_size=10).map(lambda f: ",".join(f).encode()),
    )
)
def test_every_tracking_row_is_valid_or_has_a_reason(line):
    hour_us = (ARRIVAL_MS * 1000) - (ARRIVAL_MS * 1000) % HOUR_US
    reason = _checked(Raw.csv_row(line, hour_us))
    try:
        columns = len(line.decode("utf-8").split(","))
    except UnicodeDecodeError:
        assert reason == Reason.INVALID_UTF8
        return
    if columns != len(contracts.TRACKING_CSV_COLUMNS):
        assert reason == Reason.BAD_COLUMN_COUNT


file_names = st.one_of(
    st.text(max_size=30),
    st.builds(
        "tracking_{:04d}{:02d}{:02d}_{:02d}.csv".format,
        st.integers(0, 9999),
        st.integers(0, 13),
        st.integers(0, 32),
        st.integers(0, 25),
    ),
)
file_contents = st.one_of(
    st.binary(max_size=400),
    st.binary(max_size=400).map(lambda b: contracts.TRACKING_CSV_HEADER.encode() + b"\n" + b),
)


@PURE
@given(file_names, file_contents)
def test_the_intake_takes_a_whole_tracking_file_or_names_why_not(name, data):
    verdict = tracking.inspect(name, data)
    rows = tracking.data_rows(data)
    assert rows >= 0
    if verdict is None:
        assert tracking.file_hour(name) is not None
        assert data.endswith((b"\n", b"\r"))  # \r\n, \n or a bare \r ends a line
        first = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n", 1)[0]
        assert first.decode() in contracts.TRACKING_CSV_HEADERS
    else:
        reason, detail = verdict
        assert reason in {
            tracking.Reason.BAD_FILE_NAME, tracking.Reason.EMPTY_FILE,
            tracking.Reason.TRUNCATED, tracking.Reason.BAD_HEADER,
        }  # fmt: skip
        assert detail


def _nested(depth: int, array: bool) -> bytes:
    opener, closer = (b"[", b"]") if array else (b'{"a":', b"}")
    return opener * depth + b"1" + closer * depth


nested_json = st.builds(_nested, st.integers(min_value=1, max_value=200_000), st.booleans())


@PURE
@given(nested_json)
def test_json_nested_at_any_depth_is_published_and_checked_without_raising(line):
    # Python's parser gives up at its recursion limit (RecursionError, not ValueError).
    key, value = contracts.impression_kafka_record(line)
    assert key is None
    reason = _checked(Raw.kafka("impressions", value, ARRIVAL_MS))
    assert reason in {Reason.MALFORMED_JSON, Reason.MISSING_FIELD}
