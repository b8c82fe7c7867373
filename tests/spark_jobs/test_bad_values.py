"""Bad values are quarantined with a reason, never fail a job: non-finite and out-of-range
numbers of the bid requests (``impossible_value``), and a Kafka value holding more than one
JSON object (``malformed_json``) or numbers JSON does not have.

Every case runs through the three readings of the contract that must agree: the Spark
transforms (spark-avro's decoder for the bid requests), the simulator's reference truth and
the DuckDB peer; each is compared with the reason written here by hand from
docs/data-contracts.md section 3. Before the fix a NaN, infinite or 1e300 floor was curated
and the cast to micros threw CAST_OVERFLOW (ANSI mode): the day stopped.
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adplatform import contracts
from adplatform.contracts import Reason, Rules
from adplatform.simulator.reference import Raw, Reference
from bench.peer import PeerJob
from spark_jobs.clean_bid_requests.transforms import (
    classify_bid_requests,
    curated_bid_requests,
    decode_avro,
    parse_bid_requests,
    split_wire_format,
    writer_schemas,
)
from spark_jobs.clean_impressions.transforms import (
    classify_impressions,
    curated_impressions,
    parse_impressions,
)
from tests.spark_jobs.landed import KEY, dumps, impression, kafka_rows
from tests.spark_jobs.test_clean_bid_requests import _has_spark_avro

RULES = Rules()
D = date(2025, 3, 1)
ARRIVAL = "2025-03-01 10:00:05"
EVENT = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
IMPOSSIBLE = Reason.IMPOSSIBLE_VALUE


def _request(**imp_changes) -> dict:
    return {
        "id": "req",
        "event_ts": EVENT,
        "imp": [
            {"id": "1", "bidfloor": 1.25, "banner": {"w": 300, "h": 250, "pos": 1}},
            {"id": "2", "bidfloor": 0.5} | imp_changes,
        ],
        "device": {"devicetype": 4, "geo": {"country": "USA"}},
        "user": {"id": "u-1", "yob": 1990},
        "regs": {"gdpr": 0, "coppa": 0},
        "tmax": 120,
    }


def _with(path: str, value) -> dict:
    """The valid request with one nested field replaced (``device.devicetype`` ...)."""
    request = copy.deepcopy(_request())
    *parents, name = path.split(".")
    target = request
    for parent in parents:
        target = target[parent]
    target[name] = value
    return request


# (request, expected reason, expected Spark detail)
BID_REQUESTS = [
    (_request(), None, None),
    (_request(bidfloor=float("nan")), IMPOSSIBLE, "imp.bidfloor out of range"),
    (_request(bidfloor=float("inf")), IMPOSSIBLE, "imp.bidfloor out of range"),
    (_request(bidfloor=float("-inf")), IMPOSSIBLE, "imp.bidfloor out of range"),
    (_request(bidfloor=1e300), IMPOSSIBLE, "imp.bidfloor out of range"),
    (_request(bidfloor=1_000_000.01), IMPOSSIBLE, "imp.bidfloor out of range"),
    (_request(bidfloor=-0.01), IMPOSSIBLE, "imp.bidfloor out of range"),
    (_request(bidfloor=1_000_000.0), None, None),  # the highest floor a win price can meet
    (_request(banner={"w": 10_001, "h": 250}), IMPOSSIBLE, "imp.banner.w out of range"),
    (_request(banner={"w": 300, "h": -1}), IMPOSSIBLE, "imp.banner.h out of range"),
    (_request(banner={"pos": 8}), IMPOSSIBLE, "imp.banner.pos out of range"),
    (_request(banner={"w": 10_000, "h": 0, "pos": 7}), None, None),
    (_with("device.devicetype", 0), IMPOSSIBLE, "device.devicetype out of range"),
    (_with("device.devicetype", 9), IMPOSSIBLE, "device.devicetype out of range"),
    (_with("regs.gdpr", 2), IMPOSSIBLE, "regs.gdpr out of range"),
    (_with("regs.coppa", -1), IMPOSSIBLE, "regs.coppa out of range"),
    (_with("tmax", 0), IMPOSSIBLE, "tmax out of range"),
    (_with("tmax", 2_147_483_647), IMPOSSIBLE, "tmax out of range"),
    (_with("user.yob", 1899), IMPOSSIBLE, "user.yob out of range"),
    (_with("user.yob", 2026), IMPOSSIBLE, "user.yob out of range"),  # after the event's year
    (_with("user.yob", 2025), None, None),
    # The first failing field (contract order) names the detail.
    (_with("tmax", 0) | {"imp": [{"id": "1", "bidfloor": float("nan")}]}, IMPOSSIBLE,
     "imp.bidfloor out of range"),
]  # fmt: skip

_GOOD = dumps(impression())
_PRICE = b'"win_price_micros":2510'


def _price(literal: bytes) -> bytes:
    return _GOOD.replace(_PRICE, b'"win_price_micros":' + literal)


# (Kafka value, expected reason, expected Spark detail)
IMPRESSIONS = [
    (_GOOD, None, None),
    (_GOOD + _GOOD, Reason.MALFORMED_JSON, "not one JSON object"),
    (_GOOD + b" " + _GOOD, Reason.MALFORMED_JSON, "not one JSON object"),
    (_GOOD + b"," + _GOOD, Reason.MALFORMED_JSON, "not one JSON object"),
    (_GOOD + b"]", Reason.MALFORMED_JSON, "not one JSON object"),
    (_GOOD + b'],["' + _GOOD, Reason.MALFORMED_JSON, "not one JSON object"),
    (_GOOD[:-1] + b",}", Reason.MALFORMED_JSON, "not one JSON object"),  # trailing comma
    (_GOOD + b" \n", None, None),  # trailing white space is JSON
    (_price(b"NaN"), Reason.MALFORMED_JSON, "not one JSON object"),
    (_price(b"Infinity"), Reason.MALFORMED_JSON, "not one JSON object"),
    (_price(b"-Infinity"), Reason.MALFORMED_JSON, "not one JSON object"),
    (_price(b"1e300"), Reason.WRONG_TYPE, "win_price_micros is DOUBLE"),
    (_price(b"12345678901234567890.0"), Reason.WRONG_TYPE, "win_price_micros is DECIMAL(20,0)"),
    (_price(b"9223372036854775807"), IMPOSSIBLE, "win_price_micros out of range"),
    (_price(b"12345678901234567890"), IMPOSSIBLE, "win_price_micros out of range"),
    (_price(b"-9223372036854775809"), IMPOSSIBLE, "win_price_micros out of range"),
    (_price(b"1" + b"0" * 40), IMPOSSIBLE, "win_price_micros out of range"),
    # NaN, Infinity and a trailing comma inside strings are text, not numbers.
    (dumps(impression(creative_id="cr:NaN,Infinity,]")), None, None),
]


def _run_peer(tmp_path, topic: str, job: str, payloads: list[bytes]) -> PeerJob:
    """The DuckDB peer's job run on the payloads, landed in one arrival hour."""
    lake = tmp_path / "lake"
    folder = lake / "landing" / topic / "arrival_date=2025-03-01" / "arrival_hour=10"
    folder.mkdir(parents=True)
    arrival = datetime.fromisoformat(ARRIVAL).replace(tzinfo=UTC)
    table = pa.table(
        {
            "key": pa.array([None] * len(payloads), pa.binary()),
            "value": pa.array(payloads, pa.binary()),
            "topic": [topic] * len(payloads),
            "partition": pa.array([0] * len(payloads), pa.int32()),
            "offset": pa.array(range(len(payloads)), pa.int64()),
            "kafka_ts": pa.array([arrival] * len(payloads), pa.timestamp("us", tz="UTC")),
        }
    )
    pq.write_table(table, folder / "part-0.parquet")
    peer = PeerJob(lake, tmp_path / "peer", D, KEY, RULES)
    peer.run(job)
    return peer


