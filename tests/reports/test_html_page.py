"""The HTML page, rendered from results written by hand: charts drawn from the right
numbers, every value escaped, nothing loaded from elsewhere."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime

from adplatform.reports.html_page import render_html
from adplatform.reports.queries import BY_NAME, ReportParameters
from adplatform.reports.runner import ReportResult
from tests.reports.html_reader import external_references, read_charts

PARAMS = ReportParameters(date(2026, 3, 1), date(2026, 3, 2))


def result(name: str, columns: str, *rows: tuple) -> ReportResult:
    report = BY_NAME[name]
    return ReportResult(report, PARAMS.hivevars(report), columns.split(), list(rows), 0.1)


RESULTS = {
    "campaign_performance": result(
        "campaign_performance",
        "campaign_id campaign_name advertiser_name pricing_model impressions clicks conversions "
        "spend_micros revenue_micros ctr cvr cpa_micros ecpm_micros roas",
        ("c1", "<b>Sale & more</b>", "Acme", "CPM", 1000, 20, 2, 2_000_000, 5_000_000,
         0.02, 0.1, 1_000_000.0, 2_000_000.0, 2.5),
    ),
    "daily_trend": result(
        "daily_trend",
        "dt impressions clicks conversions spend_micros revenue_micros ctr cvr cpa_micros "
        "ecpm_micros roas",
        ("2026-03-01", 600, 12, 2, 1_200_000, 5_000_000, 0.02, 1 / 6, 600_000.0, 2e6, 25 / 6),
        ("2026-03-02", 400, 8, 0, 800_000, 0, 0.02, 0.0, None, 2e6, 0.0),
    ),
    "funnel": result(
        "funnel",
        "stage_order stage scope events rate_from_previous",
        (1, "bid_requests", "all campaigns", 4000, None),
        (2, "wins", "all campaigns", 1000, 0.25),
        (3, "impressions", "all campaigns", 1000, 1.0),
        (4, "clicks", "all campaigns", 20, 0.02),
        (5, "conversions", "all campaigns", 2, 0.1),
    ),
    "audience_breakdown": result(
        "audience_breakdown",
        "dimension value impressions unique_users clicks conversions spend_micros "
        "revenue_micros ctr cvr ecpm_micros",
        ("age_band", "18-24", 300, 30, 9, 1, 600_000, 2_000_000, 0.03, 1 / 9, 2e6),
        ("age_band", "25-34", 700, 70, 11, 1, 1_400_000, 3_000_000, 11 / 700, 1 / 11, 2e6),
        ("device_type", "mobile", 1000, 100, 20, 2, 2_000_000, 5_000_000, 0.02, 0.1, 2e6),
    ),
    "pacing": result(
        "pacing",
        "campaign_id campaign_name dt in_flight flight_start flight_end flight_day "
        "flight_days budget_micros spend_micros flight_spend_to_date_micros "
        "planned_spend_to_date_micros pacing_index budget_remaining_micros",
        ("c1", "Sale", "2026-03-01", True, "2026-03-01", "2026-03-10", 1, 10, 10_000_000,
         1_200_000, 1_200_000, 1_000_000, 1.2, 8_800_000),
        ("c1", "Sale", "2026-03-02", True, "2026-03-01", "2026-03-10", 2, 10, 10_000_000,
         800_000, 2_000_000, 2_000_000, 1.0, 8_000_000),
    ),
    "attribution_comparison": result(
        "attribution_comparison",
        "campaign_id campaign_name last_click_conversions last_view_conversions "
        "attributed_conversions unattributed_conversions last_click_revenue_micros "
        "last_view_revenue_micros attributed_revenue_micros unattributed_value_micros "
        "last_click_conversion_share last_click_revenue_share last_click_mean_delay_s "
        "last_view_mean_delay_s",
        ("c1", "Sale", 1, 1, 2, 0, 4_000_000, 1_000_000, 5_000_000, 0, 0.5, 0.8, 3600.0, 60.0),
    ),
}  # fmt: skip


def page() -> str:
    return render_html(RESULTS, PARAMS, "127.0.0.1:10000", datetime(2026, 3, 3, 6, tzinfo=UTC))


def test_page_has_the_charts_with_the_numbers_of_the_results():
    charts = read_charts(page())
    assert sorted(charts) == sorted(
        [f"trend-{c}" for c in ("impressions", "clicks", "conversions")]
        + ["trend-spend_micros", "trend-revenue_micros", "trend-ctr"]
        + ["funnel", "audience-age_band", "audience-device_type", "pacing", "attribution"]
    )
    assert charts["trend-impressions"] == [("2026-03-01", 600), ("2026-03-02", 400)]
    assert charts["trend-spend_micros"] == [("2026-03-01", 1.2), ("2026-03-02", 0.8)]
    assert charts["trend-ctr"] == [("2026-03-01", 2.0), ("2026-03-02", 2.0)]
    assert charts["funnel"] == [
        ("bid_requests", 4000),
        ("wins", 1000),
        ("impressions", 1000),
        ("clicks", 20),
        ("conversions", 2),
    ]
    assert charts["audience-age_band"] == [("18-24", 300), ("25-34", 700)]
    assert charts["pacing"] == [("c1", 1.0)]  # the last day of the range
    assert charts["attribution"] == [("c1", "last click", 1), ("c1", "last view", 1)]


def test_every_svg_is_well_formed_xml():
    text = page()
    start = 0
    count = 0
    while (start := text.find("<svg", start)) != -1:
        end = text.index("</svg>", start) + len("</svg>")
        ET.fromstring(text[start:end])
        count += 1
        start = end
    assert count == 11


def test_page_opens_offline_and_escapes_values():
    text = page()
    assert external_references(text) == []
    assert "<b>Sale" not in text
    assert "&lt;b&gt;Sale &amp; more&lt;/b&gt;" in text


def test_kpis_are_the_totals_of_the_range():
    text = page()
    for kpi, shown in [("spend", "$2.00"), ("ctr", "2.00%"), ("roas", "2.50"), ("cpa", "$1.00")]:
        assert f'data-kpi="{kpi}"><div class="value">{shown}</div>' in text


def test_a_report_left_out_leaves_its_section_out():
    results = {k: v for k, v in RESULTS.items() if k != "funnel"}
    text = render_html(results, PARAMS, "h:1", datetime(2026, 3, 3, tzinfo=UTC))
    assert "funnel" not in read_charts(text)
    assert 'id="funnel"' not in text
