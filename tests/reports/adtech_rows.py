"""Hand-made rows of the adtech tables for the report tests.

Two data sets live side by side in one database, on dates that do not overlap:

* **March** (2026-02-28 .. 2026-03-03): two campaigns, every event written out below, with
  the cases a report can get wrong: an impression with two clicks, a click just after
  midnight on an impression of the day before, a last-click conversion whose click and
  impression are on earlier days, last-view conversions, an unattributed conversion, an
  impression without a bid, a user missing from dim_user, a campaign with a conversion
  but no impression on a day after its flight, spend before the range inside the flight.
  `campaign_daily` is written by hand from these events, as the batch job would compute
  it (docs/data-contracts.md, section 6); the tests hold the numbers the reports must
  return, worked out by hand.
* **January** (2026-01-01 .. 2026-01-30): 30 days of one campaign, one impression, click
  and conversion a day, for the partition-pruning tests.

`write_jsonl(folder)` writes one ``<table>.jsonl`` per table for ``apps/load_tables.py``.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

USERS = {
    "u1": ("25-34", "F", "US"),
    "u2": ("35-44", "M", "DE"),
    "u3": ("18-24", "F", "FR"),
    # u4 is not in dim_user: its impressions have no demographics.
}

CAMPAIGNS = [
    # campaign_id, name, advertiser_id, advertiser_name, pricing, budget, flight start, end
    ("cmp-a", "Spring Sale", "adv-1", "Acme", "CPM", 100_000, "2026-03-01", "2026-03-10"),
    ("cmp-b", "Launch", "adv-2", "Globex", "CPC", 12_000, "2026-02-25", "2026-03-02"),
    ("cmp-x", "January X", "adv-1", "Acme", "CPM", 5_000_000, "2026-01-01", "2026-01-31"),
]


def _ts(text: str) -> str:
    return text.replace(" ", "T") + "Z"


def impression(
    impression_id: str,
    ts: str,
    campaign_id: str,
    creative_id: str,
    user_id: str,
    device_type: str,
    price_micros: int,
    bid: tuple[str, str] | None,
    **conversions: int,
) -> dict[str, Any]:
    """One ad_funnel row; ``conversions`` sets the credited-conversion columns."""
    age_band, gender, user_country = USERS.get(user_id, (None, None, None))
    name = {c[0]: c for c in CAMPAIGNS}[campaign_id]
    return {
        "impression_id": impression_id,
        "request_id": bid[0] if bid else f"unknown-{impression_id}",
        "imp_id": bid[1] if bid else "1",
        "event_ts": _ts(ts),
        "user_id": user_id,
        "creative_id": creative_id,
        "inventory_type": "site",
        "device_type": device_type,
        "country": user_country or "NL",
        "has_bid": bid is not None,
        "bid_ts": _ts(ts) if bid else None,
        "win_price_micros": price_micros,
        "click_count": 0,
        "clicked": False,
        "last_click_conversions": 0,
        "last_click_conversion_value_micros": 0,
        "last_view_conversions": 0,
        "last_view_conversion_value_micros": 0,
        "conversions": 0,
        "conversion_value_micros": 0,
        **conversions,
        "campaign_name": name[1],
        "advertiser_id": name[2],
        "advertiser_name": name[3],
        "pricing_model": name[4],
        "age_band": age_band,
        "gender": gender,
        "user_country": user_country,
        "dt": ts[:10],
        "campaign_id": campaign_id,
    }


def click(event_id: str, ts: str, user_id: str, campaign_id: str, imp: dict) -> dict[str, Any]:
    imp["click_count"] += 1
    imp["clicked"] = True
    return {
        "event_id": event_id,
        "event_ts": _ts(ts),
        "user_id": user_id,
        "campaign_id": campaign_id,
        "impression_id": imp["impression_id"],
        "impression_ts": imp["event_ts"],
        "dt": ts[:10],
    }


def conversion(
    key: str,
    ts: str,
    user_id: str,
    campaign_id: str,
    kind: str,
    value_micros: int,
    attribution: str,
    touch: dict | None = None,
    imp: dict | None = None,
) -> dict[str, Any]:
    """A conversion credited to a click (`touch` = the click, `imp` = its impression), to
    an impression (`touch` = `imp` = the impression), or to nothing."""
    prefix = {"last_click": "last_click", "last_view": "last_view"}.get(attribution)
    if prefix:
        imp[f"{prefix}_conversions"] += 1
        imp[f"{prefix}_conversion_value_micros"] += value_micros
        imp["conversions"] += 1
        imp["conversion_value_micros"] += value_micros
    return {
        "conversion_key": key,
        "event_id": key,
        "event_ts": _ts(ts),
        "user_id": user_id,
        "campaign_id": campaign_id,
        "conversion_type": kind,
        "value_micros": value_micros,
        "attribution": attribution,
        "attributed_click_id": touch["event_id"] if attribution == "last_click" else None,
        "attributed_impression_id": imp["impression_id"] if imp else None,
        "attributed_touch_ts": touch["event_ts"] if touch else None,
        "dt": ts[:10],
    }


def bid_request(request_id: str, imp_id: str, ts: str) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "imp_id": imp_id,
        "event_ts": _ts(ts),
        "bidfloor_cpm_micros": 500_000,
        "bidfloor_currency": "USD",
        "imp_count": 1,
        "dt": ts[:10],
    }


def daily(
    dt: str,
    campaign_id: str,
    impressions: int,
    clicks: int,
    conversions: int,
    spend: int,
    revenue: int,
    users: int,
    won: int,
    bids: int,
) -> dict[str, Any]:
    def ratio(a: float, b: float) -> float | None:
        return a / b if b else None

    return {
        "campaign_id": campaign_id,
        "impressions": impressions,
        "clicks": clicks,
        "conversions": conversions,
        "spend_micros": spend,
        "revenue_micros": revenue,
        "unique_users": users,
        "ctr": ratio(clicks, impressions),
        "cvr": ratio(conversions, clicks),
        "cpa_micros": ratio(spend, conversions),
        "ecpm_micros": ratio(spend * 1000, impressions),
        "win_rate": ratio(won, bids),
        "won_bid_imps": won,
        "bid_imps": bids,
        "dt": dt,
    }


def march() -> dict[str, list[dict[str, Any]]]:
    i0 = impression(
        "i0", "2026-02-28 20:00:00", "cmp-b", "cr-b1", "u3", "mobile", 4000, ("r0", "1")
    )
    i1 = impression(
        "i1", "2026-03-01 10:00:00", "cmp-a", "cr-a1", "u1", "mobile", 2000, ("r1", "1")
    )
    i2 = impression(
        "i2", "2026-03-01 11:00:00", "cmp-a", "cr-a2", "u2", "desktop", 3000, ("r2", "1")
    )
    i3 = impression(
        "i3", "2026-03-01 12:00:00", "cmp-b", "cr-b1", "u3", "mobile", 1500, ("r3", "1")
    )
    i4 = impression(
        "i4", "2026-03-01 23:30:00", "cmp-a", "cr-a1", "u1", "mobile", 2500, ("r4", "1")
    )
    i5 = impression(
        "i5", "2026-03-02 09:00:00", "cmp-a", "cr-a1", "u2", "desktop", 2200, ("r5", "1")
    )
    i6 = impression("i6", "2026-03-02 10:00:00", "cmp-b", "cr-b1", "u4", "tablet", 1800, None)
    i7 = impression(
        "i7", "2026-03-02 15:00:00", "cmp-b", "cr-b2", "u3", "mobile", 1700, ("r6", "2")
    )
    i8 = impression(
        "i8", "2026-03-03 08:00:00", "cmp-a", "cr-a2", "u1", "desktop", 2600, ("r7", "1")
    )
    k1 = click("k1", "2026-03-01 10:05:00", "u1", "cmp-a", i1)
    k2 = click("k2", "2026-03-01 10:07:00", "u1", "cmp-a", i1)
    k3 = click("k3", "2026-03-02 00:10:00", "u1", "cmp-a", i4)
    k4 = click("k4", "2026-03-01 12:30:00", "u3", "cmp-b", i3)
    k5 = click("k5", "2026-03-02 15:20:00", "u3", "cmp-b", i7)
    k6 = click("k6", "2026-03-03 08:01:00", "u1", "cmp-a", i8)
    conversions = [
        conversion(
            "v1", "2026-03-01 18:00:00", "u1", "cmp-a", "purchase", 20_000, "last_click", k2, i1
        ),
        conversion(
            "v2", "2026-03-02 12:00:00", "u2", "cmp-a", "signup", 5_000, "last_view", i5, i5
        ),
        conversion(
            "v5", "2026-03-02 20:00:00", "u1", "cmp-a", "purchase", 10_000, "last_click", k3, i4
        ),
        conversion("v6", "2026-03-02 13:00:00", "u2", "cmp-b", "add_to_cart", 3_000, "none"),
        conversion(
            "v3", "2026-03-03 09:00:00", "u3", "cmp-b", "purchase", 40_000, "last_click", k5, i7
        ),
        conversion("v4", "2026-03-03 10:00:00", "u1", "cmp-a", "lead", 2_500, "last_click", k6, i8),
        conversion(
            "v7", "2026-03-03 07:00:00", "u2", "cmp-a", "signup", 1_000, "last_view", i5, i5
        ),
    ]
    bids = [
        bid_request("r0", "1", "2026-02-28 20:00:00"),
        bid_request("r9", "1", "2026-02-28 21:00:00"),
        *(
            bid_request(r, "1", t)
            for r, t in [
                ("r1", "2026-03-01 10:00:00"),
                ("r2", "2026-03-01 11:00:00"),
                ("r3", "2026-03-01 12:00:00"),
                ("r4", "2026-03-01 23:30:00"),
            ]
        ),
        bid_request("r8", "1", "2026-03-01 13:00:00"),
        bid_request("r8", "2", "2026-03-01 13:00:00"),
        bid_request("r5", "1", "2026-03-02 09:00:00"),
        bid_request("r6", "1", "2026-03-02 15:00:00"),
        bid_request("r6", "2", "2026-03-02 15:00:00"),
        bid_request("r10", "1", "2026-03-02 16:00:00"),
        bid_request("r7", "1", "2026-03-03 08:00:00"),
        bid_request("r11", "1", "2026-03-03 09:00:00"),
    ]
    campaign_daily = [
        # dt, campaign, impressions, clicks, conversions, spend, revenue, users, won, bids
        daily("2026-02-28", "cmp-b", 1, 0, 0, 4000, 0, 1, 1, 2),
        daily("2026-03-01", "cmp-a", 3, 2, 1, 7500, 20_000, 2, 4, 6),
        daily("2026-03-01", "cmp-b", 1, 1, 0, 1500, 0, 1, 4, 6),
        daily("2026-03-02", "cmp-a", 1, 1, 2, 2200, 15_000, 1, 2, 4),
        daily("2026-03-02", "cmp-b", 2, 1, 0, 3500, 0, 2, 2, 4),
        daily("2026-03-03", "cmp-a", 1, 1, 2, 2600, 3_500, 1, 1, 2),
        daily("2026-03-03", "cmp-b", 0, 0, 1, 0, 40_000, 0, 1, 2),
    ]
    return {
        "ad_funnel": [i0, i1, i2, i3, i4, i5, i6, i7, i8],
        "clicks": [k1, k2, k3, k4, k5, k6],
        "conversions": conversions,
        "bid_requests": bids,
        "campaign_daily": campaign_daily,
    }


JANUARY_START = date(2026, 1, 1)
JANUARY_DAYS = 30


def january() -> dict[str, list[dict[str, Any]]]:
    """Per day: one impression of cmp-x (won bid), its click, a last-click conversion, and
    one bid imp nobody won."""
    tables: dict[str, list[dict[str, Any]]] = {
        "ad_funnel": [],
        "clicks": [],
        "conversions": [],
        "bid_requests": [],
        "campaign_daily": [],
    }
    for n in range(JANUARY_DAYS):
        day = (JANUARY_START + timedelta(days=n)).isoformat()
        imp = impression(
            f"i-{day}",
            f"{day} 10:00:00",
            "cmp-x",
            f"cr-x{n % 3}",
            "u1",
            "mobile",
            1000 + n,
            (f"r-{day}", "1"),
        )
        clk = click(f"k-{day}", f"{day} 10:30:00", "u1", "cmp-x", imp)
        conv = conversion(
            f"v-{day}", f"{day} 20:00:00", "u1", "cmp-x", "lead", 500, "last_click", clk, imp
        )
        tables["ad_funnel"].append(imp)
        tables["clicks"].append(clk)
        tables["conversions"].append(conv)
        tables["bid_requests"] += [
            bid_request(f"r-{day}", "1", f"{day} 10:00:00"),
            bid_request(f"r-lost-{day}", "1", f"{day} 12:00:00"),
        ]
        tables["campaign_daily"].append(daily(day, "cmp-x", 1, 1, 1, 1000 + n, 500, 1, 1, 2))
    return tables


def dimensions() -> dict[str, list[dict[str, Any]]]:
    campaigns = [
        {
            "campaign_id": c[0],
            "campaign_name": c[1],
            "advertiser_id": c[2],
            "advertiser_name": c[3],
            "pricing_model": c[4],
            "budget_micros": c[5],
            "flight_start": c[6],
            "flight_end": c[7],
            "bid_cpm_micros": 2_000_000,
        }
        for c in CAMPAIGNS
    ]
    users = [
        {"user_id": u, "age_band": a, "gender": g, "country": c, "segment": "general"}
        for u, (a, g, c) in USERS.items()
    ]
    return {"dim_campaign": campaigns, "dim_user": users}


def all_tables() -> dict[str, list[dict[str, Any]]]:
    tables = dimensions()
    for part in (march(), january()):
        for table, rows in part.items():
            tables.setdefault(table, []).extend(rows)
    return tables


def write_jsonl(folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    for table, rows in all_tables().items():
        (folder / f"{table}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return sorted(all_tables())
