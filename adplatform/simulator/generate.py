"""The generator: auctions, impressions, clicks and conversions, hour by hour, with faults.

Every simulated hour has its own random streams, one for the world (what users do) and one
for delivery (arrival delays and faults), both seeded from the run's seed and the hour. So
the same seed gives byte-identical files, and changing a fault rate does not change the
clean events underneath.
"""

from __future__ import annotations

import io
import json
import math
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import fastavro

from adplatform import contracts
from adplatform.contracts import Rules
from adplatform.simulator import faults as fault_catalog
from adplatform.simulator.clock import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    SECOND_MS,
    day_start_ms,
    hour_floor,
    iso_ms,
    ms_to_date,
    ms_to_datetime,
)
from adplatform.simulator.faults import DUPLICATE, FAULTS, INVALIDATING, LATE, FaultPicker
from adplatform.simulator.model import (
    ALPHA3,
    CONVERSION_TYPES,
    COUNTRIES,
    DEVICES,
    Campaign,
    Publisher,
    User,
    World,
    ctr,
    hex_id,
    hourly_targets,
)
from adplatform.simulator.writers import (
    FAULT_LOG,
    Output,
    kafka_file_name,
    log_file_name,
    tracking_file_name,
)

SOURCES = ("bid_requests", "impressions", "clicks", "conversions")
_EU = {"GB", "DE", "FR", "ES"}
_SERVER_OFFSET = {c[0]: c[3] for c in COUNTRIES}
# Share of conversions reported by partner postbacks that carry no event id.
CONVERSIONS_WITHOUT_ID = 0.2
SECOND_CLICK_SHARE = 0.08
VIEW_THROUGH_RATE = 0.001
ORGANIC_CONVERSION_RATE = 0.0005
# A late record arrives at least this long after its event (if the grace period allows).
LATE_MIN_MS = 2 * HOUR_MS


@dataclass(frozen=True)
class SimConfig:
    seed: int = 42
    start_date: date = date(2025, 1, 6)
    days: int = 3
    events_per_day: int = 2000  # impressions (won auctions) per day
    campaigns: int = 12
    users: int = 3000
    fault_rates: dict[str, float] = field(
        default_factory=lambda: fault_catalog.rates(fault_catalog.DEFAULT_FAULT_RATE, {})
    )
    rules: Rules = field(default_factory=Rules)

    def __post_init__(self) -> None:
        if self.days < 1 or self.events_per_day < 0 or self.campaigns < 1 or self.users < 1:
            raise ValueError("days, campaigns and users must be at least 1, events at least 0")
        if self.rules.late_grace < timedelta(hours=1):
            raise ValueError("the simulator needs a late-data grace period of at least 1 hour")

    def as_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "start_date": self.start_date.isoformat(),
            "days": self.days,
            "events_per_day": self.events_per_day,
            "campaigns": self.campaigns,
            "users": self.users,
            "fault_rates": dict(self.fault_rates),
        }


@dataclass(slots=True)
class Impression:
    impression_id: str
    request_id: str
    imp_id: str
    ts: int
    user: User
    campaign: Campaign
    creative_id: str
    publisher: Publisher
    placement_factor: float
    win_price_micros: int
    has_click: bool = False


@dataclass(slots=True)
class Click:
    event_id: str
    ts: int
    impression: Impression


@dataclass(slots=True)
class Conversion:
    record_id: str
    has_event_id: bool
    ts: int
    user_id: str
    campaign_id: str
    conversion_type: str
    value_cents: int


