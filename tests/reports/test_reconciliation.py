"""Every report other than the two read straight from campaign_daily (funnel, audience,
top creatives, pacing, attribution) adds up to adtech.campaign_daily over the same range.

Those reports read the event tables (ad_funnel, clicks, conversions, bid_requests), so
this holds only if they count each event on its own event date, follow clicks and
conversions to impressions of earlier days, and lose nothing in their joins. The
campaign_daily side is read with a plain query of its own.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from adplatform.reports.runner import connect

pytestmark = pytest.mark.stack

MEASURES = ("impressions", "clicks", "conversions", "spend_micros", "revenue_micros")
# (from, to, campaign): a range whose clicks and conversions point to impressions of
# earlier days, single days on both sides of midnight, one campaign, the January data.
RANGES = [
    ("2026-03-01", "2026-03-03", ""),
    ("2026-03-03", "2026-03-03", ""),
    ("2026-03-02", "2026-03-02", "cmp-a"),
    ("2026-01-10", "2026-01-12", ""),
]


def campaign_daily(settings, from_date: str, to_date: str, campaign: str) -> dict:
    """Totals per campaign from adtech.campaign_daily, plus the per-day bid numbers."""
    conn = connect(settings, {})
    try:
        cursor = conn.cursor()
        cursor.execute(
            f"""SELECT dt, campaign_id, {", ".join(MEASURES)}, won_bid_imps, bid_imps
            FROM adtech.campaign_daily
            WHERE dt BETWEEN DATE '{from_date}' AND DATE '{to_date}'"""
        )
        rows = cursor.fetchall()
    finally:
        conn.close()
    per_campaign: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(MEASURES, 0))
    bids: dict[str, tuple[int, int]] = {}
    for dt, campaign_id, *values, won, offered in rows:
        bids[dt] = (won, offered)
        if campaign in ("", campaign_id):
            for name, value in zip(MEASURES, values, strict=True):
                per_campaign[campaign_id][name] += value
    total = {m: sum(c[m] for c in per_campaign.values()) for m in MEASURES}
    return {
        "campaigns": dict(per_campaign),
        "total": total,
        "won_bid_imps": sum(w for w, _ in bids.values()),
        "bid_imps": sum(b for _, b in bids.values()),
    }


@pytest.fixture(scope="module", params=RANGES, ids=lambda r: f"{r[0]}..{r[1]}{r[2] and '-' + r[2]}")
def case(request, report_settings):
    from_date, to_date, campaign = request.param
    return request.param, campaign_daily(report_settings, from_date, to_date, campaign)


def test_the_ranges_are_not_empty(case):
    _, expected = case
    assert expected["total"]["impressions"] > 0
    assert expected["total"]["conversions"] > 0


def test_audience_breakdown_adds_up_in_every_dimension(run, case):
    (from_date, to_date, campaign), expected = case
    sums: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(MEASURES, 0))
    for r in run("audience_breakdown", from_date, to_date, campaign):
        for m in MEASURES:
            sums[r["dimension"]][m] += r[m]
    assert set(sums) == {"age_band", "gender", "country", "device_type"}
    for dimension, totals in sums.items():
        assert totals == expected["total"], dimension


def test_top_creatives_add_up_per_campaign(run, case):
    (from_date, to_date, campaign), expected = case
    sums: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(MEASURES, 0))
    for r in run("top_creatives", from_date, to_date, campaign, top_n=1000):
        for m in MEASURES:
            sums[r["campaign_id"]][m] += r[m]
    assert dict(sums) == expected["campaigns"]


def test_funnel_stages_match_campaign_daily(run, case):
    (from_date, to_date, campaign), expected = case
    events = {r["stage"]: r["events"] for r in run("funnel", from_date, to_date, campaign)}
    assert events["impressions"] == expected["total"]["impressions"]
    assert events["clicks"] == expected["total"]["clicks"]
    assert events["conversions"] == expected["total"]["conversions"]
    assert events["bid_requests"] == expected["bid_imps"]
    if not campaign:  # campaign_daily's win numbers are the platform's
        assert events["wins"] == expected["won_bid_imps"]


def test_pacing_spend_adds_up_per_campaign(run, case):
    (from_date, to_date, campaign), expected = case
    spend: dict[str, int] = defaultdict(int)
    for r in run("pacing", from_date, to_date, campaign):
        spend[r["campaign_id"]] += r["spend_micros"]
    assert {c: s for c, s in spend.items() if s} == {
        c: t["spend_micros"] for c, t in expected["campaigns"].items() if t["spend_micros"]
    }


def test_attributed_conversions_add_up_per_campaign(run, case):
    (from_date, to_date, campaign), expected = case
    got = {
        r["campaign_id"]: (r["attributed_conversions"], r["attributed_revenue_micros"])
        for r in run("attribution_comparison", from_date, to_date, campaign)
        if r["attributed_conversions"]
    }
    assert got == {
        c: (t["conversions"], t["revenue_micros"])
        for c, t in expected["campaigns"].items()
        if t["conversions"]
    }


def test_campaign_performance_and_daily_trend_add_up(run, case):
    (from_date, to_date, campaign), expected = case
    performance = run("campaign_performance", from_date, to_date, campaign)
    trend = run("daily_trend", from_date, to_date, campaign)
    for report in (performance, trend):
        assert {m: sum(r[m] for r in report) for m in MEASURES} == expected["total"]
