"""A poison record in every source is quarantined with its reason and the rest of the batch
goes through: random bytes, a 10 MB line, JSON nested 100,000 levels deep, and an Avro
record of another schema, among good records of the same hour. The clean jobs run as
Airflow runs them (their entry points, on real tables); the reconciliation must be exact
and the quarantine must keep every poison payload byte for byte.

Landing itself is poison-proof (it decodes nothing): random, empty, 6 MB values and
tombstones land byte for byte in tests/landing/test_kafka_landing.py; whole tracking files
that can not be read (binary, bad header, truncated) are quarantined by the intake in
tests/landing/test_tracking_intake.py.
"""

from __future__ import annotations

import hashlib
import io
import random
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlparse

import fastavro
import pytest
from pyspark.sql import functions as F

from adplatform import contracts, keyring, lake
from adplatform.contracts import Reason
from adplatform.settings import Settings
from spark_jobs.clean_bid_requests import job as clean_bid_requests
from spark_jobs.clean_impressions import job as clean_impressions
from spark_jobs.clean_tracking import job as clean_tracking
from tests.chaos.conftest import PSEUDONYM_KEY
from tests.chaos.jobs import duplicated_ids, reconciliation_rows, run_job
from tests.spark_jobs.landed import (
    TRACKING_HEADER,
    click,
    conversion,
    dumps,
    impression,
    land_kafka,
)
from tests.spark_jobs.test_clean_bid_requests import _has_spark_avro

pytestmark = pytest.mark.slow

D = date(2023, 5, 10)
ARRIVAL = "2023-05-10 12:20:00"
TEN_MB = 10 * 1024 * 1024
RNG = random.Random(10)
RANDOM = bytes([0xFF]) + RNG.randbytes(4095)  # 0xff: not UTF-8, and not the Avro magic byte
DEEP = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
GOOD = 5


def _ts(minute: int) -> str:
    return f"2023-05-10T11:{minute:02d}:00Z"


def _other_schema_record() -> bytes:
    """An Avro record of another schema (a click of some other system), no header."""
    schema = fastavro.parse_schema(
        {
            "type": "record",
            "name": "Click",
            "namespace": "com.example.other",
            "fields": [{"name": "clicked_at", "type": "long"}, {"name": "url", "type": "string"}],
        }
    )
    out = io.BytesIO()
    fastavro.schemaless_writer(
        out, schema, {"clicked_at": 1_683_716_400_000, "url": "https://example.com/landing"}
    )
    return out.getvalue()


def _quarantine(spark, source: str) -> dict[str, list[str]]:
    """reason -> sorted SHA-256 of the quarantined payloads of D and that source, opened
    with the key that sealed them (the table holds them encrypted)."""
    ring = keyring.from_settings(Settings(pseudonym_key=PSEUDONYM_KEY))
    rows = (
        spark.table("adtech.quarantine")
        .where((F.col("dt") == F.lit(D)) & (F.col("source") == source))
        .select("reason", "raw_payload")
        .collect()
    )
    out: dict[str, list[str]] = {}
    for r in rows:
        payload = keyring.open_payload(bytes(r.raw_payload), ring)
        out.setdefault(r.reason, []).append(hashlib.sha256(payload).hexdigest())
    return {k: sorted(v) for k, v in sorted(out.items())}


def _sha(*payloads: bytes) -> list[str]:
    return sorted(hashlib.sha256(p).hexdigest() for p in payloads)


@pytest.fixture(scope="module")
def poisoned(spark, local_lake):
    """One hour of every source with its poison records landed into the local lake."""
    impressions = [
        impression(impression_id=f"imp-{i}", user_id=f"u-{i}", event_ts=_ts(i)) for i in range(GOOD)
    ]
    big = dumps(impression(impression_id="imp-big", site={"id": "s" * TEN_MB}))[:-1]
    poison = {
        # what Fluentd publishes for lines that are not a JSON object
        "random_line": contracts.impression_kafka_record(RANDOM)[1],
        "ten_mb_cut_line": contracts.impression_kafka_record(big)[1],
        "deep_json": contracts.impression_kafka_record(DEEP)[1],
        # a producer that bypasses Fluentd
        "random_value": RANDOM,
    }
    land_kafka(
        spark,
        local_lake,
        contracts.TOPIC_AD_IMPRESSIONS,
        [(f"imp-{i}".encode(), dumps(o), ARRIVAL) for i, o in enumerate(impressions)]
        + [(None, value, ARRIVAL) for value in poison.values()],
    )

    codec = contracts.BidRequestCodec()
    event = datetime(2023, 5, 10, 11, 30, tzinfo=UTC)
    requests = [
        codec.encode({"id": f"req-{i}", "imp": [{"id": "1", "bidfloor": 0.5}], "event_ts": event})
        for i in range(GOOD)
    ]
    other = _other_schema_record()
    bid_poison = {
        "random": RANDOM,
        "ten_mb": contracts.frame(-2, b"\xff" * TEN_MB),
        "other_schema_as_ours": contracts.frame(-2, other),
        "other_schema_id": contracts.frame(42, other),
    }
    land_kafka(
        spark,
        local_lake,
        contracts.TOPIC_BID_REQUESTS,
        [(f"req-{i}".encode(), r, ARRIVAL) for i, r in enumerate(requests)]
        + [(None, value, ARRIVAL) for value in bid_poison.values()],
    )

    clicks = [click(f"ev-{i}", _ts(i + 30), f"imp-{i}", user=f"u-{i}") for i in range(3)]
    conversions = [conversion(f"cv-{i}", _ts(i + 40), user=f"u-{i}") for i in range(2)]
    csv_poison = {
        "random": RANDOM.replace(b"\n", b" ").replace(b"\r", b" "),
        "ten_mb": click("ev-big", _ts(50), "imp-1", user="u-1") + b"," + b"x" * TEN_MB,
        "deep_json": DEEP,
    }
    folder = Path(urlparse(lake.landing_path(local_lake, lake.TRACKING_SOURCE, D, 11)).path)
    folder.mkdir(parents=True, exist_ok=True)
    lines = [*clicks[:2], *csv_poison.values(), clicks[2], *conversions]
    (folder / "tracking_20230510_11.csv").write_bytes(
        TRACKING_HEADER + b"\n" + b"".join(line + b"\n" for line in lines)
    )
    payloads = {"impressions": poison, "bid_requests": bid_poison, "tracking": csv_poison}
    jobs = [clean_impressions, clean_tracking]  # tracking correlates with curated impressions
    if _has_spark_avro(spark):
        jobs.append(clean_bid_requests)
    recs = {job.JOB: run_job(spark, local_lake, job, D, "chaos__poison") for job in jobs}
    return payloads, recs