@dataclass
class Stats:
    generated: dict = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    faults: dict = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    )
    records: dict = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))

    def by_source(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for source in (*SOURCES, "bid_request_imps"):
            days = sorted(set(self.generated[source]) | set(self.faults[source]))
            out[source] = {
                d: {
                    "generated": self.generated[source][d],
                    "faults": dict(sorted(self.faults[source][d].items())),
                }
                for d in days
            }
        out.pop("bid_request_imps")
        for d, entry in out["bid_requests"].items():
            entry["imps"] = self.generated["bid_request_imps"][d]
        return out


def _fmt_value(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


class Simulation:
    """One run of the simulator into one output folder."""

    def __init__(
        self,
        config: SimConfig,
        out_dir: Path,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.cfg = config
        self.out = Output(out_dir, config.seed)
        self.world = World(
            config.seed, config.start_date, config.days, config.campaigns, config.users
        )
        self.progress = progress or (lambda n: None)
        self.schema = contracts.bid_request_schema()
        self.schema_json = contracts.bid_request_schema_text()
        self.schema_id = contracts.local_schema_id(contracts.BID_REQUEST_VERSION)
        self.pickers = {s: FaultPicker(s, config.fault_rates) for s in SOURCES}
        self.orphan_rate = config.fault_rates["orphan_click"]
        self.grace_ms = int(config.rules.late_grace.total_seconds() * 1000)
        self.start_ms = day_start_ms(config.start_date)
        self.end_ms = self.start_ms + config.days * DAY_MS
        self.stats = Stats()
        self.fault_entries: list[dict[str, Any]] = []

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> Stats:
        (self.out.root / FAULT_LOG).write_bytes(b"")
        for d in range(self.cfg.days):
            day = self.cfg.start_date + timedelta(days=d)
            for hour, target in enumerate(hourly_targets(self.cfg.events_per_day)):
                self._hour(day, hour, target)
                self.progress(target)
        self._deliver_every_tracking_hour()
        self._write_dims()
        self.out.append_lines(
            FAULT_LOG,
            (json.dumps(e, sort_keys=True).encode() for e in self.fault_entries),
        )
        return self.stats

    def _hour(self, day: date, hour: int, target: int) -> None:
        chunk_ms = day_start_ms(day) + hour * HOUR_MS
        rng = random.Random(f"world:{self.cfg.seed}:{day.isoformat()}:{hour}")
        frng = random.Random(f"delivery:{self.cfg.seed}:{day.isoformat()}:{hour}")
        campaigns, cum = self.world.active_campaigns(day)
        if not campaigns:
            target = 0
        requests, impressions = self._auctions(rng, chunk_ms, target, campaigns, cum)
        clicks, conversions = self._reactions(rng, chunk_ms, impressions, campaigns)
        self._emit_bid_requests(frng, chunk_ms, requests)
        self._emit_impressions(frng, chunk_ms, impressions)
        self._emit_tracking(frng, clicks, conversions)

    # -- the world ---------------------------------------------------------------------------

    def _auctions(
        self,
        rng: random.Random,
        chunk_ms: int,
        target: int,
        campaigns: list[Campaign],
        cum: list[float],
    ) -> tuple[list[dict[str, Any]], list[Impression]]:
        """Bid requests of one hour until ``target`` imps are won, and the impressions won."""
        requests: list[dict[str, Any]] = []
        impressions: list[Impression] = []
        competitor_mu = math.log(5.5)
        while len(impressions) < target:
            # Leave 1 s at the end of the hour so that an impression stays in its hour.
            ts = chunk_ms + rng.randrange(HOUR_MS - SECOND_MS)
            user = self.world.pick_user(rng)
            publisher = self.world.pick_publisher(rng, user.device)
            request_id = hex_id(rng, "", 80)
            imps = []
            for k in range(2 if rng.random() < 0.2 else 1):
                w, h, pos, factor = self.world.pick_placement(rng, user.device)
                floor = max(0.01, round(publisher.floor_cpm * rng.lognormvariate(0, 0.25), 2))
                imp_id = str(k + 1)
                imps.append(
                    {
                        "id": imp_id,
                        "bidfloor": floor,
                        "bidfloorcur": "USD",
                        "tagid": f"{publisher.inventory_id}-{w}x{h}",
                        "banner": {"w": w, "h": h, "pos": pos},
                    }
                )
                if len(impressions) >= target:
                    continue
                campaign = rng.choices(campaigns, cum_weights=cum)[0]
                bid = campaign.bid_cpm_micros / 1e6 * rng.lognormvariate(0, 0.25)
                if user.segment in campaign.segments:
                    bid *= 1.3
                clearing = max(floor, rng.lognormvariate(competitor_mu, 0.6))
                if bid <= clearing:
                    continue
                # Second-price-like: the higher of floor and best other bid, plus a cent.
                price_cpm = min(bid, clearing + 0.01)
                impressions.append(
                    Impression(
                        impression_id=hex_id(rng, "imp-"),
                        request_id=request_id,
                        imp_id=imp_id,
                        ts=ts + rng.randint(40, 400),
                        user=user,
                        campaign=campaign,
                        creative_id=rng.choice(campaign.creatives),
                        publisher=publisher,
                        placement_factor=factor,
                        win_price_micros=max(1, round(price_cpm * 1000)),
                    )
                )
            requests.append(self._bid_request(rng, request_id, ts, user, publisher, imps))
        return requests, impressions

    @staticmethod
    def _bid_request(
        rng: random.Random,
        request_id: str,
        ts: int,
        user: User,
        publisher: Publisher,
        imps: list[dict[str, Any]],
    ) -> dict[str, Any]:
        pub = {"id": publisher.publisher_id, "name": publisher.name, "domain": None}
        site = app = None
        if publisher.kind == "site":
            pub["domain"] = publisher.name
            site = {
                "id": publisher.inventory_id,
                "name": publisher.name,
                "domain": publisher.name,
                "page": f"https://{publisher.name}/article/{rng.randint(1000, 99999)}",
                "cat": [publisher.category],
                "publisher": pub,
            }
        else:
            app = {
                "id": publisher.inventory_id,
                "name": publisher.name.rsplit(".", 1)[-1].title(),
                "bundle": publisher.name,
                "cat": [publisher.category],
                "publisher": pub,
            }
        v6 = ":" in user.ip
        return {
            "id": request_id,
            "event_ts": ts,
            "imp": imps,
            "site": site,
            "app": app,
            "device": {
                "ua": DEVICES[user.device][4],
                "ip": None if v6 else user.ip,
                "ipv6": user.ip if v6 else None,
                "ifa": user.ifa,
                "devicetype": DEVICES[user.device][0],
                "os": user.os,
                "geo": {"country": ALPHA3[user.country], "region": user.region, "city": user.city},
            },
            "user": {
                "id": user.user_id,
                "yob": user.yob,
                "gender": None if user.gender == "U" else user.gender,
            },
            "regs": {"coppa": 0, "gdpr": 1 if user.country in _EU else 0},
            "tmax": rng.choice((100, 120, 150, 200)),
            "cur": ["USD"],
        }

    def _reactions(
        self,
        rng: random.Random,
        chunk_ms: int,
        impressions: list[Impression],
        campaigns: list[Campaign],
    ) -> tuple[list[Click], list[Conversion]]:
        """Clicks and conversions that follow this hour's impressions, plus organic conversions."""
        clicks: list[Click] = []
        conversions: list[Conversion] = []
        for imp in impressions:
            p = ctr(imp.campaign, imp.user, imp.publisher, imp.placement_factor)
            if rng.random() < p:
                # Most clicks come seconds after the impression, a few hours later.
                delay = min(int(rng.lognormvariate(math.log(20_000), 1.6)), 23 * HOUR_MS)
                first = imp.ts + max(delay, 300)
                times = [first]
                if rng.random() < SECOND_CLICK_SHARE:
                    times.append(first + rng.randint(SECOND_MS, 90 * SECOND_MS))
                for t in times:
                    if t < self.end_ms:
                        clicks.append(Click(hex_id(rng, "clk-"), t, imp))
                        imp.has_click = True
                if rng.random() < imp.campaign.click_cvr:
                    self._convert(rng, conversions, imp, first + self._conversion_delay(rng))
            elif rng.random() < VIEW_THROUGH_RATE:
                delay = int(rng.expovariate(1 / (5 * HOUR_MS)))
                self._convert(rng, conversions, imp, imp.ts + delay)
            if rng.random() < ORGANIC_CONVERSION_RATE:
                user = self.world.pick_user(rng)
                campaign = rng.choice(campaigns)
                self._convert(
                    rng, conversions, None, chunk_ms + rng.randrange(HOUR_MS), user, campaign
                )
        return clicks, conversions

    @staticmethod
    def _conversion_delay(rng: random.Random) -> int:
        """Minutes for impulse buys, hours for most, days (some past the lookback) for a few."""
        u = rng.random()
        if u < 0.45:
            return int(rng.expovariate(1 / (20 * MINUTE_MS)))
        if u < 0.85:
            return int(rng.expovariate(1 / (8 * HOUR_MS)))
        return rng.randint(DAY_MS, 9 * DAY_MS)

    def _convert(
        self,
        rng: random.Random,
        out: list[Conversion],
        imp: Impression | None,
        ts: int,
        user: User | None = None,
        campaign: Campaign | None = None,
    ) -> None:
        if imp is not None:
            user, campaign = imp.user, imp.campaign
        assert user is not None and campaign is not None
        ctype = campaign.conversion_type
        low, high = CONVERSION_TYPES[ctype][0]
        record_id = hex_id(rng, "cnv-")
        has_id = rng.random() >= CONVERSIONS_WITHOUT_ID
        value = rng.randint(low, high)
        if ts < self.end_ms:
            out.append(
                Conversion(record_id, has_id, ts, user.user_id, campaign.campaign_id, ctype, value)
            )

    # -- delivery and faults ------------------------------------------------------------------

    def _pick(self, frng: random.Random, source: str) -> str | None:
        return self.pickers[source].pick(frng.random())

    def _arrival(self, frng: random.Random, event_ms: int, kind: str | None, csv: bool) -> int:
        """Simulated arrival: a small delay, or a late one inside or past the grace period."""
        if kind == LATE:
            # Hours late, but before the end of the grace period of the event's date.
            room = day_start_ms(ms_to_date(event_ms)) + DAY_MS + self.grace_ms - 1 - event_ms
            return event_ms + frng.randint(min(LATE_MIN_MS, room), room)
        if kind == "too_late":
            limit = day_start_ms(ms_to_date(event_ms)) + DAY_MS + self.grace_ms
            return limit + frng.randint(0, 2 * DAY_MS)
        if csv:
            return event_ms + frng.randint(SECOND_MS, 2 * MINUTE_MS)
        return event_ms + min(int(frng.lognormvariate(math.log(300), 1.0)), 20 * SECOND_MS)

    def _resend(self, frng: random.Random, arrival: int) -> int:
        return arrival + frng.randint(SECOND_MS, 20 * MINUTE_MS)

    def _future(self, frng: random.Random, arrival: int) -> int:
        return arrival + frng.randint(30, 400) * DAY_MS + frng.randrange(DAY_MS)

    def _fault(self, source: str, kind: str, record_id: str, event_ms: int, **where: Any) -> None:
        self.stats.faults[source][ms_to_date(event_ms).isoformat()][kind] += 1
        self.fault_entries.append(
            {
                "source": source,
                "kind": kind,
                "record_id": record_id,
                "event_date": ms_to_date(event_ms).isoformat(),
                "expected_reason": FAULTS[kind].reason,
                **where,
            }
        )

    def _encode(self, record: dict[str, Any]) -> bytes:
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, self.schema, record)
        return buf.getvalue()

    def _emit_bid_requests(
        self, frng: random.Random, chunk_ms: int, requests: list[dict[str, Any]]
    ) -> None:
        requests.sort(key=lambda r: r["event_ts"])
        records: list[tuple[int, int, bytes, bytes, str | None, dict[str, Any]]] = []
        bodies = []
        for seq, req in enumerate(requests):
            body = self._encode(req)
            bodies.append(body)
            ts = req["event_ts"]
            day = ms_to_date(ts).isoformat()
            self.stats.generated["bid_requests"][day] += 1
            self.stats.generated["bid_request_imps"][day] += len(req["imp"])
            kind = self._pick(frng, "bid_requests")
            arrival = self._arrival(frng, ts, kind, csv=False)
            value = contracts.frame(self.schema_id, body)
            if kind == "negative_price":
                bad = dict(req, imp=[dict(req["imp"][0], bidfloor=-req["imp"][0]["bidfloor"])])
                value = contracts.frame(self.schema_id, self._encode(bad))
            elif kind == "future_event":
                value = contracts.frame(
                    self.schema_id, self._encode(dict(req, event_ts=self._future(frng, arrival)))
                )
            elif kind == "truncated_avro":
                value = value[: frng.randint(5, len(value) - 1)]
            elif kind == "corrupt_avro":
                value = json.dumps({"id": req["id"], "imp": req["imp"]}).encode()
            key = req["id"].encode()
            records.append((arrival, 2 * seq, key, value, kind, req))
            if kind == DUPLICATE:
                records.append((self._resend(frng, arrival), 2 * seq + 1, key, value, None, req))
        records.sort(key=lambda r: (r[0], r[1]))
        rows = []
        for index, (arrival, seq, key, value, kind, req) in enumerate(records):
            rows.append({"timestamp_ms": arrival, "key": key, "value": value})
            self.stats.records["bid_requests"][_hour_key(arrival)] += 1
            fault = kind if kind != DUPLICATE else None
            if seq % 2 == 1:
                fault = DUPLICATE
            if fault:
                self._fault(
                    "bid_requests",
                    fault,
                    req["id"],
                    req["event_ts"],
                    kafka_file=kafka_file_name(contracts.TOPIC_BID_REQUESTS, chunk_ms),
                    index=index,
                )
        self.out.write_kafka_records(contracts.TOPIC_BID_REQUESTS, chunk_ms, rows)
        self.out.write_archive(chunk_ms, self.schema_json, bodies)

    def _impression_object(self, imp: Impression) -> dict[str, Any]:
        user, pub = imp.user, imp.publisher
        inventory = {"id": pub.inventory_id, "publisher_id": pub.publisher_id}
        site = dict(inventory, domain=pub.name) if pub.kind == "site" else None
        app = dict(inventory, bundle=pub.name) if pub.kind == "app" else None
        return {
            "impression_id": imp.impression_id,
            "request_id": imp.request_id,
            "imp_id": imp.imp_id,
            "event_ts": iso_ms(imp.ts, _SERVER_OFFSET[user.country]),
            "user_id": user.user_id,
            "campaign_id": imp.campaign.campaign_id,
            "creative_id": imp.creative_id,
            "site": site,
            "app": app,
            "device": {
                "type": user.device,
                "os": user.os,
                "ua": DEVICES[user.device][4],
                "ifa": user.ifa,
            },
            "geo": {"country": user.country, "region": user.region, "city": user.city},
            "ip": user.ip,
            "win_price_micros": imp.win_price_micros,
            "currency": contracts.CURRENCY,
        }

    @staticmethod
    def _dumps(obj: dict[str, Any]) -> bytes:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def _corrupt_impression(
        self, frng: random.Random, kind: str, obj: dict[str, Any], arrival: int
    ) -> bytes:
        if kind == "malformed_json":
            text = self._dumps(obj).decode()
            return text[: frng.randint(1, len(text) - 2)].encode()
        if kind == "invalid_utf8":
            return self._dumps(obj).replace(b'"creative_id":"', b'"creative_id":"\xe9', 1)
        obj = dict(obj)
        if kind == "missing_field":
            name = frng.choice(contracts.impression_json_schema()["required"])
            how = frng.randrange(3)
            if how == 0 or (how == 2 and name == "win_price_micros"):
                del obj[name]
            else:
                obj[name] = None if how == 1 else ""
        elif kind == "wrong_type":
            how = frng.randrange(4)
            if how == 0:
                obj["win_price_micros"] = str(obj["win_price_micros"])
            elif how == 1:
                obj["user_id"] = frng.randint(10_000, 99_999)
            elif how == 2:
                obj["win_price_micros"] = float(obj["win_price_micros"])
            else:
                obj["site"] = "unknown"
        elif kind == "unparsable_timestamp":
            obj["event_ts"] = _bad_timestamp(frng, obj["event_ts"])
        elif kind == "negative_price":
            obj["win_price_micros"] = -obj["win_price_micros"]
        elif kind == "future_event":
            obj["event_ts"] = iso_ms(self._future(frng, arrival))
        return self._dumps(obj)

    def _emit_impressions(
        self, frng: random.Random, chunk_ms: int, impressions: list[Impression]
    ) -> None:
        records = []
        for seq, imp in enumerate(sorted(impressions, key=lambda i: i.ts)):
            self.stats.generated["impressions"][ms_to_date(imp.ts).isoformat()] += 1
            kind = self._pick(frng, "impressions")
            if kind in INVALIDATING and imp.has_click:
                kind = None
            arrival = self._arrival(frng, imp.ts, kind, csv=False)
            obj = self._impression_object(imp)
            line = self._corrupt_impression(frng, kind, obj, arrival) if kind else None
            if line is None:
                line = self._dumps(obj)
            records.append((arrival, 2 * seq, line, kind, imp))
            if kind == DUPLICATE:
                records.append((self._resend(frng, arrival), 2 * seq + 1, line, None, imp))
        records.sort(key=lambda r: (r[0], r[1]))
        rows = []
        kafka_name = kafka_file_name(contracts.TOPIC_AD_IMPRESSIONS, chunk_ms)
        for index, (arrival, seq, line, kind, imp) in enumerate(records):
            key, value = contracts.impression_kafka_record(line)
            rows.append({"timestamp_ms": arrival, "key": key, "value": value})
            self.stats.records["ad_impressions"][_hour_key(arrival)] += 1
            log_name = log_file_name(arrival)
            line_no = self.out.append_lines(log_name, [line])
            fault = DUPLICATE if seq % 2 == 1 else (kind if kind != DUPLICATE else None)
            if fault:
                self._fault(
                    "impressions",
                    fault,
                    imp.impression_id,
                    imp.ts,
                    kafka_file=kafka_name,
                    index=index,
                    file=log_name,
                    line=line_no,
                )
        self.out.write_kafka_records(contracts.TOPIC_AD_IMPRESSIONS, chunk_ms, rows)

    def _emit_tracking(
        self, frng: random.Random, clicks: list[Click], conversions: list[Conversion]
    ) -> None:
        rows: list[tuple[int, str, bytes, str | None, str, int]] = []
        for click in clicks:
            imp = click.impression
            self.stats.generated["clicks"][ms_to_date(click.ts).isoformat()] += 1
            kind = self._pick(frng, "clicks")
            ts = click.ts
            if kind == "click_before_impression":
                room = imp.ts - day_start_ms(ms_to_date(imp.ts))
                if room <= SECOND_MS:
                    kind = None
                else:
                    ts = imp.ts - frng.randint(SECOND_MS, min(2 * HOUR_MS, room))
            fields = [
                "click",
                click.event_id,
                iso_ms(ts),
                imp.user.user_id,
                imp.campaign.campaign_id,
                imp.impression_id,
                "",
                "",
            ]
            self._tracking_row(frng, rows, "clicks", kind, fields, click.event_id, ts)
            if frng.random() < self.orphan_rate:
                orphan_ts = click.ts + frng.randint(SECOND_MS, 10 * MINUTE_MS)
                if orphan_ts < self.end_ms:
                    orphan = list(fields)
                    orphan[1] = hex_id(frng, "clk-")
                    orphan[2] = iso_ms(orphan_ts)
                    orphan[5] = hex_id(frng, "imp-")
                    self._tracking_row(
                        frng, rows, "clicks", "orphan_click", orphan, orphan[1], orphan_ts
                    )
        for conv in conversions:
            self.stats.generated["conversions"][ms_to_date(conv.ts).isoformat()] += 1
            kind = self._pick(frng, "conversions")
            fields = [
                "conversion",
                conv.record_id if conv.has_event_id else "",
                iso_ms(conv.ts),
                conv.user_id,
                conv.campaign_id,
                "",
                conv.conversion_type,
                _fmt_value(conv.value_cents),
            ]
            self._tracking_row(frng, rows, "conversions", kind, fields, conv.record_id, conv.ts)
        by_file: dict[str, list[tuple[int, str, bytes, str | None, str, int]]] = defaultdict(list)
        for row in rows:
            by_file[tracking_file_name(row[0])].append(row)
        header = contracts.TRACKING_CSV_HEADER.encode()
        for name in sorted(by_file):
            first = self.out.append_lines(name, (r[2] for r in by_file[name]), header=header)
            for offset, (_, source, _, kind, record_id, event_ms) in enumerate(by_file[name]):
                if kind:
                    self._fault(source, kind, record_id, event_ms, file=name, line=first + offset)

    def _deliver_every_tracking_hour(self) -> None:
        """The click-tracking export delivers a file every hour, the header alone when no row
        arrived in it, from the first simulated hour to the end of the last day's grace
        period (later hours get one only when rows arrive then): the hourly intake finds the
        file of each hour it waits for, and the daily runs find every hour they read closed."""
        header = contracts.TRACKING_CSV_HEADER.encode()
        end_ms = self.end_ms + int(self.cfg.rules.late_grace.total_seconds() * 1000)
        for hour_ms in range(self.start_ms, end_ms, HOUR_MS):
            self.out.append_lines(tracking_file_name(hour_ms), (), header=header)

    def _tracking_row(
        self,
        frng: random.Random,
        rows: list[tuple[int, str, bytes, str | None, str, int]],
        source: str,
        kind: str | None,
        fields: list[str],
        record_id: str,
        event_ms: int,
    ) -> None:
        arrival = self._arrival(frng, event_ms, kind, csv=True)
        fields = list(fields)
        raw: bytes | None = None
        if kind == "invalid_utf8":
            parts = [f.encode() for f in fields]
            parts[3] = parts[3] + b"\xff\xfe"
            raw = b",".join(parts)
        elif kind == "bad_column_count":
            fields = fields[:-1] if frng.random() < 0.5 else [*fields, "x"]
        elif kind == "missing_field":
            required = (1, 2, 3, 4, 5) if fields[0] == "click" else (2, 3, 4, 6, 7)
            fields[frng.choice(required)] = ""
        elif kind == "unparsable_timestamp":
            fields[2] = _bad_timestamp(frng, fields[2])
        elif kind == "unparsable_number":
            fields[7] = frng.choice(("12.5.0", "USD 12.50", "12..5", "twelve", "0x1A"))
        elif kind == "negative_price":
            fields[7] = "-" + fields[7]
        elif kind == "future_event":
            fields[2] = iso_ms(self._future(frng, arrival))
        line = raw if raw is not None else ",".join(fields).encode("utf-8")
        self.stats.records["tracking"][_hour_key(arrival)] += 1
        rows.append(
            (arrival, source, line, kind if kind != DUPLICATE else None, record_id, event_ms)
        )
        if kind == DUPLICATE:
            again = self._resend(frng, arrival)
            self.stats.records["tracking"][_hour_key(again)] += 1
            rows.append((again, source, line, DUPLICATE, record_id, event_ms))

    # -- dimensions ---------------------------------------------------------------------------

    def _write_dims(self) -> None:
        self.out.write_csv(
            "dims/campaigns.csv",
            [
                "campaign_id",
                "campaign_name",
                "advertiser_id",
                "advertiser_name",
                "pricing_model",
                "budget_micros",
                "flight_start",
                "flight_end",
                "bid_cpm_micros",
            ],
            (
                [
                    c.campaign_id,
                    c.name,
                    c.advertiser_id,
                    c.advertiser_name,
                    c.pricing_model,
                    c.budget_micros,
                    c.flight_start.isoformat(),
                    c.flight_end.isoformat(),
                    c.bid_cpm_micros,
                ]
                for c in self.world.campaigns
            ),
        )
        self.out.write_csv(
            "dims/users.csv",
            ["user_id", "age_band", "gender", "country", "segment"],
            (
                [u.user_id, u.age_band, u.gender, u.country, u.segment]
                for u in sorted(self.world.users, key=lambda u: u.user_id)
            ),
        )


def _hour_key(ms: int) -> str:
    return f"{ms_to_datetime(hour_floor(ms)):%Y-%m-%dT%H}"


def _bad_timestamp(frng: random.Random, good: str) -> str:
    """A timestamp an ad server or tracker might really send that breaks the grammar."""
    base = good[:19]
    choices = (
        base.replace("T", " "),  # no T, no zone
        base,  # no zone
        f"{base[5:7]}/{base[8:10]}/{base[:4]} {base[11:]}",  # US style
        base[:5] + "13" + base[7:] + "Z",  # month 13
        "yesterday",
    )
    return frng.choice(choices)


def simulate(
    config: SimConfig, out_dir: Path, progress: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """Generate a run into ``out_dir`` (which must be empty or absent) and write its manifest."""
    from adplatform.simulator.manifest import build_manifest

    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} is not empty; give a new folder to --out")
    sim = Simulation(config, out_dir, progress)
    stats = sim.run()
    return build_manifest(config, sim.out, stats)
