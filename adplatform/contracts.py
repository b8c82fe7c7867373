"""The data contracts every part of the platform shares: schemas, topics, wire formats, rules.

The schema files under ``adplatform/schemas/`` are the source of truth; this module loads
them and implements the two byte-level formats the sources use on Kafka:

* ``bid_requests``: Confluent wire format, ``0x00`` + 4-byte big-endian signed schema id +
  Avro binary of one ``BidRequest``. With a Schema Registry the id is the registry's id of
  the subject ``bid_requests-value``. Without one, the id is ``-N``: version ``N`` of the
  repository's ``bid_request`` schema (a registry never hands out ids below 1, so the two
  can not collide).
* ``ad_impressions``: what Fluentd's Kafka output publishes for each ad-server log line.

Every decoding failure raises ``DecodeError`` with a ``reason`` from ``Reason``, so that a
landing or clean job can quarantine the payload with that reason instead of crashing.
docs/data-contracts.md explains every rule written here.
"""

from __future__ import annotations

import importlib.resources
import io
import json
import re
import struct
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import fastavro

from adplatform.settings import Settings

# Through importlib.resources, so the schemas load from the --py-files zip of the jobs too.
SCHEMAS_DIR = importlib.resources.files("adplatform") / "schemas"

TOPIC_BID_REQUESTS = "bid_requests"
TOPIC_AD_IMPRESSIONS = "ad_impressions"
# Schema Registry subject of the bid-request values (Confluent's TopicNameStrategy).
BID_REQUEST_SUBJECT = f"{TOPIC_BID_REQUESTS}-value"

# Version -> file of the bid-request schema. The newest version is what producers write and
# what every reader reads into; older files stay so that old data still decodes.
BID_REQUEST_SCHEMA_FILES = {1: "bid_request.v1.avsc", 2: "bid_request.avsc"}
BID_REQUEST_VERSION = max(BID_REQUEST_SCHEMA_FILES)

MAGIC_BYTE = 0
_HEADER = struct.Struct(">bi")

# Columns of the tracking CSV, in file order (adplatform/schemas/tracking_csv.json).
TRACKING_CSV_COLUMNS = (
    "record_type",
    "event_id",
    "event_ts",
    "user_id",
    "campaign_id",
    "impression_id",
    "conversion_type",
    "conversion_value",
)
TRACKING_CSV_HEADER = ",".join(TRACKING_CSV_COLUMNS)
# The header lines a tracking file may start with: plain, or every name quoted (RFC 4180).
TRACKING_CSV_HEADERS = (
    TRACKING_CSV_HEADER,
    ",".join(f'"{c}"' for c in TRACKING_CSV_COLUMNS),
)
# \r\n, \n and a bare \r end a line of a tracking file (docs/data-contracts.md 1.3).
TRACKING_CSV_LINE_END = re.compile(rb"\r\n|\n|\r")
CONVERSION_TYPES = ("purchase", "signup", "lead", "add_to_cart")
CURRENCY = "USD"

# Fluentd's in_tail with `emit_unmatched_lines true` publishes a line its JSON parser
# rejects as an object with this single key.
FLUENTD_UNMATCHED_KEY = "unmatched_line"


class Reason:
    """Quarantine reasons: the closed vocabulary the quarantine table's `reason` column uses."""

    # Payload level: the record can not be read at all.
    MALFORMED_JSON = "malformed_json"
    INVALID_UTF8 = "invalid_utf8"
    BAD_COLUMN_COUNT = "bad_column_count"
    BAD_MAGIC_BYTE = "bad_magic_byte"
    UNKNOWN_SCHEMA_ID = "unknown_schema_id"
    UNDECODABLE_AVRO = "undecodable_avro"
    # Field level.
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    UNPARSABLE_TIMESTAMP = "unparsable_timestamp"
    UNPARSABLE_NUMBER = "unparsable_number"
    IMPOSSIBLE_VALUE = "impossible_value"
    UNKNOWN_RECORD_TYPE = "unknown_record_type"
    # Time.
    TOO_LATE = "too_late"
    # Correlation (clicks).
    ORPHAN_CLICK = "orphan_click"
    CLICK_BEFORE_IMPRESSION = "click_before_impression"
    CLICK_OUTSIDE_WINDOW = "click_outside_window"
    CLICK_IMPRESSION_MISMATCH = "click_impression_mismatch"

    @classmethod
    def all(cls) -> tuple[str, ...]:
        return tuple(v for k, v in vars(cls).items() if k.isupper())


