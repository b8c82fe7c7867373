"""The quarantine keeps raw payloads sealed (semantic 8), opens them with the key version
that sealed them, and drops the days past its retention."""

from __future__ import annotations

import argparse
import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pyspark.sql import functions as F

from adplatform import contracts, keyring, quarantine
from adplatform.settings import Settings, SettingsError
from spark_jobs.common.quarantine import quarantine_rows, write_quarantine
from spark_jobs.common.tables import overwrite_partition
from tests.spark_jobs.landed import KEY, dumps, impression

IP, USER, DEVICE = "203.0.113.77", "u-clear-4711", "ifa-clear-0815"
CLEAR = dumps(impression(user_id=USER, ip=IP, device={"type": "Mobile", "ifa": DEVICE}))
NOT_UTF8 = b"\xff\xfe" + IP.encode()
D = date(2011, 3, 1)  # a day no other test of the session writes into adtech.quarantine
INPUT_SCHEMA = (
    "reason string, detail string, raw_payload binary, raw_key binary, origin string, "
    "event_ts timestamp, arrival_ts timestamp, owner_dt date"
)


def _input(spark, payloads: list[bytes], day: date = D, origin: str = "ad_impressions/0/{i}"):
    rows = [
        (
            "impossible_value",
            "currency is not USD",
            p,
            f"imp-{i}".encode(),
            origin.format(i=i),
            None,
            datetime(2025, 3, 1, 10, 5),
            day,
        )
        for i, p in enumerate(payloads)
    ]
    return spark.createDataFrame(rows, INPUT_SCHEMA)


def _drop(spark, partitions: list[tuple[str, date]]) -> None:
    for source, day in partitions:
        spark.sql(
            f"ALTER TABLE adtech.quarantine DROP PARTITION (dt = '{day}', source = '{source}')"
        )


def _ring(secret: str = KEY, version: int = 1, retired: str = "") -> keyring.KeyRing:
    return keyring.from_settings(
        Settings(
            pseudonym_key=secret, pseudonym_key_version=version, pseudonym_retired_keys=retired
        )
    )


def _sealed(spark, ring: keyring.KeyRing, payloads: list[bytes]) -> list[bytes]:
    rows = quarantine_rows(
        _input(spark, payloads), source="impressions", job="j", run_id="r", keys=ring
    )
    return [bytes(r.raw_payload) for r in rows.orderBy("origin").collect()]


def test_stored_payload_has_no_clear_personal_data_and_opens_to_the_exact_bytes(spark):
    ring = _ring()
    sealed = _sealed(spark, ring, [CLEAR, NOT_UTF8])

    for stored in sealed:
        for clear in (IP, USER, DEVICE):
            assert clear.encode() not in stored
    # version byte, Spark's GCM output: 12-byte IV, ciphertext as long as the payload, 16-byte tag
    assert [len(s) for s in sealed] == [1 + 12 + len(CLEAR) + 16, 1 + 12 + len(NOT_UTF8) + 16]
    assert [s[0] for s in sealed] == [1, 1]
    assert [keyring.open_payload(s, ring) for s in sealed] == [CLEAR, NOT_UTF8]
    # The layout checked by a second implementation: cryptography's own HKDF and AES-GCM.
    key = HKDF(SHA256(), 32, None, keyring.PAYLOAD_KEY_LABEL).derive(KEY.encode())
    assert AESGCM(key).decrypt(sealed[0][1:13], sealed[0][13:], b"\x01") == CLEAR
    # A random IV per value: the same payload sealed twice gives two ciphertexts.
    again = _sealed(spark, ring, [CLEAR])
    assert again[0] != sealed[0]
    assert keyring.open_payload(again[0], ring) == CLEAR


def test_rotated_key_still_opens_rows_of_the_retired_version(spark):
    old = _sealed(spark, _ring("secret-one", 1), [CLEAR])[0]
    rotated = _ring("secret-two", 2, retired="1:secret-one")
    new = _sealed(spark, rotated, [CLEAR])[0]

    assert (old[0], new[0]) == (1, 2)
    assert keyring.open_payload(old, rotated) == CLEAR
    assert keyring.open_payload(new, rotated) == CLEAR
    with pytest.raises(keyring.UnknownKeyVersion, match="key version 1 is not held"):
        keyring.open_payload(old, _ring("secret-two", 2))
    with pytest.raises(keyring.UnknownKeyVersion, match="does not open"):
        keyring.open_payload(old, _ring("secret-two", 2, retired="1:not-the-old-secret"))
    # The pseudonym HMAC key of a version is its secret as it is: version 1 keeps the
    # pseudonyms the platform always wrote; the payload key is a different, derived key.
    assert rotated.secret(1) == b"secret-one"
    assert rotated.payload_key(1) != b"secret-one".ljust(32, b"\0")


def test_key_settings_refuse_what_cannot_be_a_key_ring():
    with pytest.raises(SettingsError, match="PSEUDONYM_KEY is empty"):
        keyring.from_settings(Settings())
    with pytest.raises(SettingsError, match=r"not in 1\.\.255"):
        _ring(version=256)
    with pytest.raises(SettingsError, match="lists version 2, the current"):
        _ring("b", 2, retired="2:a")
    with pytest.raises(SettingsError, match="is not <version>:<secret>"):
        _ring("b", 2, retired="secret-without-version")


