"""clean_bid_requests: wire-format header, validation of decoded requests, dedup by request
id, and the flattening to one row per imp. The decoding itself (spark-avro's from_avro) is
tested only when the spark-avro jar is on the session's classpath; every other step works
on decoded structs written by hand."""

from __future__ import annotations

import io
from datetime import date, datetime

import fastavro
import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T

from adplatform import contracts
from adplatform.contracts import Rules
from spark_jobs.clean_bid_requests.transforms import (
    classify_bid_requests,
    curated_bid_requests,
    decode_avro,
    parse_bid_requests,
    request_type,
    split_wire_format,
    writer_schemas,
)
from spark_jobs.common.landing import KAFKA_SCHEMA
from tests.spark_jobs.landed import KEY, pseudonym, ts

RULES = Rules()
D = date(2025, 3, 1)


def imp(imp_id: str, floor: float) -> dict:
    return {"id": imp_id, "bidfloor": floor, "bidfloorcur": "USD", "tagid": None, "banner": None}


def request(**changes):
    """A decoded version-2 bid request (the reader schema's shape)."""
    value = {
        "id": "req-1",
        "event_ts": datetime(2025, 3, 1, 10, 0, 0),
        "imp": [
            {"id": "1", "bidfloor": 1.25, "bidfloorcur": "USD", "tagid": "t-1",
             "banner": {"w": 300, "h": 250, "pos": 1}},
            {"id": "2", "bidfloor": 0.1, "bidfloorcur": "USD", "tagid": "t-2", "banner": None},
        ],
        "site": None,
        "app": {"id": "a-1", "name": "Game", "bundle": "com.game", "cat": ["IAB9"],
                "publisher": {"id": "p-1", "name": "Pub", "domain": None}},
        "device": {"ua": "UA", "ip": None, "ipv6": "2001:db8:85a3::8a2e:370:7334", "ifa": "ifa-1",
                   "devicetype": 4, "os": "iOS",
                   "geo": {"country": "DEU", "region": "BE", "city": "Berlin"}},
        "user": {"id": "u-1", "yob": 1990, "gender": "F"},
        "regs": {"coppa": 0, "gdpr": 1},
        "tmax": 120,
        "cur": ["USD"],
    }  # fmt: skip
    value.update(changes)
    return value


def _decoded(spark, rows):
    """Rows as decode_avro leaves them: (request or None, arrival, header_reason, known)."""
    schema = T.StructType(
        [
            *KAFKA_SCHEMA.fields,
            T.StructField("schema_id", T.IntegerType()),
            T.StructField("body", T.BinaryType()),
            T.StructField("header_reason", T.StringType()),
            T.StructField("request", request_type(spark)),
            T.StructField("known_schema", T.BooleanType()),
        ]
    )
    data = [
        (b"k", b"v", "bid_requests", 0, offset, ts(arrival), -2, b"", header, req, known)
        for offset, (req, arrival, header, known) in enumerate(rows)
    ]
    return spark.createDataFrame(data, schema)


def _outcomes(classified):
    rows = classified.select("offset", "outcome", "reason").collect()
    return {r.offset: (r.outcome, r.reason) for r in rows}


def test_wire_format_header(spark):
    body = b"\x02\x04"
    rows = [
        (contracts.frame(-2, body),),  # 0 version 2, registry-less
        (contracts.frame(-1, body),),  # 1 version 1
        (contracts.frame(7, body),),  # 2 a registry id
        (b'{"id":"req-1"}',),  # 3 JSON instead of Avro
        (b"",),  # 4 empty
        (b"\x00\xff\xff",),  # 5 header cut short
    ]
    df = spark.createDataFrame(rows, "value binary")
    got = [
        tuple(r)
        for r in split_wire_format(df).select("schema_id", "body", "header_reason").collect()
    ]
    assert got == [
        (-2, body, None),
        (-1, body, None),
        (7, body, None),
        (None, None, "bad_magic_byte"),
        (None, None, "bad_magic_byte"),
        (None, None, "undecodable_avro"),
    ]


def test_validation_reasons_and_dedup(spark):
    arrival = "2025-03-01 10:00:01"
    rows = [
        (request(), arrival, None, True),  # 0 valid
        (request(), "2025-03-01 10:04:00", None, True),  # 1 re-send: duplicate
        (None, arrival, "bad_magic_byte", None),  # 2
        (None, arrival, None, False),  # 3 unknown schema id
        (None, arrival, None, True),  # 4 body does not decode
        (request(id="req-2", imp=[]), arrival, None, True),  # 5 no imp
        (request(id=""), arrival, None, True),  # 6 empty id
        (request(id="req-3", imp=[imp("", 1.0)]), arrival, None, True),  # 7
        (request(id="req-4", imp=[imp("1", -1.0)]), arrival, None, True),  # 8
        (request(id="req-5", event_ts=datetime(2025, 9, 1)), arrival, None, True),  # 9 future
    ]
    parsed = parse_bid_requests(_decoded(spark, rows), RULES)
    assert _outcomes(classify_bid_requests(parsed, D, RULES)) == {
        0: ("curated", None),
        1: ("duplicate", None),
        2: ("quarantined", "bad_magic_byte"),
        3: ("quarantined", "unknown_schema_id"),
        4: ("quarantined", "undecodable_avro"),
        5: ("quarantined", "missing_field"),
        6: ("quarantined", "missing_field"),
        7: ("quarantined", "missing_field"),
        8: ("quarantined", "impossible_value"),
        9: ("quarantined", "impossible_value"),
    }


