"""Copies of a simulated day whose ids never meet: a larger day with a known ground truth.

The simulator holds the whole day's ground truth in memory (about 3 GB per million
impressions), so a day this machine cannot generate is built from ``copies`` copies of one it
can. Copy 0 is the base day untouched; copy r rewrites the first characters of every id
(users, impressions, bid requests, clicks, conversions) out of the hex alphabet, position i
when bit i of r is set, so no two copies share an id. Then no copy dedups against, correlates
with or attributes to another: every count of the ground truth is ``copies`` times the base
day's and every ratio is unchanged (``scaled_manifest``). Record lengths do not change, so an
Avro payload stays valid (or stays exactly as broken as the fault made it).
"""

from __future__ import annotations

import copy as copying
import re
from collections.abc import Iterator

# A hex digit d becomes the letter 'g' + d: still one ASCII character, never a hex digit.
_OUT_OF_HEX = bytes.maketrans(b"0123456789abcdef", b"ghijklmnopqrstuv")
# Every id the simulator makes: "u-" + 12 hex (users), "imp-", "clk-", "cnv-" + 16 hex.
_PREFIXED_ID = re.compile(rb"(?<![0-9A-Za-z])(u-|imp-|clk-|cnv-)([0-9a-f]{12,16})(?![0-9a-f])")
# Request ids carry no prefix: they are rewritten where they stand, in the impression's
# JSON field and as the bid request's first field (Avro: 5-byte header, length 20 = b"(").
_JSON_REQUEST_ID = re.compile(rb'("request_id":")([0-9a-f]{20})(?=")')
_AVRO_REQUEST_ID = slice(6, 26)
_AVRO_REQUEST_ID_LENGTH = b"("
_HEX_ID = re.compile(rb"[0-9a-f]{20}")


def max_copies(id_chars: int = 12) -> int:
    """How many copies the id rewriting keeps apart: one bit per rewritable character."""
    return 2**id_chars


def rewrite_id(body: bytes, copy: int) -> bytes:
    """The id body of that copy: character i leaves the hex alphabet when bit i is set."""
    if not 0 <= copy < max_copies():
        raise ValueError(f"copy {copy} is beyond the {max_copies()} copies ids can tell apart")
    chars = bytearray(body)
    for i in range(copy.bit_length()):
        if copy >> i & 1:
            chars[i] = chars[i : i + 1].translate(_OUT_OF_HEX)[0]
    return bytes(chars)


def rewrite_ids(data: bytes, copy: int) -> bytes:
    """Every prefixed id and JSON request id in a JSON line, CSV text or Avro payload."""
    if copy == 0:
        return data
    return _JSON_REQUEST_ID.sub(
        lambda m: m[1] + rewrite_id(m[2], copy), _rewrite_prefixed(data, copy)
    )


def _rewrite_prefixed(data: bytes, copy: int) -> bytes:
    return _PREFIXED_ID.sub(lambda m: m[1] + rewrite_id(m[2], copy), data)


def rewrite_bid_request(value: bytes, copy: int) -> bytes:
    """A bid request's wire bytes with its request id and user id rewritten for that copy."""
    if copy == 0:
        return value
    # Avro has no JSON request_id field: only the prefixed ids and the first field.
    value = _rewrite_prefixed(value, copy)
    request_id = value[_AVRO_REQUEST_ID]
    if value[5:6] == _AVRO_REQUEST_ID_LENGTH and _HEX_ID.fullmatch(request_id):
        value = value[:6] + rewrite_id(request_id, copy) + value[26:]
    return value


def rewrite_key(key: bytes | None, copy: int) -> bytes | None:
    """A Kafka key: an impression id, or a bare request id."""
    if key is None or copy == 0:
        return key
    if _HEX_ID.fullmatch(key):
        return rewrite_id(key, copy)
    return rewrite_ids(key, copy)


def kafka_copies(record: dict, copies: int, bid_request: bool) -> Iterator[tuple]:
    """(key, value) of each copy of one Kafka record, copy 0 first."""
    rewrite_value = rewrite_bid_request if bid_request else rewrite_ids
    for c in range(copies):
        yield rewrite_key(record["key"], c), rewrite_value(record["value"], c)


def csv_copies(text: bytes, copies: int) -> bytes:
    """A CSV file holding its header once and then the rows of every copy."""
    if copies == 1:
        return text
    header, _, body = text.partition(b"\n")
    if body and not body.endswith(b"\n"):
        body += b"\n"
    return header + b"\n" + b"".join(rewrite_ids(body, c) for c in range(copies))


def _times(value: object, copies: int) -> object:
    if isinstance(value, dict):
        return {k: _times(v, copies) for k, v in value.items()}
    if isinstance(value, int) and not isinstance(value, bool):
        return value * copies
    return value


def _attribution_copy(row: dict, copy: int) -> dict:
    row = dict(row)
    for field in ("conversion", "touch_id"):
        if row.get(field):
            row[field] = rewrite_ids(row[field].encode(), copy).decode()
    return row


def scaled_manifest(manifest: dict, copies: int) -> dict:
    """The base day's manifest as the copied day's: counts times copies, ratios unchanged."""
    out = copying.deepcopy(manifest)
    config = out["config"]
    config["events_per_day"] *= copies
    config["users"] *= copies
    for section in ("sources", "faults_total", "raw_records"):
        out[section] = _times(out[section], copies)
    expected = out["expected"]
    expected["win_rate"] = _times(expected["win_rate"], copies)
    expected["outcomes"] = _times(expected["outcomes"], copies)
    expected["campaign_daily"] = [
        {k: v if k in ("dt", "campaign_id") else _times(v, copies) for k, v in row.items()}
        for row in expected["campaign_daily"]
    ]
    expected["attributions"] = [
        _attribution_copy(row, c) for c in range(copies) for row in expected["attributions"]
    ]
    # the copied day's raw files are built at landing, never written as a simulator folder
    out["files"] = {}
    out["fault_log"] = None
    out["replicated"] = {"copies": copies}
    return out