class ContractError(Exception):
    """A schema or wire-format problem."""


class DecodeError(ContractError):
    """A payload that can not be decoded; ``reason`` is a ``Reason`` value to quarantine with."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Rules:
    """Correlation windows and late-data grace (docs/data-contracts.md, "Rules").

    The defaults live in ``adplatform.settings`` (``ADPLATFORM_CLICK_WINDOW_HOURS`` ...), so
    the Spark jobs, the DAGs and the simulator's ground truth use the same numbers.
    """

    click_window: timedelta = timedelta(hours=24)
    last_click_lookback: timedelta = timedelta(days=7)
    last_view_lookback: timedelta = timedelta(days=1)
    late_grace: timedelta = timedelta(hours=6)
    # An event stamped later than the end of its arrival hour plus this is impossible.
    future_tolerance: timedelta = timedelta(hours=1)

    @classmethod
    def from_settings(cls, settings: Settings) -> Rules:
        return cls(
            click_window=timedelta(hours=settings.click_window_hours),
            last_click_lookback=timedelta(days=settings.last_click_lookback_days),
            last_view_lookback=timedelta(days=settings.last_view_lookback_days),
            late_grace=timedelta(hours=settings.late_grace_hours),
        )

    def as_dict(self) -> dict[str, int]:
        return {
            "click_window_s": int(self.click_window.total_seconds()),
            "last_click_lookback_s": int(self.last_click_lookback.total_seconds()),
            "last_view_lookback_s": int(self.last_view_lookback.total_seconds()),
            "late_grace_s": int(self.late_grace.total_seconds()),
            "future_tolerance_s": int(self.future_tolerance.total_seconds()),
        }


# ---------------------------------------------------------------------------------------
# Schema files


@cache
def bid_request_schema(version: int = BID_REQUEST_VERSION) -> dict[str, Any]:
    """The parsed (fastavro) bid-request schema of that version."""
    try:
        name = BID_REQUEST_SCHEMA_FILES[version]
    except KeyError:
        raise ContractError(f"no bid_request schema version {version}") from None
    return fastavro.parse_schema(json.loads((SCHEMAS_DIR / name).read_text()))


def bid_request_schema_text(version: int = BID_REQUEST_VERSION) -> str:
    """The schema file's JSON text, as registered with a Schema Registry."""
    return (SCHEMAS_DIR / BID_REQUEST_SCHEMA_FILES[version]).read_text()


@cache
def impression_json_schema() -> dict[str, Any]:
    return json.loads((SCHEMAS_DIR / "impression.schema.json").read_text())


@cache
def tracking_csv_spec() -> dict[str, Any]:
    spec = json.loads((SCHEMAS_DIR / "tracking_csv.json").read_text())
    if tuple(c["name"] for c in spec["columns"]) != TRACKING_CSV_COLUMNS:
        raise ContractError("tracking_csv.json columns differ from TRACKING_CSV_COLUMNS")
    return spec


# ---------------------------------------------------------------------------------------
# Confluent wire format for bid requests


def local_schema_id(version: int) -> int:
    """Schema id written when no registry is configured: ``-version`` (docs/data-contracts.md)."""
    return -version


def frame(schema_id: int, avro_body: bytes) -> bytes:
    return _HEADER.pack(MAGIC_BYTE, schema_id) + avro_body


def unframe(payload: bytes) -> tuple[int, bytes]:
    """Split a wire-format payload into (schema id, Avro body)."""
    if not payload:
        raise DecodeError(Reason.BAD_MAGIC_BYTE, "empty payload")
    if payload[0] != MAGIC_BYTE:
        raise DecodeError(Reason.BAD_MAGIC_BYTE, f"first byte is 0x{payload[0]:02x}, not 0x00")
    if len(payload) < _HEADER.size:
        raise DecodeError(Reason.UNDECODABLE_AVRO, f"payload of {len(payload)} bytes has no id")
    _, schema_id = _HEADER.unpack_from(payload)
    return schema_id, payload[_HEADER.size :]