def _peer_reasons(tmp_path, topic: str, job: str, payloads: list[bytes]) -> list[str | None]:
    """Reasons the DuckDB peer gives, one a payload in Kafka offset order."""
    peer = _run_peer(tmp_path, topic, job, payloads)
    checked = f"{job.removeprefix('clean_')}_checked"
    rows = peer.con.execute(f'SELECT "offset", reason FROM {checked} ORDER BY 1').fetchall()
    return [reason for _, reason in rows]


def _reference_reasons(source: str, payloads: list[bytes]) -> list[str | None]:
    arrival_ms = int(datetime.fromisoformat(ARRIVAL).replace(tzinfo=UTC).timestamp() * 1000)
    reference = Reference(RULES)
    return [reference.check(Raw.kafka(source, p, arrival_ms)).reason for p in payloads]


def test_bid_request_values_agree_in_spark_reference_and_peer(spark, tmp_path):
    if not _has_spark_avro(spark):
        pytest.skip("spark-avro jar not on the test session's classpath (spark.jars)")
    codec = contracts.BidRequestCodec()
    payloads = [codec.encode(r | {"id": f"req-{n}"}) for n, (r, _, _) in enumerate(BID_REQUESTS)]
    expected = [(reason, detail) for _, reason, detail in BID_REQUESTS]

    landed = kafka_rows(spark, "bid_requests", [(None, p, ARRIVAL) for p in payloads])
    decoded = decode_avro(split_wire_format(landed), writer_schemas())
    classified = classify_bid_requests(parse_bid_requests(decoded, RULES), D, RULES)
    got = {r.offset: (r.reason, r.detail) for r in classified.collect()}
    assert [got[n] for n in range(len(payloads))] == expected
    # The curated requests are written without an error: the cast to micros no longer
    # meets a floor it can not hold (CAST_OVERFLOW under ANSI before).
    curated = curated_bid_requests(classified, KEY).select("request_id", "bidfloor_cpm_micros")
    assert sorted(tuple(r) for r in curated.collect()) == sorted(
        [("req-0", 1_250_000), ("req-0", 500_000)]
        + [("req-7", 1_250_000), ("req-7", 1_000_000_000_000)]
        + [(f"req-{n}", m) for n in (11, 20) for m in (1_250_000, 500_000)]
    )

    reasons = [reason for reason, _ in expected]
    assert _reference_reasons("bid_requests", payloads) == reasons
    assert _peer_reasons(tmp_path, "bid_requests", "clean_bid_requests", payloads) == reasons


