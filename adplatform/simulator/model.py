"""The simulated ad business: campaigns, users, publishers, placements and the traffic curve.

Everything is drawn from a seeded random generator, so a seed names one world. The numbers
are chosen to look like display advertising: click-through rates of 0.05-2 % that depend on
campaign, placement and device, conversion rates of a few per cent of clicks, a daily
traffic curve, a minority of heavy users who come back day after day.
"""

from __future__ import annotations

import bisect
import itertools
import random
from dataclasses import dataclass
from datetime import date, timedelta

# (alpha-2, alpha-3, share of users, UTC offset of the region's ad servers in minutes,
#  (region, city) pairs)
COUNTRIES = (
    ("US", "USA", 0.36, 0, (("CA", "San Francisco"), ("NY", "New York"), ("TX", "Austin"))),
    ("GB", "GBR", 0.12, 0, (("ENG", "London"), ("SCT", "Edinburgh"))),
    ("DE", "DEU", 0.10, 60, (("BE", "Berlin"), ("BY", "München"))),
    ("FR", "FRA", 0.09, 60, (("IDF", "Paris"), ("ARA", "Lyon"))),
    ("ES", "ESP", 0.06, 60, (("MD", "Madrid"), ("CT", "Barcelona"))),
    ("BR", "BRA", 0.08, 0, (("SP", "São Paulo"), ("RJ", "Rio de Janeiro"))),
    ("IN", "IND", 0.08, 0, (("MH", "Mumbai"), ("KA", "Bengaluru"))),
    ("JP", "JPN", 0.06, 0, (("13", "Tokyo"), ("27", "Osaka"))),
    ("CA", "CAN", 0.05, 0, (("ON", "Toronto"), ("QC", "Montréal"))),
)
ALPHA3 = {c[0]: c[1] for c in COUNTRIES}

_WEBKIT = "AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
_CHROME = "AppleWebKit/537.36 (KHTML, like Gecko)"
# device type -> (OpenRTB devicetype, share of users, CTR factor, operating systems, UA)
DEVICES = {
    "desktop": (
        2,
        0.38,
        1.0,
        ("Windows", "macOS", "Linux"),
        f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {_CHROME} Chrome/126.0 Safari/537.36",
    ),
    "mobile": (
        4,
        0.42,
        1.35,
        ("iOS", "Android"),
        f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) {_WEBKIT}",
    ),
    "tablet": (
        5,
        0.12,
        1.1,
        ("iPadOS", "Android"),
        f"Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) {_WEBKIT}",
    ),
    "ctv": (
        3,
        0.08,
        0.3,
        ("tvOS", "Tizen", "Android TV"),
        f"Mozilla/5.0 (SMART-TV; Linux; Tizen 7.0) {_CHROME} TV Safari/537.36",
    ),
}

# (w, h, OpenRTB position, CTR factor, devices it fits)
PLACEMENTS = (
    (300, 250, 1, 1.0, ("desktop", "mobile", "tablet")),
    (728, 90, 1, 0.65, ("desktop", "tablet")),
    (160, 600, 3, 0.45, ("desktop",)),
    (300, 600, 1, 0.9, ("desktop",)),
    (320, 50, 1, 1.15, ("mobile",)),
    (320, 480, 7, 2.2, ("mobile", "tablet")),
    (1920, 1080, 7, 1.0, ("ctv",)),
)

AGE_BANDS = (
    ("18-24", 0.14),
    ("25-34", 0.24),
    ("35-44", 0.21),
    ("45-54", 0.17),
    ("55-64", 0.14),
    ("65+", 0.10),
)
GENDERS = (("M", 0.47), ("F", 0.47), ("O", 0.02), ("U", 0.04))
SEGMENTS = ("sports", "travel", "tech", "finance", "auto", "fashion", "gaming", "parenting")
ADVERTISERS = (
    ("adv-01", "Northwind Outfitters"),
    ("adv-02", "Contoso Travel"),
    ("adv-03", "Fabrikam Motors"),
    ("adv-04", "Tailspin Games"),
    ("adv-05", "Woodgrove Bank"),
    ("adv-06", "Litware Electronics"),
    ("adv-07", "Adventure Works"),
    ("adv-08", "Wide World Importers"),
)
# conversion type -> (value range in cents, share of campaigns)
CONVERSION_TYPES = {
    "purchase": ((1500, 25000), 0.45),
    "add_to_cart": ((500, 8000), 0.15),
    "lead": ((200, 3000), 0.2),
    "signup": ((50, 500), 0.2),
}
SITES = (
    "dailyherald.example",
    "sportsnow.example",
    "techpulse.example",
    "travelwise.example",
    "moneymatters.example",
    "autoreview.example",
    "stylehub.example",
    "gamerzone.example",
    "familyfirst.example",
    "weatherdesk.example",
    "recipebox.example",
    "cinemascope.example",
)
APPS = (
    "com.example.puzzle",
    "com.example.news",
    "com.example.runner",
    "com.example.weather",
    "com.example.chat",
    "com.example.streamtv",
    "com.example.shopper",
    "com.example.fitness",
)
# Relative traffic per UTC hour: quiet nights, a lunchtime bump and an evening peak.
HOURLY_TRAFFIC = (
    0.35,
    0.25,
    0.2,
    0.18,
    0.2,
    0.3,
    0.5,
    0.8,
    1.0,
    1.1,
    1.15,
    1.2,
    1.3,
    1.25,
    1.15,
    1.1,
    1.1,
    1.15,
    1.3,
    1.45,
    1.5,
    1.35,
    1.0,
    0.6,
)
CTR_MIN, CTR_MAX = 0.0005, 0.02