def test_write_quarantine_drops_the_source_days_past_retention(spark, adtech):
    table = "adtech.quarantine"
    ring = _ring()
    days = [D - timedelta(days=31), D - timedelta(days=30), D - timedelta(days=1)]
    # Earlier runs' partitions, seeded in one insert: impressions of three days, tracking of
    # the oldest one.
    seeded = [("impressions", day) for day in days] + [("tracking", days[0])]
    frames = [
        quarantine_rows(_input(spark, [CLEAR], day), source=source, job="j", run_id="r", keys=ring)
        for source, day in seeded
    ]
    union = frames[0].unionByName(frames[1]).unionByName(frames[2]).unionByName(frames[3])
    union.select(*spark.table(table).columns).write.insertInto(table)
    # The oldest day rewritten once: its folder now holds a version and the one it replaced.
    overwrite_partition(frames[0], table, {"dt": days[0], "source": "impressions"}, compact=True)

    rows = quarantine_rows(
        _input(spark, [CLEAR, CLEAR], D), source="impressions", job="j", run_id="r", keys=ring
    )
    assert write_quarantine(rows, table, D, "impressions", retention_days=30) == {
        "impossible_value": 2
    }

    mine = F.col("dt").between(days[0], D)
    kept = spark.table(table).where(mine).groupBy("dt", "source").count().collect()
    assert sorted((r.dt, r.source, r["count"]) for r in kept) == [
        (days[0], "tracking", 1),  # another source's days are its own job's to drop
        (days[1], "impressions", 1),  # exactly 30 days before: kept
        (days[2], "impressions", 1),
        (D, "impressions", 2),
    ]
    # The expired partition's files went with it: sealed payloads past retention do not stay.
    location = spark.sql(f"DESCRIBE TABLE EXTENDED {table}").where("col_name = 'Location'")
    root = Path(urlparse(location.first().data_type).path)
    assert not (root / f"dt={days[0].isoformat()}" / "source=impressions").exists()
    assert (root / f"dt={days[0].isoformat()}" / "source=tracking").exists()
    _drop(spark, [("impressions", d) for d in (*days[1:], D)] + [("tracking", days[0])])


def _args(action: str, **values) -> argparse.Namespace:
    defaults = {"day": D, "source": None, "reason": None, "limit": None, "hour": None}
    return argparse.Namespace(action=action, **(defaults | values))


def test_cli_shows_in_clear_and_replays_tracking_lines_to_the_inbox(
    spark, adtech, lake_settings, tmp_path: Path
):
    table = "adtech.quarantine"
    lines = [
        b"click,ev-1,2025-03-01T10:00:00Z,u-clear-4711,c-1,,,",
        b"click,ev-2,2025-03-01T10:01:00Z,u-clear-4712,c-1,imp-9,,",
    ]
    ring = keyring.from_settings(lake_settings)
    tracking = _input(spark, lines, origin="tracking_20250301_10.csv:{i}")
    rows = quarantine_rows(tracking, source="tracking", job="j", run_id="r", keys=ring)
    write_quarantine(rows, table, D, "tracking", retention_days=30)
    imps = quarantine_rows(
        _input(spark, [CLEAR]), source="impressions", job="j", run_id="r", keys=ring
    )
    write_quarantine(imps, table, D, "impressions", retention_days=30)
    event = datetime(2011, 3, 1, 9, tzinfo=UTC)
    request = contracts.BidRequestCodec().encode(
        {"id": "req-clear-1", "imp": [{"id": "1", "bidfloor": 0.5}], "event_ts": event}
    )
    bids = quarantine_rows(
        _input(spark, [request], origin="bid_requests/0/{i}"),
        source="bid_requests", job="j", run_id="r", keys=ring,
    )  # fmt: skip
    write_quarantine(bids, table, D, "bid_requests", retention_days=30)
    stored = spark.table(table).where(F.col("dt") == D).select("raw_payload").collect()
    assert len(stored) == 4
    assert not any(b"u-clear-47" in bytes(r.raw_payload) for r in stored)
    assert not any(USER.encode() in bytes(r.raw_payload) for r in stored)

    # The same Spark SQL the Thrift Server runs for the command.
    def fetch(query: str):
        return [tuple(r) for r in spark.sql(query).collect()]

    out = io.StringIO()
    assert quarantine.main(_args("show"), lake_settings, fetch, out) == 0
    shown = out.getvalue()
    assert CLEAR.decode() in shown and lines[1].decode() in shown
    assert '"id": "req-clear-1"' in shown  # the Avro bid request, decoded
    assert shown.endswith("4 quarantined record(s)\n")

    inbox = tmp_path / "inbox"
    settings = lake_settings.with_overrides(tracking_inbox=str(inbox))
    out = io.StringIO()
    hour = datetime(2025, 3, 2, 7, tzinfo=UTC)
    args = _args("replay", source="tracking", hour=hour)
    assert quarantine.main(args, settings, fetch, out) == 0
    replayed = inbox / "tracking_20250302_07.csv"
    assert out.getvalue() == f"replayed 2 record(s) to {replayed}\n"
    header = contracts.TRACKING_CSV_HEADER.encode()
    assert replayed.read_bytes() == b"\n".join([header, *lines]) + b"\n"
    assert sorted(p.name for p in inbox.iterdir()) == ["tracking_20250302_07.csv"]

    # A second replay never overwrites a file the intake has not taken yet.
    with pytest.raises(quarantine.UserError, match="exists"):
        quarantine.main(args, settings, fetch, io.StringIO())
    # Dimension rows are not replayed; nothing to replay is said, not an error.
    assert quarantine.main(_args("replay", source="dim_user"), settings, fetch, out) == 0
    assert out.getvalue().endswith("nothing to replay: no quarantined record matches\n")
    _drop(spark, [("tracking", D), ("impressions", D), ("bid_requests", D)])
