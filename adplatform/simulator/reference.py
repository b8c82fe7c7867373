"""The ground truth: an independent, plain-Python reading of docs/data-contracts.md.

It reads the raw records back from the simulator's output folder, exactly as the pipeline
receives them (the Kafka records with their timestamps, the tracking CSV files with their
hours), and applies the rules of the contract one by one: validation and its reason,
lateness and the owner day, dedup, click correlation, last-click then last-view
attribution, and the ``campaign_daily`` sums. It does not look at how the data was
generated, so a bug in the generator shows up as a disagreement, not as a shared mistake.

The Spark jobs must give the same numbers; when the two disagree, this file and the
contract are read side by side.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from adplatform import contracts
from adplatform.contracts import (
    CONVERSION_TYPES,
    CURRENCY,
    FLUENTD_UNMATCHED_KEY,
    IMPRESSION_RANGES,
    MIN_YOB,
    DecodeError,
    Reason,
    Rules,
)
from adplatform.simulator import writers

US_PER_MS = 1000
HOUR_US = 3600 * 1_000_000
DAY_US = 24 * HOUR_US
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TS = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]{1,6}))?(Z|([+-])([0-9]{2}):([0-9]{2}))"
)
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]{1,6})?")
# A float literal, NaN or infinity: outside _DECIMAL an impossible value, not an unparsable one.
_NUMBER_LIKE = re.compile(
    r"[+-]?([nN][aA][nN]|[iI][nN][fF]([iI][nN][iI][tT][yY])?"
    r"|([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?)"
)
_BIGINT = range(-(2**63), 2**63)
# One field of an RFC 4180 line: quoted ("" is a quote inside) or without any quote.
_CSV_FIELD = re.compile(r'"((?:[^"]|"")*)"|([^",]*)')
_TRACKING_FILE = re.compile(r"tracking_([0-9]{8})_([0-9]{2})\.csv")
IMPRESSION_REQUIRED = (
    "impression_id",
    "request_id",
    "imp_id",
    "event_ts",
    "user_id",
    "campaign_id",
    "creative_id",
    "win_price_micros",
    "currency",
)
_IMPRESSION_STRINGS = (*IMPRESSION_REQUIRED[:7], "currency")
_IMPRESSION_OBJECTS = ("site", "app", "device", "geo")
_CLICK_REQUIRED = (1, 2, 3, 4, 5)  # event_id, event_ts, user_id, campaign_id, impression_id
_CONVERSION_REQUIRED = (2, 3, 4, 6, 7)  # event_ts, user_id, campaign_id, type, value


def csv_fields(text: str) -> list[str] | None:
    """The fields of one CSV line by RFC 4180, or None when its quotes break the RFC."""
    fields, pos = [], 0
    while True:
        m = _CSV_FIELD.match(text, pos)
        assert m is not None  # the second branch matches the empty string
        quoted, plain = m.groups()
        fields.append(plain if quoted is None else quoted.replace('""', '"'))
        pos = m.end()
        if pos == len(text):
            return fields
        if text[pos] != ",":
            return None
        pos += 1


def parse_ts(text: str) -> int | None:
    """Microseconds since the epoch (UTC) of a contract timestamp, or None if it breaks it."""
    m = _TS.fullmatch(text)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    micros = int(m.group(7).ljust(6, "0")) if m.group(7) else 0
    try:
        dt = datetime(year, month, day, hour, minute, second, micros, tzinfo=UTC)
    except ValueError:
        return None
    us = (dt - _EPOCH) // timedelta(microseconds=1)
    if m.group(8) != "Z":
        oh, om = int(m.group(10)), int(m.group(11))
        if oh > 23 or om > 59:
            return None
        sign = 1 if m.group(9) == "+" else -1
        us -= sign * (oh * 60 + om) * 60 * 1_000_000
    return us


def us_date(us: int) -> date:
    return _EPOCH.date() + timedelta(days=us // DAY_US)


@dataclass(frozen=True, slots=True)
class Raw:
    """One raw record as the pipeline receives it."""

    source: str  # "bid_requests", "impressions" or "tracking"
    payload: bytes
    arrival_us: int  # Kafka timestamp; for CSV rows the end of the file hour
    arrival_hour_us: int  # the landing partition
    order: tuple[Any, ...]  # first-occurrence order among equal arrivals

    @classmethod
    def kafka(cls, source: str, value: bytes, timestamp_ms: int, order: tuple = ()) -> Raw:
        us = timestamp_ms * US_PER_MS
        return cls(source, value, us, us - us % HOUR_US, (us, *order))

    @classmethod
    def csv_row(cls, line: bytes, file_hour_us: int, order: tuple = ()) -> Raw:
        return cls("tracking", line, file_hour_us + HOUR_US, file_hour_us, (file_hour_us, *order))


@dataclass(slots=True)
class Checked:
    """A raw record after validation: its reason (None = valid) and what could be read."""

    raw: Raw
    reason: str | None = None
    event_us: int | None = None  # readable, well-formed event time (for the owner day)
    kind: str | None = None  # click / conversion for tracking rows
    fields: dict[str, Any] = field(default_factory=dict)


class Reference:
    """Applies the contract's rules to a set of raw records."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.grace_us = _us(rules.late_grace)
        self.future_us = _us(rules.future_tolerance)
        self.codec = contracts.BidRequestCodec()

    # -- section 2: time ----------------------------------------------------------------------

    def is_future(self, event_us: int, raw: Raw) -> bool:
        return event_us > raw.arrival_hour_us + HOUR_US + self.future_us

    def in_time(self, event_us: int, raw: Raw) -> bool:
        day_start = event_us - event_us % DAY_US
        return raw.arrival_hour_us < day_start + DAY_US + self.grace_us

    def owner_day(self, c: Checked) -> date:
        e = c.event_us
        if e is not None and not self.is_future(e, c.raw) and self.in_time(e, c.raw):
            return us_date(e)
        return us_date(c.raw.arrival_hour_us)

    # -- section 3: validation ------------------------------------------------------------------

    def check(self, raw: Raw) -> Checked:
        c = Checked(raw)
        if raw.source == "bid_requests":
            c.reason = self._check_bid_request(c)
        elif raw.source == "impressions":
            c.reason = self._check_impression(c)
        else:
            c.reason = self._check_tracking(c)
        if c.reason is None and not self.in_time(c.event_us, raw):
            c.reason = Reason.TOO_LATE
        return c

    def _check_bid_request(self, c: Checked) -> str | None:
        try:
            req = self.codec.decode(c.raw.payload)
        except DecodeError as exc:
            return exc.reason
        c.event_us = (req["event_ts"] - _EPOCH) // timedelta(microseconds=1)
        c.fields = {"id": req["id"], "imps": tuple(i["id"] for i in req["imp"])}
        if not req["id"] or not req["imp"] or any(not i["id"] for i in req["imp"]):
            return Reason.MISSING_FIELD
        if _bid_request_value_out_of_range(req):
            return Reason.IMPOSSIBLE_VALUE
        if self.is_future(c.event_us, c.raw):
            return Reason.IMPOSSIBLE_VALUE
        return None

    def _check_impression(self, c: Checked) -> str | None:
        try:
            text = c.raw.payload.decode("utf-8")
        except UnicodeDecodeError:
            return Reason.INVALID_UTF8
        try:
            obj = json.loads(text, parse_constant=_not_json)
        except (ValueError, RecursionError):  # RecursionError: nested too deep to read
            return Reason.MALFORMED_JSON
        if not isinstance(obj, dict) or FLUENTD_UNMATCHED_KEY in obj or _has_lone_surrogate(obj):
            return Reason.MALFORMED_JSON
        if isinstance(obj.get("event_ts"), str):
            c.event_us = parse_ts(obj["event_ts"])
        for name in IMPRESSION_REQUIRED:
            if obj.get(name) is None or obj[name] == "":
                return Reason.MISSING_FIELD
        for name in _IMPRESSION_STRINGS:
            if not isinstance(obj[name], str):
                return Reason.WRONG_TYPE
        price = obj["win_price_micros"]
        if not isinstance(price, int) or isinstance(price, bool):
            return Reason.WRONG_TYPE
        for name in _IMPRESSION_OBJECTS:
            if obj.get(name) is not None and not isinstance(obj[name], dict):
                return Reason.WRONG_TYPE
        if obj.get("ip") is not None and not isinstance(obj["ip"], str):
            return Reason.WRONG_TYPE
        if c.event_us is None:
            return Reason.UNPARSABLE_TIMESTAMP
        low, high = IMPRESSION_RANGES["win_price_micros"]
        if not low <= price <= high or obj["currency"] != CURRENCY:
            return Reason.IMPOSSIBLE_VALUE
        if self.is_future(c.event_us, c.raw):
            return Reason.IMPOSSIBLE_VALUE
        c.fields = {
            "impression_id": obj["impression_id"],
            "request_id": obj["request_id"],
            "imp_id": obj["imp_id"],
            "user_id": obj["user_id"],
            "campaign_id": obj["campaign_id"],
            "win_price_micros": price,
        }
        return None

    def _check_tracking(self, c: Checked) -> str | None:
        try:
            text = c.raw.payload.decode("utf-8")
        except UnicodeDecodeError:
            return Reason.INVALID_UTF8
        f = csv_fields(text)
        if f is None or len(f) != len(contracts.TRACKING_CSV_COLUMNS):
            return Reason.BAD_COLUMN_COUNT
        if f[2]:
            c.event_us = parse_ts(f[2])
        if f[0] == "":
            return Reason.MISSING_FIELD
        if f[0] not in ("click", "conversion"):
            return Reason.UNKNOWN_RECORD_TYPE
        c.kind = f[0]
        required = _CLICK_REQUIRED if c.kind == "click" else _CONVERSION_REQUIRED
        if any(f[i] == "" for i in required):
            return Reason.MISSING_FIELD
        if c.event_us is None:
            return Reason.UNPARSABLE_TIMESTAMP
        c.fields = {"event_id": f[1] or None, "user_id": f[3], "campaign_id": f[4]}
        if c.kind == "click":
            c.fields["impression_id"] = f[5]
        else:
            if _DECIMAL.fullmatch(f[7]) is None:
                if _NUMBER_LIKE.fullmatch(f[7]) is None:
                    return Reason.UNPARSABLE_NUMBER
                return Reason.IMPOSSIBLE_VALUE
            value_micros = int(Decimal(f[7]) * 1_000_000)
            if value_micros not in _BIGINT:
                return Reason.IMPOSSIBLE_VALUE
            if f[6] not in CONVERSION_TYPES or value_micros < 0:
                return Reason.IMPOSSIBLE_VALUE
            c.fields["conversion_type"] = f[6]
            c.fields["value_micros"] = value_micros
        if self.is_future(c.event_us, c.raw):
            return Reason.IMPOSSIBLE_VALUE
        return None

    # -- sections 4-7 ---------------------------------------------------------------------------

    def compute(self, raws: Iterable[Raw]) -> dict[str, Any]:
        """Outcomes per source and owner day, win rates and the campaign_daily rows."""
        outcomes: dict[tuple[str, date], dict[str, Any]] = defaultdict(
            lambda: {"in": 0, "curated": 0, "duplicates": 0, "quarantined": defaultdict(int)}
        )
        valid: dict[str, list[Checked]] = defaultdict(list)
        for raw in raws:
            c = self.check(raw)
            o = outcomes[raw.source, self.owner_day(c)]
            o["in"] += 1
            if c.reason is not None:
                o["quarantined"][c.reason] += 1
            else:
                # A valid record is kept for dedup and joins until the end: without its
                # payload, which is most of its memory (4M bid requests a day at 1M impressions).
                c.raw = replace(raw, payload=b"")
                valid[c.kind or raw.source].append(c)

        def dedup(items: list[Checked], key) -> list[Checked]:
            kept, seen = [], set()
            for c in sorted(items, key=lambda c: c.raw.order):
                k = (us_date(c.event_us), key(c))
                if k in seen:
                    outcomes[c.raw.source, us_date(c.event_us)]["duplicates"] += 1
                else:
                    seen.add(k)
                    kept.append(c)
            return kept

        def conversion_key(c: Checked) -> tuple:
            f = c.fields
            if f["event_id"] is not None:
                return ("id", f["event_id"])
            return ("fp", c.event_us, f["user_id"], f["campaign_id"],
                    f["conversion_type"], f["value_micros"])  # fmt: skip

        requests = dedup(valid["bid_requests"], lambda c: c.fields["id"])
        impressions = dedup(valid["impressions"], lambda c: c.fields["impression_id"])
        clicks = dedup(valid["click"], lambda c: c.fields["event_id"])
        conversions = dedup(valid["conversion"], conversion_key)

        def curated(c: Checked) -> None:
            outcomes[c.raw.source, us_date(c.event_us)]["curated"] += 1

        for c in requests + impressions:
            curated(c)

        # Section 5: clicks join impressions of their date and the window's days before.
        window_us = _us(self.rules.click_window)
        window_days = math.ceil(window_us / DAY_US)
        by_id: dict[str, list[Checked]] = defaultdict(list)
        for imp in impressions:
            by_id[imp.fields["impression_id"]].append(imp)
        good_clicks = []
        for click in clicks:
            click_day = us_date(click.event_us)
            candidates = [
                i
                for i in by_id.get(click.fields["impression_id"], ())
                if 0 <= (click_day - us_date(i.event_us)).days <= window_days
            ]
            reason = None
            if not candidates:
                reason = Reason.ORPHAN_CLICK
            else:
                imp = min(candidates, key=lambda i: i.event_us)
                if click.event_us < imp.event_us:
                    reason = Reason.CLICK_BEFORE_IMPRESSION
                elif click.event_us > imp.event_us + window_us:
                    reason = Reason.CLICK_OUTSIDE_WINDOW
                elif (click.fields["user_id"], click.fields["campaign_id"]) != (
                    imp.fields["user_id"],
                    imp.fields["campaign_id"],
                ):
                    reason = Reason.CLICK_IMPRESSION_MISMATCH
            if reason is None:
                good_clicks.append(click)
                curated(click)
            else:
                outcomes["tracking", click_day]["quarantined"][reason] += 1

        clicks_by_uc: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
        for click in good_clicks:
            f = click.fields
            clicks_by_uc[f["user_id"], f["campaign_id"]].append((click.event_us, f["event_id"]))
        views_by_uc: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
        for imp in impressions:
            f = imp.fields
            views_by_uc[f["user_id"], f["campaign_id"]].append((imp.event_us, f["impression_id"]))

        def last(touches: list[tuple[int, str]], t: int, lookback_us: int) -> str | None:
            """Id of the latest touch in [t - lookback, t]; on equal times the smallest id."""
            eligible = [x for x in touches if t - lookback_us <= x[0] <= t]
            if not eligible:
                return None
            latest = max(x[0] for x in eligible)
            return min(x[1] for x in eligible if x[0] == latest)

        rows: dict[tuple[date, str], dict[str, Any]] = defaultdict(
            lambda: {
                "impressions": 0,
                "clicks": 0,
                "conversions": 0,
                "spend_micros": 0,
                "revenue_micros": 0,
                "users": set(),
            }
        )
        for imp in impressions:
            row = rows[us_date(imp.event_us), imp.fields["campaign_id"]]
            row["impressions"] += 1
            row["spend_micros"] += imp.fields["win_price_micros"]
            row["users"].add(imp.fields["user_id"])
        for click in good_clicks:
            rows[us_date(click.event_us), click.fields["campaign_id"]]["clicks"] += 1
        click_lookback = _us(self.rules.last_click_lookback)
        view_lookback = _us(self.rules.last_view_lookback)
        attributions = []
        for conv in sorted(conversions, key=lambda c: c.raw.order):
            curated(conv)
            uc = (conv.fields["user_id"], conv.fields["campaign_id"])
            model, touch = (
                "last_click",
                last(clicks_by_uc.get(uc, []), conv.event_us, click_lookback),
            )
            if touch is None:
                model, touch = (
                    "last_view",
                    last(views_by_uc.get(uc, []), conv.event_us, view_lookback),
                )
            if touch is None:
                model = "unattributed"
            attributions.append(
                {
                    "dt": us_date(conv.event_us).isoformat(),
                    "conversion": conv.fields["event_id"] or _fingerprint_text(conv),
                    "campaign_id": conv.fields["campaign_id"],
                    "model": model,
                    "touch_id": touch,
                    "value_micros": conv.fields["value_micros"],
                }
            )
            if touch is None:
                continue
            row = rows[us_date(conv.event_us), conv.fields["campaign_id"]]
            row["conversions"] += 1
            row["revenue_micros"] += conv.fields["value_micros"]

        won = {(i.fields["request_id"], i.fields["imp_id"]) for i in impressions}
        win_rate: dict[str, dict[str, int]] = defaultdict(lambda: {"bid_imps": 0, "won_imps": 0})
        for req in requests:
            entry = win_rate[us_date(req.event_us).isoformat()]
            for imp_id in req.fields["imps"]:
                entry["bid_imps"] += 1
                entry["won_imps"] += (req.fields["id"], imp_id) in won

        return {
            "campaign_daily": [
                {
                    "dt": dt.isoformat(),
                    "campaign_id": campaign_id,
                    "impressions": r["impressions"],
                    "clicks": r["clicks"],
                    "conversions": r["conversions"],
                    "spend_micros": r["spend_micros"],
                    "revenue_micros": r["revenue_micros"],
                    "unique_users": len(r["users"]),
                }
                for (dt, campaign_id), r in sorted(rows.items())
            ],
            "win_rate": dict(sorted(win_rate.items())),
            "attributions": attributions,
            "outcomes": _outcomes_json(outcomes),
        }