def test_too_late_request_is_owned_by_its_arrival_day(spark):
    rows = [(request(event_ts=datetime(2025, 2, 28, 10)), "2025-03-01 10:00:01", None, True)]
    parsed = parse_bid_requests(_decoded(spark, rows), RULES)
    assert _outcomes(classify_bid_requests(parsed, D, RULES)) == {0: ("quarantined", "too_late")}


def test_flattened_to_one_row_per_imp(spark):
    parsed = parse_bid_requests(
        _decoded(spark, [(request(), "2025-03-01 10:00:01", None, True)]), RULES
    )
    rows = curated_bid_requests(classify_bid_requests(parsed, D, RULES), KEY).orderBy("imp_id")
    got = [r.asDict() for r in rows.collect()]
    assert len(got) == 2
    first = got[0]
    assert {k: first[k] for k in ("request_id", "imp_id", "bidfloor_cpm_micros", "banner_w")} == {
        "request_id": "req-1", "imp_id": "1", "bidfloor_cpm_micros": 1_250_000, "banner_w": 300
    }  # fmt: skip
    assert (first["inventory_type"], first["app_bundle"], first["publisher_id"]) == (
        "app", "com.game", "p-1"
    )  # fmt: skip
    assert (first["device_type"], first["country"], first["ip_truncated"]) == (
        "mobile", "DE", "2001:db8:85a3::"
    )  # fmt: skip
    assert (first["user_id"], first["device_ifa"]) == (pseudonym("u-1"), pseudonym("ifa-1"))
    assert (first["gdpr"], first["tmax_ms"], first["imp_count"], first["dt"]) == (1, 120, 2, D)
    assert (got[1]["imp_id"], got[1]["bidfloor_cpm_micros"], got[1]["banner_w"]) == (
        "2",
        100_000,
        None,
    )


def _has_spark_avro(spark) -> bool:
    try:
        spark.sparkContext._jvm.java.lang.Class.forName(
            "org.apache.spark.sql.avro.AvroDataToCatalyst",
            True,
            spark.sparkContext._jvm.Thread.currentThread().getContextClassLoader(),
        )
        return True
    except Exception:
        return False


def test_decode_with_spark_avro_reads_both_schema_versions(spark):
    if not _has_spark_avro(spark):
        pytest.skip("spark-avro jar not on the test session's classpath (spark.jars)")
    v1 = fastavro.parse_schema(contracts.bid_request_schema(1))
    old = {k: v for k, v in request().items() if k != "regs"}
    old["imp"] = [{k: v for k, v in i.items() if k != "bidfloorcur"} for i in old["imp"]]
    out = io.BytesIO()
    fastavro.schemaless_writer(out, v1, old)
    codec = contracts.BidRequestCodec()
    rows = [
        (b"k", codec.encode(request()), "bid_requests", 0, 0, ts("2025-03-01 10:00:01")),
        (
            b"k",
            contracts.frame(-1, out.getvalue()),
            "bid_requests",
            0,
            1,
            ts("2025-03-01 10:00:01"),
        ),
        (b"k", codec.encode(request())[:20], "bid_requests", 0, 2, ts("2025-03-01 10:00:01")),
    ]
    landed = spark.createDataFrame(rows, KAFKA_SCHEMA)
    decoded = decode_avro(split_wire_format(landed), writer_schemas())
    parsed = parse_bid_requests(decoded, RULES)
    got = parsed.select("offset", "reason", F.col("request.regs").alias("regs")).collect()
    assert [(r.offset, r.reason) for r in got] == [(0, None), (1, None), (2, "undecodable_avro")]
    assert got[1].regs is None  # version 1 had no regs: the reader's default


def test_alpha2_country_codes_are_normalised_and_counted(spark):
    from spark_jobs.clean_bid_requests.transforms import country_code_forms

    def with_country(n: int, country):
        device = dict(request()["device"], geo={"country": country, "region": None, "city": None})
        return (request(id=f"req-{n}", device=device), "2025-03-01 10:00:01", None, True)

    countries = ["DEU", "US", "ca", " usa ", "XX", "", None]
    rows = [with_country(n, c) for n, c in enumerate(countries)]
    classified = classify_bid_requests(parse_bid_requests(_decoded(spark, rows), RULES), D, RULES)
    curated = curated_bid_requests(classified, KEY).where(F.col("imp_id") == "1")
    got = {r.request_id: r.country for r in curated.select("request_id", "country").collect()}
    assert got == {"req-0": "DE", "req-1": "US", "req-2": "CA", "req-3": "US", "req-4": None,
                   "req-5": None, "req-6": None}  # fmt: skip
    forms = {r.form: r.requests for r in country_code_forms(classified).collect()}
    assert forms == {"alpha3": 2, "alpha2": 2, "unknown": 1}