class SchemaRegistryClient:
    """The two calls of the Confluent Schema Registry REST API the platform needs."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self._by_id: dict[int, dict[str, Any]] = {}

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
        )
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            return json.loads(response.read())

    def register(self, subject: str, schema_text: str) -> int:
        """Register (idempotently) a schema under a subject and return its global id."""
        answer = self._call("POST", f"/subjects/{subject}/versions", {"schema": schema_text})
        return int(answer["id"])

    def schema(self, schema_id: int) -> dict[str, Any]:
        """The parsed schema of a global id; raises ``DecodeError`` when the id is unknown."""
        if schema_id not in self._by_id:
            try:
                answer = self._call("GET", f"/schemas/ids/{schema_id}")
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    raise DecodeError(
                        Reason.UNKNOWN_SCHEMA_ID, f"registry has no schema id {schema_id}"
                    ) from None
                raise
            self._by_id[schema_id] = fastavro.parse_schema(json.loads(answer["schema"]))
        return self._by_id[schema_id]


class BidRequestCodec:
    """Encode and decode bid requests in the Confluent wire format.

    Writes with the newest schema version. Reads any version (local ids ``-N``, or registry
    ids when a registry client is given) into the newest version, by Avro resolution.
    """

    def __init__(self, registry: SchemaRegistryClient | None = None) -> None:
        self.registry = registry
        self.reader_schema = bid_request_schema()
        if registry is None:
            self.schema_id = local_schema_id(BID_REQUEST_VERSION)
        else:
            self.schema_id = registry.register(BID_REQUEST_SUBJECT, bid_request_schema_text())

    @classmethod
    def from_settings(cls, settings: Settings) -> BidRequestCodec:
        url = settings.schema_registry_url
        return cls(SchemaRegistryClient(url) if url else None)

    def encode(self, record: dict[str, Any]) -> bytes:
        out = io.BytesIO()
        fastavro.schemaless_writer(out, self.reader_schema, record, strict_allow_default=True)
        return frame(self.schema_id, out.getvalue())

    def writer_schema(self, schema_id: int) -> dict[str, Any]:
        if schema_id < 0 and -schema_id in BID_REQUEST_SCHEMA_FILES:
            return bid_request_schema(-schema_id)
        if schema_id > 0 and self.registry is not None:
            return self.registry.schema(schema_id)
        raise DecodeError(Reason.UNKNOWN_SCHEMA_ID, f"schema id {schema_id} is not known here")

    def decode(self, payload: bytes) -> dict[str, Any]:
        """One bid request; raises ``DecodeError`` for anything that is not a whole record."""
        schema_id, body = unframe(payload)
        writer = self.writer_schema(schema_id)
        stream = io.BytesIO(body)
        try:
            record = fastavro.schemaless_reader(stream, writer, self.reader_schema)
        except (EOFError, IndexError, ValueError, UnicodeDecodeError, OverflowError) as exc:
            raise DecodeError(
                Reason.UNDECODABLE_AVRO, f"{type(exc).__name__}: {exc}".strip()
            ) from None
        except Exception as exc:  # fastavro raises assorted errors on garbage input
            raise DecodeError(Reason.UNDECODABLE_AVRO, f"{type(exc).__name__}: {exc}") from None
        if stream.tell() != len(body):
            raise DecodeError(
                Reason.UNDECODABLE_AVRO,
                f"{len(body) - stream.tell()} bytes left after the record (truncated or corrupt)",
            )
        return record


# ---------------------------------------------------------------------------------------
# Value ranges: a number outside its range (or not finite) is impossible_value

# The highest price of one impression, in micros of USD ($1,000): the impression contract.
MAX_WIN_PRICE_MICROS = 1_000_000_000
# Inclusive (low, high) of every numeric field of the bid-request subset, in the order the
# checks name the first failing field (docs/data-contracts.md section 3). Lists of OpenRTB
# 2.6 give the coded fields their range; a floor is CPM, so a floor above the highest win
# price of one impression times 1000 can never be met (and fits the micros column).
BID_REQUEST_RANGES: dict[str, tuple[int | float, int | float]] = {
    "imp.bidfloor": (0, MAX_WIN_PRICE_MICROS * 1000 / 1_000_000),
    "imp.banner.w": (0, 10_000),  # device-independent pixels
    "imp.banner.h": (0, 10_000),
    "imp.banner.pos": (0, 7),  # list 5.4
    "device.devicetype": (1, 8),  # list 5.21
    "regs.gdpr": (0, 1),
    "regs.coppa": (0, 1),
    "tmax": (1, 60_000),  # ms
}
# user.yob: from this year to the year of the request's event_ts (checked after the ranges).
MIN_YOB = 1900
# Impressions: every numeric field of the JSON (the only one is the price).
IMPRESSION_RANGES: dict[str, tuple[int, int]] = {"win_price_micros": (0, MAX_WIN_PRICE_MICROS)}


# ---------------------------------------------------------------------------------------
# OpenRTB JSON -> the Avro subset

# device.geo.country: OpenRTB says ISO-3166-1 alpha-3, the tables hold alpha-2 (as assigned,
# historical codes left out). spark_jobs/common/countries.py and the peer read this table.
_ALPHA3_TO_ALPHA2_TEXT = (
    "ABW:AW AFG:AF AGO:AO AIA:AI ALA:AX ALB:AL AND:AD ARE:AE ARG:AR ARM:AM ASM:AS ATA:AQ "
    "ATF:TF ATG:AG AUS:AU AUT:AT AZE:AZ BDI:BI BEL:BE BEN:BJ BES:BQ BFA:BF BGD:BD BGR:BG "
    "BHR:BH BHS:BS BIH:BA BLM:BL BLR:BY BLZ:BZ BMU:BM BOL:BO BRA:BR BRB:BB BRN:BN BTN:BT "
    "BVT:BV BWA:BW CAF:CF CAN:CA CCK:CC CHE:CH CHL:CL CHN:CN CIV:CI CMR:CM COD:CD COG:CG "
    "COK:CK COL:CO COM:KM CPV:CV CRI:CR CUB:CU CUW:CW CXR:CX CYM:KY CYP:CY CZE:CZ DEU:DE "
    "DJI:DJ DMA:DM DNK:DK DOM:DO DZA:DZ ECU:EC EGY:EG ERI:ER ESH:EH ESP:ES EST:EE ETH:ET "
    "FIN:FI FJI:FJ FLK:FK FRA:FR FRO:FO FSM:FM GAB:GA GBR:GB GEO:GE GGY:GG GHA:GH GIB:GI "
    "GIN:GN GLP:GP GMB:GM GNB:GW GNQ:GQ GRC:GR GRD:GD GRL:GL GTM:GT GUF:GF GUM:GU GUY:GY "
    "HKG:HK HMD:HM HND:HN HRV:HR HTI:HT HUN:HU IDN:ID IMN:IM IND:IN IOT:IO IRL:IE IRN:IR "
    "IRQ:IQ ISL:IS ISR:IL ITA:IT JAM:JM JEY:JE JOR:JO JPN:JP KAZ:KZ KEN:KE KGZ:KG KHM:KH "
    "KIR:KI KNA:KN KOR:KR KWT:KW LAO:LA LBN:LB LBR:LR LBY:LY LCA:LC LIE:LI LKA:LK LSO:LS "
    "LTU:LT LUX:LU LVA:LV MAC:MO MAF:MF MAR:MA MCO:MC MDA:MD MDG:MG MDV:MV MEX:MX MHL:MH "
    "MKD:MK MLI:ML MLT:MT MMR:MM MNE:ME MNG:MN MNP:MP MOZ:MZ MRT:MR MSR:MS MTQ:MQ MUS:MU "
    "MWI:MW MYS:MY MYT:YT NAM:NA NCL:NC NER:NE NFK:NF NGA:NG NIC:NI NIU:NU NLD:NL NOR:NO "
    "NPL:NP NRU:NR NZL:NZ OMN:OM PAK:PK PAN:PA PCN:PN PER:PE PHL:PH PLW:PW PNG:PG POL:PL "
    "PRI:PR PRK:KP PRT:PT PRY:PY PSE:PS PYF:PF REU:RE ROU:RO RUS:RU RWA:RW SAU:SA SDN:SD "
    "SEN:SN SGP:SG SGS:GS SHN:SH SJM:SJ SLB:SB SLE:SL SLV:SV SMR:SM SOM:SO SPM:PM SRB:RS "
    "SSD:SS STP:ST SUR:SR SVK:SK SVN:SI SWE:SE SWZ:SZ SXM:SX SYC:SC SYR:SY TCA:TC TCD:TD "
    "TGO:TG THA:TH TJK:TJ TKL:TK TKM:TM TLS:TL TON:TO TTO:TT TUN:TN TUR:TR TUV:TV TWN:TW "
    "TZA:TZ UGA:UG UKR:UA UMI:UM URY:UY USA:US UZB:UZ VAT:VA VCT:VC VEN:VE VGB:VG VIR:VI "
    "VNM:VN VUT:VU WLF:WF WSM:WS YEM:YE ZAF:ZA ZMB:ZM ZWE:ZW "
)
ALPHA3_TO_ALPHA2: dict[str, str] = dict(pair.split(":") for pair in _ALPHA3_TO_ALPHA2_TEXT.split())


_SUBSET = {
    "BidRequest": ("id", "imp", "site", "app", "device", "user", "regs", "tmax", "cur"),
    "Imp": ("id", "bidfloor", "bidfloorcur", "tagid", "banner"),
    "Banner": ("w", "h", "pos"),
    "Site": ("id", "name", "domain", "page", "cat", "publisher"),
    "App": ("id", "name", "bundle", "cat", "publisher"),
    "Publisher": ("id", "name", "domain"),
    "Device": ("ua", "ip", "ipv6", "ifa", "devicetype", "os", "geo"),
    "Geo": ("country", "region", "city"),
    "User": ("id", "yob", "gender"),
    "Regs": ("coppa", "gdpr"),
}
_NESTED = {
    ("BidRequest", "site"): "Site",
    ("BidRequest", "app"): "App",
    ("BidRequest", "device"): "Device",
    ("BidRequest", "user"): "User",
    ("BidRequest", "regs"): "Regs",
    ("Imp", "banner"): "Banner",
    ("Site", "publisher"): "Publisher",
    ("App", "publisher"): "Publisher",
    ("Device", "geo"): "Geo",
}


_REQUIRED = {("BidRequest", "id"), ("BidRequest", "imp"), ("Imp", "id")}
# What real exchanges send for a number: a JSON number or a numeric string ("0.5", "1985").
_JSON_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_JSON_INTEGER = re.compile(r"-?(0|[1-9][0-9]*)")
_INT32 = (-(2**31), 2**31 - 1)
_EXPECTED = {"int": "an integer", "double": "a number", "array": "a list of strings",
             "string": "a string"}  # fmt: skip


@cache
def _subset_types() -> dict[tuple[str, str], str]:
    """(record, field) -> Avro type of the field in the newest schema (``int``, ``double``,
    ``string``, ``array`` or a record name), read from the schema file."""
    types: dict[tuple[str, str], str] = {}

    def walk(schema: Any) -> None:
        if isinstance(schema, list):
            for branch in schema:
                walk(branch)
        elif isinstance(schema, dict) and schema.get("type") == "record":
            for f in schema["fields"]:
                branches = f["type"] if isinstance(f["type"], list) else [f["type"]]
                (base,) = (b for b in branches if b != "null")
                kind = base if isinstance(base, str) else base["type"]
                types[schema["name"], f["name"]] = schema["name"] if kind == "record" else kind
                walk(f["type"])
        elif isinstance(schema, dict) and schema.get("type") == "array":
            walk(schema["items"])

    walk(json.loads(bid_request_schema_text()))
    return types


def _wrong(path: str, value: Any, expected: str) -> DecodeError:
    return DecodeError(Reason.WRONG_TYPE, f"{path} is {type(value).__name__}, not {expected}")


def _scalar(avro: str, path: str, value: Any) -> Any:
    """A JSON value as the Avro type of its field: numbers may come as numeric strings and a
    string array as one string; anything else raises DecodeError."""
    if avro in ("int", "double") and isinstance(value, str):
        grammar = _JSON_INTEGER if avro == "int" else _JSON_NUMBER
        if grammar.fullmatch(value.strip()) is None:
            raise DecodeError(Reason.UNPARSABLE_NUMBER, f"{path} {value[:40]!r} is not a number")
        try:
            value = int(value) if avro == "int" else float(value)
        except ValueError:  # more digits than Python converts (4300)
            raise DecodeError(Reason.IMPOSSIBLE_VALUE, f"{path} has too many digits") from None
    if isinstance(value, bool):  # a bool is an int in Python, not in JSON
        raise _wrong(path, value, _EXPECTED[avro])
    if avro == "int":
        if not isinstance(value, int):
            raise _wrong(path, value, _EXPECTED[avro])
        if not _INT32[0] <= value <= _INT32[1]:
            raise DecodeError(Reason.IMPOSSIBLE_VALUE, f"{path} {value} is not a 32-bit int")
        return value
    if avro == "double":
        if not isinstance(value, int | float):
            raise _wrong(path, value, _EXPECTED[avro])
        try:
            return float(value)
        except OverflowError:  # an integer beyond any double
            raise DecodeError(Reason.IMPOSSIBLE_VALUE, f"{path} does not fit a double") from None
    if avro == "array":
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise _wrong(path, value, _EXPECTED[avro])
        return items
    if not isinstance(value, str):
        raise _wrong(path, value, _EXPECTED[avro])
    return value


def _subset(kind: str, obj: Any, at: str = "") -> dict[str, Any]:
    """The subset's fields of the OpenRTB object ``obj`` (at path ``at``, "" for the request)."""
    if not isinstance(obj, dict):
        raise _wrong(at or "the request", obj, "an object")
    out: dict[str, Any] = {}
    for key in _SUBSET[kind]:
        path = f"{at}.{key}" if at else key
        if key not in obj or obj[key] is None:
            if (kind, key) in _REQUIRED:
                raise DecodeError(Reason.MISSING_FIELD, f"{path} is missing")
            continue
        value = obj[key]
        if (kind, key) in _NESTED:
            value = _subset(_NESTED[kind, key], value, path)
        elif kind == "BidRequest" and key == "imp":
            if not isinstance(value, list):
                raise _wrong(path, value, "a list")
            value = [_subset("Imp", imp, path) for imp in value]
        else:
            value = _scalar(_subset_types()[kind, key], path, value)
        out[key] = value
    return out