def _has_lone_surrogate(value: Any) -> bool:
    """A ``\\ud800`` escape without its pair is JSON syntax but no Unicode text: the jobs'
    parser rejects the record, and no curated string column could hold it. Walked with a
    stack, not recursion: the parser reads objects nested deeper than Python recurses."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _not_json(constant: str) -> float:
    """json.loads reads NaN and Infinity, which JSON (RFC 8259) does not have."""
    raise ValueError(f"{constant} is not JSON")


def _bid_request_value_out_of_range(req: dict[str, Any]) -> bool:
    """A numeric field of a decoded request is not finite or outside its contract range."""

    def get(obj: dict[str, Any] | None, names: list[str]) -> Any:
        for name in names:
            obj = (obj or {}).get(name)
        return obj

    for path, (low, high) in contracts.BID_REQUEST_RANGES.items():
        first, *rest = path.split(".")
        found = [get(i, rest) for i in req["imp"]] if first == "imp" else [get(req, [first, *rest])]
        if any(v is not None and not (math.isfinite(v) and low <= v <= high) for v in found):
            return True
    yob = get(req, ["user", "yob"])
    return yob is not None and not MIN_YOB <= yob <= req["event_ts"].year


def _fingerprint_text(c: Checked) -> str:
    """Readable form of a conversion's dedup fingerprint (it has no event id)."""
    f = c.fields
    parts = (str(c.event_us), f["user_id"], f["campaign_id"], f["conversion_type"])
    return "fp:" + "|".join((*parts, str(f["value_micros"])))