@dataclass(frozen=True)
class Campaign:
    campaign_id: str
    name: str
    advertiser_id: str
    advertiser_name: str
    pricing_model: str
    budget_micros: int
    flight_start: date
    flight_end: date
    bid_cpm_micros: int
    base_ctr: float
    click_cvr: float
    conversion_type: str
    segments: tuple[str, ...]
    creatives: tuple[str, ...]
    weight: float

    def active(self, day: date) -> bool:
        return self.flight_start <= day <= self.flight_end


@dataclass(frozen=True)
class User:
    user_id: str
    age_band: str
    yob: int
    gender: str
    country: str
    region: str
    city: str
    segment: str
    device: str
    os: str
    ip: str
    ifa: str | None


@dataclass(frozen=True)
class Publisher:
    kind: str  # "site" or "app"
    publisher_id: str
    inventory_id: str
    name: str  # domain of a site, bundle of an app
    floor_cpm: float
    ctr_factor: float
    category: str


def _weighted(rng: random.Random, pairs: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def hex_id(rng: random.Random, prefix: str, bits: int = 64) -> str:
    return f"{prefix}{rng.getrandbits(bits):0{bits // 4}x}"


class World:
    """Campaigns, users and publishers of one seed, plus weighted pickers over them."""

    def __init__(self, seed: int, start: date, days: int, n_campaigns: int, n_users: int):
        rng = random.Random(f"world:{seed}")
        self.start = start
        self.days = days
        last_day = start + timedelta(days=days - 1)
        self.publishers = self._publishers(rng)
        self.users = [self._user(rng, i) for i in range(n_users)]
        # Heavy-tailed activity: a few users browse a lot and come back every day.
        activity = [rng.paretovariate(1.3) for _ in self.users]
        self._user_cum = list(itertools.accumulate(activity))
        self.campaigns = [self._campaign(rng, i, start, last_day) for i in range(n_campaigns)]

    @staticmethod
    def _publishers(rng: random.Random) -> list[Publisher]:
        pubs = []
        for i, domain in enumerate(SITES):
            pubs.append(
                Publisher(
                    "site",
                    f"pub-{i + 1:03d}",
                    f"site-{i + 1:03d}",
                    domain,
                    round(rng.uniform(0.2, 1.6), 2),
                    rng.uniform(0.7, 1.3),
                    f"IAB{rng.randint(1, 26)}",
                )
            )
        for i, bundle in enumerate(APPS):
            pubs.append(
                Publisher(
                    "app",
                    f"pub-{len(SITES) + i + 1:03d}",
                    f"app-{i + 1:03d}",
                    bundle,
                    round(rng.uniform(0.3, 2.0), 2),
                    rng.uniform(0.8, 1.4),
                    f"IAB{rng.randint(1, 26)}",
                )
            )
        return pubs

    @staticmethod
    def _user(rng: random.Random, i: int) -> User:
        country = rng.choices(COUNTRIES, weights=[c[2] for c in COUNTRIES])[0]
        region, city = rng.choice(country[4])
        device = rng.choices(list(DEVICES), weights=[d[1] for d in DEVICES.values()])[0]
        age_band = _weighted(rng, AGE_BANDS)
        low = {"18-24": 18, "25-34": 25, "35-44": 35, "45-54": 45, "55-64": 55, "65+": 65}
        yob = 2025 - low[age_band] - rng.randint(0, 9)
        if rng.random() < 0.08:
            ip = ":".join(f"{rng.getrandbits(16):x}" for _ in range(8))
        else:
            octets = (rng.randint(11, 223), rng.randint(0, 255), rng.randint(0, 255))
            ip = ".".join(map(str, (*octets, rng.randint(1, 254))))
        ifa = None
        if device in ("mobile", "tablet", "ctv"):
            h = f"{rng.getrandbits(128):032x}"
            ifa = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        return User(
            user_id=hex_id(rng, "u-", 48),
            age_band=age_band,
            yob=yob,
            gender=_weighted(rng, GENDERS),
            country=country[0],
            region=region,
            city=city,
            segment=rng.choice(SEGMENTS),
            device=device,
            os=rng.choice(DEVICES[device][3]),
            ip=ip,
            ifa=ifa,
        )

    @staticmethod
    def _campaign(rng: random.Random, i: int, start: date, last_day: date) -> Campaign:
        adv_id, adv_name = ADVERTISERS[i % len(ADVERTISERS)]
        span = (last_day - start).days
        flight_start = start - timedelta(days=rng.randint(0, 20))
        flight_end = last_day + timedelta(days=rng.randint(0, 30))
        # A quarter of the campaigns start late or end early inside the simulated range.
        if span >= 1 and rng.random() < 0.25:
            if rng.random() < 0.5:
                flight_start = start + timedelta(days=rng.randint(1, span))
            else:
                flight_end = start + timedelta(days=rng.randint(0, span - 1))
        shares = [v[1] for v in CONVERSION_TYPES.values()]
        conv_type = rng.choices(list(CONVERSION_TYPES), shares)[0]
        bid_cpm = rng.uniform(1.8, 6.0)
        flight_days = (flight_end - flight_start).days + 1
        # Budgets sized from the expected daily spend so that pacing reports look plausible.
        budget = int(flight_days * rng.uniform(40, 400) * 1_000_000)
        n = i + 1
        return Campaign(
            campaign_id=f"cmp-{n:04d}",
            name=f"{adv_name.split()[0]} {rng.choice(['Spring', 'Summer', 'Launch', 'Always-on', 'Retargeting', 'Brand'])} {n}",  # noqa: E501
            advertiser_id=adv_id,
            advertiser_name=adv_name,
            pricing_model=rng.choices(["CPM", "CPC", "CPA"], [0.5, 0.3, 0.2])[0],
            budget_micros=budget,
            flight_start=flight_start,
            flight_end=flight_end,
            bid_cpm_micros=int(bid_cpm * 1_000_000),
            base_ctr=rng.uniform(0.0015, 0.008),
            click_cvr=rng.uniform(0.05, 0.25),
            conversion_type=conv_type,
            segments=tuple(rng.sample(SEGMENTS, 2)),
            creatives=tuple(f"cr-{n:04d}-{k}" for k in range(1, rng.randint(2, 4) + 1)),
            weight=rng.uniform(0.5, 2.0),
        )

    def pick_user(self, rng: random.Random) -> User:
        x = rng.random() * self._user_cum[-1]
        return self.users[bisect.bisect_right(self._user_cum, x)]

    def active_campaigns(self, day: date) -> tuple[list[Campaign], list[float]]:
        active = [c for c in self.campaigns if c.active(day)]
        return active, list(itertools.accumulate(c.weight for c in active))

    def pick_publisher(self, rng: random.Random, device: str) -> Publisher:
        # CTV is all apps; phones and tablets about half apps; desktops browse sites.
        in_app = device == "ctv" or (device != "desktop" and rng.random() < 0.55)
        kind = "app" if in_app else "site"
        return rng.choice([p for p in self.publishers if p.kind == kind])

    @staticmethod
    def pick_placement(rng: random.Random, device: str) -> tuple[int, int, int, float]:
        fits = [p for p in PLACEMENTS if device in p[4]]
        w, h, pos, factor, _ = rng.choice(fits)
        return w, h, pos, factor


def ctr(campaign: Campaign, user: User, publisher: Publisher, placement_factor: float) -> float:
    """Click probability of one impression, inside the 0.05-2 % band of display ads."""
    p = campaign.base_ctr * DEVICES[user.device][2] * placement_factor * publisher.ctr_factor
    if user.segment in campaign.segments:
        p *= 1.5
    return min(max(p, CTR_MIN), CTR_MAX)


def hourly_targets(total: int) -> list[int]:
    """Split a day's impressions over its 24 hours along the traffic curve (sums to total)."""
    weight_sum = sum(HOURLY_TRAFFIC)
    exact = [total * w / weight_sum for w in HOURLY_TRAFFIC]
    counts = [int(x) for x in exact]
    remainders = sorted(range(24), key=lambda h: (counts[h] - exact[h], h))
    for h in remainders[: total - sum(counts)]:
        counts[h] += 1
    return counts
