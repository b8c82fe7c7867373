"""Text table and CSV output of report results.

CSV keeps the values exactly as the query returns them (money in micros, ratios as
fractions), for spreadsheets and scripts. The text table and the HTML page show them for
people: money in US dollars, CTR-like ratios in per cent.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from adplatform.reports.runner import ReportResult

MICROS_PER_USD = 1_000_000
# Ratios shown as percentages; every other float is shown with two decimals.
PERCENT_COLUMNS = {
    "ctr",
    "cvr",
    "rate_from_previous",
    "last_click_conversion_share",
    "last_click_revenue_share",
}


def display_name(column: str) -> str:
    """The header people read: money columns in dollars instead of micros."""
    return column.removesuffix("_micros") + "_usd" if column.endswith("_micros") else column


def display_value(column: str, value: Any) -> str:
    """One value as people read it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if column.endswith("_micros"):
        return f"{value / MICROS_PER_USD:,.2f}"
    if column in PERCENT_COLUMNS:
        return f"{value * 100:.2f}%"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def is_numeric(result: ReportResult, index: int) -> bool:
    return any(
        isinstance(row[index], int | float) and not isinstance(row[index], bool)
        for row in result.rows
    )


def render_table(result: ReportResult) -> str:
    """An aligned text table with a title line; numbers right-aligned."""
    headers = [display_name(c) for c in result.columns]
    cells = [
        [display_value(c, v) for c, v in zip(result.columns, row, strict=True)]
        for row in result.rows
    ]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    right = [is_numeric(result, i) for i in range(len(headers))]

    def line(values: list[str]) -> str:
        parts = [
            v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right, strict=True)
        ]
        return "  ".join(parts).rstrip()

    variables = ", ".join(f"{k}={v}" for k, v in result.hivevars.items() if v)
    out = [f"{result.report.title} ({variables})", line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in cells] or ["(no rows)"]
    return "\n".join(out)


def render_csv(result: ReportResult) -> str:
    """The rows as CSV with a header line; NULL is an empty field."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(result.columns)
    writer.writerows(["" if v is None else v for v in row] for row in result.rows)
    return buffer.getvalue()
