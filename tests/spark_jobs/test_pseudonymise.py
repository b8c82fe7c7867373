"""Semantic 8: keyed hashes of ids and truncated IPs, checked against Python's own modules."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from pyspark.sql import functions as F

from spark_jobs.common.pseudonymise import (
    MissingKeyError,
    hmac_sha256_hex,
    pseudonymise,
    truncate_ip,
)

SHORT_KEY = "test-key-not-a-secret"
LONG_KEY = "k" * 100  # longer than SHA-256's block: RFC 2104 hashes it first


@pytest.mark.parametrize("key", [SHORT_KEY, LONG_KEY, "é-ünïcode-key"])
def test_hmac_equals_python_hmac(spark, key):
    messages = ["user-1", "", "a" * 200, "ß∂ƒ-user", "123e4567-e89b-12d3-a456-426614174000"]
    df = spark.createDataFrame([(m,) for m in messages], "m string")
    got = dict(df.select("m", hmac_sha256_hex(F.col("m"), key).alias("h")).collect())
    for m in messages:
        assert got[m] == hmac.new(key.encode(), m.encode(), hashlib.sha256).hexdigest()


def test_pseudonymise_keeps_nulls_and_empty_ids_null(spark):
    df = spark.createDataFrame([("u1",), (None,), ("",)], "id string")
    got = [r.p for r in df.select(pseudonymise(F.col("id"), SHORT_KEY).alias("p")).collect()]
    assert got == [hmac.new(SHORT_KEY.encode(), b"u1", hashlib.sha256).hexdigest(), None, None]


def test_empty_key_is_refused():
    with pytest.raises(MissingKeyError, match="ADPLATFORM_PSEUDONYM_KEY"):
        hmac_sha256_hex(F.col("x"), "")


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("203.0.113.77", "203.0.113.0"),
        ("10.0.0.0", "10.0.0.0"),
        (" 8.8.8.8 ", "8.8.8.0"),
        ("256.1.1.1", None),
        ("1.2.3", None),
        ("1.2.3.4.5", None),
        ("not-an-ip", None),
        ("", None),
        (None, None),
        # IPv6: the first 48 bits stay (Python: ipaddress.ip_network(ip + "/48", strict=False)).
        ("2001:db8:85a3:8d3:1319:8a2e:370:7348", "2001:db8:85a3::"),
        ("2001:0DB8:0000:0000:0000:ff00:0042:8329", "2001:db8::"),
        ("2001:db8::1", "2001:db8::"),
        ("1::2:3:4:5:6:7", "1:0:2::"),
        ("::1", "::"),
        ("::", "::"),
        ("fe80::1%eth0", "fe80::"),
        ("::ffff:192.0.2.128", "::"),
        ("0:db8:1::", "0:db8:1::"),
        ("2001:db8:1:2:3:4:5:6:7", None),
        ("2001:db8::1::2", None),
        ("2001:db8:zz::1", None),
        ("12345::1", None),
    ],
)
def test_truncate_ip(spark, ip, expected):
    df = spark.createDataFrame([(ip,)], "ip string")
    assert df.select(truncate_ip(F.col("ip")).alias("t")).first().t == expected
