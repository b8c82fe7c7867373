"""Pseudonymisation of personal data before it reaches a curated table (semantic 8).

Ids (user ids, device advertising ids) become the hex HMAC-SHA256 of the id under a key
from the environment (``ADPLATFORM_PSEUDONYM_KEY``). A keyed hash and not a plain one: a
plain SHA-256 of an IPv4 address or of a short id is reversed by hashing every candidate.
The same key gives the same pseudonym in every table and every run, so joins on
pseudonymised ids still work; without the key nobody can recompute a pseudonym from an id.

Spark has no HMAC function and Python UDFs are slow, so the HMAC is written with built-ins
(RFC 2104): ``HMAC(K, m) = SHA256((K' xor opad) || SHA256((K' xor ipad) || m))`` where
``K'`` is the key padded to SHA-256's 64-byte block (or hashed first when longer). The two
XORed key blocks are computed once in Python and enter the plan as binary literals.

IP addresses are truncated, not hashed: the last octet of an IPv4 address and the last 80
bits of an IPv6 address are zeroed, which keeps the network for geo and fraud analysis.
Anything that is not a well-formed address becomes null rather than reaching a table as is.
"""

from __future__ import annotations

import hashlib

from pyspark.sql import Column
from pyspark.sql import functions as F

_BLOCK_SIZE = 64  # bytes, SHA-256's block
_IPAD = 0x36
_OPAD = 0x5C

_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"^{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}$"
# An IPv4 tail of an IPv6 address (::ffff:1.2.3.4) fills the last 32 bits: two hextets.
_IPV4_TAIL = r"[0-9]{1,3}(\.[0-9]{1,3}){3}$"
_IPV6_CHARS = r"^[0-9a-f:]+$"


class MissingKeyError(ValueError):
    """The pseudonymisation key is empty; the message says how to set it."""


def hmac_key_blocks(key: str | bytes) -> tuple[bytes, bytes]:
    """(K' xor ipad, K' xor opad) for a key, as RFC 2104 defines them for SHA-256."""
    raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if not raw:
        raise MissingKeyError(
            "the pseudonymisation key is empty: set ADPLATFORM_PSEUDONYM_KEY "
            "(`adplatform stack up` generates one into the state folder)"
        )
    if len(raw) > _BLOCK_SIZE:
        raw = hashlib.sha256(raw).digest()
    padded = raw.ljust(_BLOCK_SIZE, b"\0")
    return bytes(b ^ _IPAD for b in padded), bytes(b ^ _OPAD for b in padded)


def hmac_sha256_hex(message: Column, key: str | bytes) -> Column:
    """Lower-case hex HMAC-SHA256 of a string or binary column; null stays null."""
    inner_block, outer_block = hmac_key_blocks(key)
    inner = F.unhex(F.sha2(F.concat(F.lit(inner_block), message.cast("binary")), 256))
    return F.sha2(F.concat(F.lit(outer_block), inner), 256)


def pseudonymise(identifier: Column, key: str | bytes) -> Column:
    """The pseudonym of an id: its keyed hash; null and empty ids are null."""
    return F.when(identifier.isNull() | (identifier == ""), F.lit(None)).otherwise(
        hmac_sha256_hex(identifier, key)
    )


def truncate_ipv4(ip: Column) -> Column:
    """``a.b.c.d`` -> ``a.b.c.0``; null for anything that is not a dotted-quad address."""
    return F.when(ip.rlike(_IPV4), F.regexp_replace(ip, r"\.[0-9]+$", ".0")).otherwise(F.lit(None))


def truncate_ipv6(ip: Column) -> Column:
    """First 48 bits of an IPv6 address followed by ``::`` (RFC 5952 form); null if invalid."""
    text = F.regexp_replace(F.lower(F.trim(ip)), "%.*$", "")  # drop a zone id (fe80::1%eth0)
    text = F.regexp_replace(text, _IPV4_TAIL, "0:0")
    halves = F.split(text, "::", -1)
    compressed = F.size(halves) == 2

    def hextets(part: Column) -> Column:
        return F.when(part == "", F.array().cast("array<string>")).otherwise(F.split(part, ":", -1))

    left = hextets(F.element_at(halves, 1))
    right = F.when(compressed, hextets(F.element_at(halves, 2))).otherwise(
        F.array().cast("array<string>")
    )
    missing = F.lit(8) - F.size(left) - F.size(right)
    full = F.when(
        compressed & (missing >= 1),
        F.concat(left, F.array_repeat(F.lit("0"), F.greatest(missing, F.lit(0))), right),
    ).otherwise(F.when(~compressed, left))
    valid = (
        text.rlike(_IPV6_CHARS)
        & text.contains(":")
        & (F.size(halves) <= 2)
        & (F.size(full) == 8)
        & F.forall(full, lambda h: h.rlike("^[0-9a-f]{1,4}$"))
    )
    # Hextets without leading zeros; trailing zero hextets merge into the final "::".
    head = F.transform(F.slice(full, 1, 3), lambda h: F.regexp_replace(h, "^0+(?=.)", ""))
    kept = F.regexp_replace(F.array_join(head, ":"), "(^|:)0(:0)*$", "")
    return F.when(valid, F.concat(kept, F.lit("::"))).otherwise(F.lit(None))


def truncate_ip(ip: Column) -> Column:
    """An IPv4 or IPv6 address with its host part zeroed; null for anything else."""
    return F.when(ip.contains(":"), truncate_ipv6(ip)).otherwise(truncate_ipv4(F.trim(ip)))