def bid_request_from_openrtb(obj: dict[str, Any], event_ts: datetime) -> dict[str, Any]:
    """An OpenRTB 2.6 JSON bid request as a record of the Avro subset.

    Fields outside the subset (video, pmp, at, bcat, user.data ...) are dropped, absent
    optional fields take the schema defaults when encoded; ``event_ts`` is the platform's
    receive time, which OpenRTB does not carry. What real exchanges send and the spec's
    JSON allows is normalised: a number as a numeric string (``"1985"``, ``"0.5"``), a
    list of strings as one string (``"cat": "IAB1"``). Anything else raises ``DecodeError``
    with its reason (``missing_field``, ``wrong_type``, ``unparsable_number``,
    ``impossible_value``) and the OpenRTB path in the detail, so a caller can quarantine it.
    """
    record = _subset("BidRequest", obj)
    record["event_ts"] = event_ts
    return record


# ---------------------------------------------------------------------------------------
# ad_impressions: the Kafka record Fluentd publishes for a log line


def _not_json(constant: str) -> Any:
    """Python's json reads NaN and Infinity, which JSON (RFC 8259) does not have. Such a line
    is published as unmatched; published as it is, the clean job would find it malformed too."""
    raise ValueError(f"{constant} is not JSON")


def impression_kafka_record(line: bytes) -> tuple[bytes | None, bytes]:
    """(key, value) of the Kafka record Fluentd publishes for one ad-server log line.

    ``line`` is the line's bytes without its newline. A line that parses as a JSON object is
    published unchanged (the ad server writes compact JSON, which is what Fluentd's JSON
    formatter writes back); the key is its ``impression_id`` when that is a non-empty
    string. Any other line is published as ``{"unmatched_line": <line>}`` without a key,
    because Fluentd tails with ``emit_unmatched_lines``. Fluentd reads files as bytes, so a
    JSON object with bytes that are not UTF-8 is still published as it is.
    """
    try:
        obj = json.loads(line.decode("utf-8", errors="surrogateescape"), parse_constant=_not_json)
    except (ValueError, RecursionError):  # nested deeper than the parser goes: not an object
        obj = None
    if not isinstance(obj, dict):
        text = line.decode("utf-8", errors="replace")
        unmatched = {FLUENTD_UNMATCHED_KEY: text}
        return None, json.dumps(unmatched, ensure_ascii=False, separators=(",", ":")).encode()
    key = obj.get("impression_id")
    if isinstance(key, str) and key:
        return key.encode("utf-8", errors="surrogateescape"), line
    return None, line