def test_impression_values_agree_in_spark_reference_and_peer(spark, tmp_path):
    payloads = [value for value, _, _ in IMPRESSIONS]
    # Distinct ids, so that the valid ones are all curated and none is a duplicate.
    payloads = [p.replace(b'"imp-1"', f'"imp-{n}"'.encode()) for n, p in enumerate(payloads)]
    expected = [(reason, detail) for _, reason, detail in IMPRESSIONS]

    landed = kafka_rows(spark, "ad_impressions", [(None, p, ARRIVAL) for p in payloads])
    classified = classify_impressions(parse_impressions(landed, RULES), D, RULES)
    got = {r.offset: (r.reason, r.detail) for r in classified.collect()}
    assert [got[n] for n in range(len(payloads))] == expected
    curated = curated_impressions(classified, KEY).select("impression_id", "win_price_micros")
    assert sorted(tuple(r) for r in curated.collect()) == [
        ("imp-0", 2510), ("imp-17", 2510), ("imp-7", 2510)
    ]  # fmt: skip

    reasons = [reason for reason, _ in expected]
    assert _reference_reasons("impressions", payloads) == reasons
    assert _peer_reasons(tmp_path, "ad_impressions", "clean_impressions", payloads) == reasons


def test_the_peer_normalises_alpha2_countries_as_the_job_does(tmp_path):
    codec = contracts.BidRequestCodec()
    countries = ["DEU", "US", "ca", "XX"]
    payloads = [
        codec.encode(_with("device.geo.country", c) | {"id": f"req-{n}"})
        for n, c in enumerate(countries)
    ]
    peer = _run_peer(tmp_path, "bid_requests", "clean_bid_requests", payloads)
    rows = peer.con.execute(
        "SELECT DISTINCT request_id, country FROM out_bid_requests ORDER BY 1"
    ).fetchall()
    assert rows == [("req-0", "DE"), ("req-1", "US"), ("req-2", "CA"), ("req-3", None)]
