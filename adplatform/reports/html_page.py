"""The HTML campaign report: one self-contained page (inline CSS and SVG, no script, no
external file) that opens offline in any browser.

It shows the totals of the range, the daily trend as line charts, the funnel, the
audience as bar charts, pacing and attribution as bar charts, and every report as a table.
A report that was not run is left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from html import escape

from adplatform.reports import charts
from adplatform.reports.formats import MICROS_PER_USD, display_name, display_value
from adplatform.reports.queries import REPORTS, ReportParameters
from adplatform.reports.runner import ReportResult

STYLE = """
body { font-family: sans-serif; color: #0f172a; margin: 24px; max-width: 1200px; }
h1 { margin-bottom: 4px; } h2 { margin-top: 32px; border-bottom: 1px solid #e2e8f0; }
.meta { color: #475569; font-size: 13px; }
.kpis { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
.kpi { border: 1px solid #e2e8f0; border-radius: 6px; padding: 8px 14px; min-width: 110px; }
.kpi .value { font-size: 20px; font-weight: bold; } .kpi .name { color: #475569; font-size: 12px; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
table { border-collapse: collapse; font-size: 12px; margin: 8px 0; }
th, td { border-bottom: 1px solid #e2e8f0; padding: 3px 8px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
details summary { cursor: pointer; color: #2563eb; margin: 6px 0; }
.table-wrap { overflow-x: auto; }
"""


def _usd(micros: float) -> str:
    return f"${micros / MICROS_PER_USD:,.2f}"


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _table(result: ReportResult) -> str:
    head = "".join(f"<th>{escape(display_name(c))}</th>" for c in result.columns)
    body = []
    for row in result.rows:
        cells = []
        for column, value in zip(result.columns, row, strict=True):
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            css = ' class="num"' if numeric else ""
            cells.append(f"<td{css}>{escape(display_value(column, value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(result.columns)}">no rows</td></tr>')
    return (
        f'<div class="table-wrap"><table data-report="{escape(result.report.name)}">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _kpis(result: ReportResult) -> str:
    rows = result.records()
    total = {
        k: sum(r[k] for r in rows)
        for k in ("impressions", "clicks", "conversions", "spend_micros", "revenue_micros")
    }
    tiles = [
        ("Impressions", f"{total['impressions']:,}"),
        ("Clicks", f"{total['clicks']:,}"),
        ("Conversions", f"{total['conversions']:,}"),
        ("Spend", _usd(total["spend_micros"])),
        ("Revenue", _usd(total["revenue_micros"])),
    ]
    ratios = [
        ("CTR", _ratio(total["clicks"], total["impressions"]), lambda v: f"{v * 100:.2f}%"),
        ("CVR", _ratio(total["conversions"], total["clicks"]), lambda v: f"{v * 100:.2f}%"),
        ("CPA", _ratio(total["spend_micros"], total["conversions"]), _usd),
        ("eCPM", _ratio(total["spend_micros"] * 1000, total["impressions"]), _usd),
        ("ROAS", _ratio(total["revenue_micros"], total["spend_micros"]), lambda v: f"{v:.2f}"),
    ]
    tiles += [(name, "–" if v is None else fmt(v)) for name, v, fmt in ratios]
    return (
        '<div class="kpis">'
        + "".join(
            f'<div class="kpi" data-kpi="{escape(n.lower())}"><div class="value">{escape(v)}</div>'
            f'<div class="name">{escape(n)}</div></div>'
            for n, v in tiles
        )
        + "</div>"
    )


def _trend_charts(result: ReportResult) -> str:
    rows = result.records()
    series = [
        ("impressions", "Impressions", lambda v: f"{v:,.0f}", 1),
        ("clicks", "Clicks", lambda v: f"{v:,.0f}", 1),
        ("conversions", "Conversions", lambda v: f"{v:,.0f}", 1),
        ("spend_micros", "Spend (USD)", lambda v: f"${v:,.2f}", MICROS_PER_USD),
        ("revenue_micros", "Revenue (USD)", lambda v: f"${v:,.2f}", MICROS_PER_USD),
        ("ctr", "CTR (%)", lambda v: f"{v:.2f}%", 0.01),
    ]
    out = []
    for column, title, fmt, divisor in series:
        points = [(r["dt"], None if r[column] is None else r[column] / divisor) for r in rows]
        out.append(charts.line_chart(f"trend-{column}", title, points, fmt))
    return '<div class="charts">' + "".join(out) + "</div>"


def _funnel_chart(result: ReportResult) -> str:
    stages = []
    for r in result.records():
        rate = r["rate_from_previous"]
        note = "" if rate is None else f"({rate * 100:.2f}% of the stage above)"
        stages.append((r["stage"], r["events"], note))
    return charts.funnel_chart("funnel", "Funnel", stages)


def _audience_charts(result: ReportResult) -> str:
    by_dimension: dict[str, list[tuple[str, float, str]]] = {}
    for r in result.records():
        ctr = "" if r["ctr"] is None else f", CTR {r['ctr'] * 100:.2f}%"
        note = f"{r['impressions']:,} imps{ctr}"
        by_dimension.setdefault(r["dimension"], []).append((r["value"], r["impressions"], note))
    out = [
        charts.bar_chart(f"audience-{dimension}", f"Impressions by {dimension}", bars)
        for dimension, bars in by_dimension.items()
    ]
    return '<div class="charts">' + "".join(out) + "</div>"


def _pacing_chart(result: ReportResult) -> str:
    last: dict[str, dict] = {}
    for r in result.records():
        last[r["campaign_id"]] = r  # rows are ordered by campaign, then day
    bars = [
        (
            campaign,
            r["pacing_index"] or 0.0,
            f"{display_value('pacing_index', r['pacing_index'])} on {r['dt']}",
        )
        for campaign, r in last.items()
    ]
    return charts.bar_chart(
        "pacing", "Pacing index on the last day (1.00 = on schedule)", bars, reference=1.0
    )


def _attribution_chart(result: ReportResult) -> str:
    rows = [
        (r["campaign_id"], [r["last_click_conversions"], r["last_view_conversions"]])
        for r in result.records()
    ]
    return charts.stacked_bar_chart(
        "attribution", "Attributed conversions by model", ["last click", "last view"], rows
    )


CHARTS = {
    "campaign_performance": _kpis,
    "daily_trend": _trend_charts,
    "funnel": _funnel_chart,
    "audience_breakdown": _audience_charts,
    "pacing": _pacing_chart,
    "attribution_comparison": _attribution_chart,
}
# Long tables start folded; the charts above them carry the message.
FOLDED = {"daily_trend", "audience_breakdown", "pacing"}


def render_html(
    results: Mapping[str, ReportResult],
    params: ReportParameters,
    endpoint: str,
    generated_at: datetime,
) -> str:
    """The whole page for the results of one run."""
    campaign = params.campaign_id or "all campaigns"
    sections = []
    for report in REPORTS:
        result = results.get(report.name)
        if result is None:
            continue
        variables = ", ".join(f"{k}={v}" for k, v in result.hivevars.items() if v)
        chart = CHARTS[report.name](result) if report.name in CHARTS and result.rows else ""
        table = _table(result)
        if report.name in FOLDED:
            table = f"<details><summary>Table ({len(result.rows)} rows)</summary>{table}</details>"
        sections.append(
            f'<section id="{escape(report.name)}"><h2>{escape(report.title)}</h2>'
            f'<p class="meta">hive/reports/{escape(report.name)}.sql with {escape(variables)}</p>'
            f"{chart}{table}</section>"
        )
    title = f"Campaign report {params.from_date} to {params.to_date}, {campaign}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1>"
        f'<p class="meta">UTC event dates, money in US dollars. Generated '
        f"{escape(generated_at.strftime('%Y-%m-%d %H:%M UTC'))} from HiveServer2 at "
        f"{escape(endpoint)}.</p>" + "".join(sections) + "</body></html>\n"
    )