def test_poison_impressions_are_quarantined_and_the_good_ones_curated(spark, poisoned):
    payloads, recs = poisoned
    rec, poison = recs["clean_impressions"], payloads["impressions"]
    assert (rec.rows_in, rec.curated, rec.duplicates) == (GOOD + 4, GOOD, 0)
    assert rec.quarantined_by_reason == {Reason.INVALID_UTF8: 1, Reason.MALFORMED_JSON: 3}
    assert _quarantine(spark, "impressions") == {
        Reason.INVALID_UTF8: _sha(poison["random_value"]),
        Reason.MALFORMED_JSON: _sha(
            poison["random_line"], poison["ten_mb_cut_line"], poison["deep_json"]
        ),
    }
    ids = [
        r.impression_id for r in spark.table("adtech.impressions").where(F.col("dt") == D).collect()
    ]
    assert sorted(ids) == [f"imp-{i}" for i in range(GOOD)]


def test_poison_tracking_rows_are_quarantined_and_the_rest_of_the_file_goes_through(
    spark, poisoned
):
    payloads, recs = poisoned
    rec, poison = recs["clean_tracking"], payloads["tracking"]
    assert (rec.rows_in, rec.curated, rec.duplicates) == (8, 5, 0)
    assert rec.quarantined_by_reason == {Reason.BAD_COLUMN_COUNT: 2, Reason.INVALID_UTF8: 1}
    assert _quarantine(spark, "tracking") == {
        Reason.BAD_COLUMN_COUNT: _sha(poison["ten_mb"], poison["deep_json"]),
        Reason.INVALID_UTF8: _sha(poison["random"]),
    }
    clicks = spark.table("adtech.clicks").where(F.col("dt") == D).collect()
    assert sorted(r.event_id for r in clicks) == ["ev-0", "ev-1", "ev-2"]
    conversions = spark.table("adtech.conversions").where(F.col("dt") == D).collect()
    assert sorted(r.event_id for r in conversions) == ["cv-0", "cv-1"]


def test_poison_bid_requests_are_quarantined_and_the_good_ones_curated(spark, poisoned):
    payloads, recs = poisoned
    if "clean_bid_requests" not in recs:
        pytest.skip("spark-avro jar not on the test session's classpath (spark.jars)")
    rec, poison = recs["clean_bid_requests"], payloads["bid_requests"]
    assert (rec.rows_in, rec.curated, rec.duplicates) == (GOOD + 4, GOOD, 0)
    assert rec.quarantined_by_reason == {
        Reason.BAD_MAGIC_BYTE: 1, Reason.UNDECODABLE_AVRO: 2, Reason.UNKNOWN_SCHEMA_ID: 1
    }  # fmt: skip
    assert _quarantine(spark, "bid_requests") == {
        Reason.BAD_MAGIC_BYTE: _sha(poison["random"]),
        Reason.UNDECODABLE_AVRO: _sha(poison["ten_mb"], poison["other_schema_as_ours"]),
        Reason.UNKNOWN_SCHEMA_ID: _sha(poison["other_schema_id"]),
    }
    # The Python decoder agrees on each reason (the contract's own reading).
    codec = contracts.BidRequestCodec()
    reasons = {}
    for name, payload in poison.items():
        with pytest.raises(contracts.DecodeError) as err:
            codec.decode(payload)
        reasons[name] = err.value.reason
    assert reasons == {
        "random": Reason.BAD_MAGIC_BYTE,
        "ten_mb": Reason.UNDECODABLE_AVRO,
        "other_schema_as_ours": Reason.UNDECODABLE_AVRO,
        "other_schema_id": Reason.UNKNOWN_SCHEMA_ID,
    }


def test_every_poisoned_run_reconciles_and_no_curated_table_has_a_duplicate(spark, poisoned):
    jobs = sorted(poisoned[1])
    recon = reconciliation_rows(spark, [D], jobs)
    assert sorted(recon) == sorted((job, D) for job in jobs)
    for (job, _), (rows_in, curated, duplicates, quarantined, ok) in recon.items():
        assert ok and rows_in == curated + duplicates + sum(quarantined.values()), job
    assert duplicated_ids(spark, [D]) == dict.fromkeys(
        ("adtech.impressions", "adtech.bid_requests", "adtech.clicks", "adtech.conversions"), 0
    )