def _us(delta: timedelta) -> int:
    return delta // timedelta(microseconds=1)


def _outcomes_json(outcomes: dict[tuple[str, date], dict[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for (source, day), o in sorted(outcomes.items()):
        quarantined = dict(sorted(o["quarantined"].items()))
        total = o["curated"] + o["duplicates"] + sum(quarantined.values())
        if total != o["in"]:
            raise AssertionError(f"reference does not reconcile for {source} {day}: {o}")
        result.setdefault(source, {})[day.isoformat()] = {
            "in": o["in"],
            "curated": o["curated"],
            "duplicates": o["duplicates"],
            "quarantined": quarantined,
        }
    return result


# ---------------------------------------------------------------------------------------
# Reading an output folder back


def read_raw(root: Path) -> Iterator[Raw]:
    """Every raw record of a simulator output folder, as the pipeline receives it."""
    topics = (
        ("bid_requests", contracts.TOPIC_BID_REQUESTS),
        ("impressions", contracts.TOPIC_AD_IMPRESSIONS),
    )
    for source, topic in topics:
        for path in writers.kafka_files(root, topic):
            name = path.name  # one string for every record of the file
            for index, rec in enumerate(writers.read_kafka_records(path)):
                yield Raw.kafka(source, rec["value"], rec["timestamp_ms"], (name, index))
    for path in sorted((root / writers.INBOX_DIR).glob("tracking_*.csv")):
        name = path.name  # one string for every row of the file
        m = _TRACKING_FILE.fullmatch(name)
        if m is None:
            continue
        hour = datetime.strptime(m.group(1) + m.group(2), "%Y%m%d%H").replace(tzinfo=UTC)
        hour_us = _us(hour - _EPOCH)
        lines = writers.split_lines(path.read_bytes())
        if not lines or lines[0].decode(errors="replace") not in contracts.TRACKING_CSV_HEADERS:
            raise ValueError(f"{path}: first line is not the tracking CSV header")
        for number, line in enumerate(lines[1:], start=2):
            if line:
                yield Raw.csv_row(line, hour_us, (name, number))


def compute_truth(root: Path, rules: Rules) -> dict[str, Any]:
    return Reference(rules).compute(read_raw(root))
