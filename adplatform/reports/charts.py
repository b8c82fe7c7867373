"""Inline SVG charts for the HTML report: no script, no external file, opens offline.

Every chart is one ``<svg class="chart" data-chart="<id>">``; every drawn point, bar or
segment carries ``data-label`` and ``data-value`` (the exact number it stands for) and a
``<title>`` tooltip, so that people can hover and tests can read the charts back.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

COLORS = ("#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#64748b")
TEXT = 'font-family="sans-serif" font-size="11" fill="#334155"'


def _svg(chart_id: str, width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{escape(chart_id)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>' + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: str, anchor: str = "start", weight: str = "normal") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-weight="{weight}" {TEXT}>'
        f"{escape(text)}</text>"
    )


def _data(label: str, value: float | None) -> str:
    shown = "" if value is None else repr(value)
    return f'data-label="{escape(label)}" data-value="{escape(shown)}"'


def line_chart(
    chart_id: str,
    title: str,
    points: Sequence[tuple[str, float | None]],
    fmt: Callable[[float], str],
) -> str:
    """A line over evenly spaced labels (days), from a zero baseline; ``None`` is a gap."""
    width, height = 320, 170
    left, right, top, bottom = 56, 14, 28, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _, v in points if v is not None]
    top_value = max(values, default=0) or 1

    def x(i: int) -> float:
        return left + (plot_w / 2 if len(points) == 1 else plot_w * i / (len(points) - 1))

    def y(v: float) -> float:
        return top + plot_h * (1 - v / top_value)

    body = [
        _text(left, 16, title, weight="bold"),
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#94a3b8"/>',
        _text(left - 6, top + plot_h + 4, fmt(0), "end"),
        _text(left - 6, top + 4, fmt(top_value), "end"),
    ]
    if points:
        body.append(
            _text(x(0), height - 10, points[0][0], "start" if len(points) > 1 else "middle")
        )
        if len(points) > 1:
            body.append(_text(x(len(points) - 1), height - 10, points[-1][0], "end"))
    segment: list[str] = []
    segments = [segment]
    for i, (_, value) in enumerate(points):
        if value is None:
            segment = []
            segments.append(segment)
        else:
            segment.append(f"{x(i):.1f},{y(value):.1f}")
    for seg in segments:
        if len(seg) > 1:
            body.append(
                f'<polyline points="{" ".join(seg)}" fill="none" stroke="{COLORS[0]}" '
                'stroke-width="2"/>'
            )
    for i, (label, value) in enumerate(points):
        if value is not None:
            body.append(
                f'<circle cx="{x(i):.1f}" cy="{y(value):.1f}" r="3" fill="{COLORS[0]}" '
                f"{_data(label, value)}><title>{escape(f'{label}: {fmt(value)}')}</title></circle>"
            )
    return _svg(chart_id, width, height, title, body)


def bar_chart(
    chart_id: str,
    title: str,
    bars: Sequence[tuple[str, float, str]],
    reference: float | None = None,
) -> str:
    """Horizontal bars (label, value, text shown after the bar), from zero; ``reference``
    draws a dashed line at that value (1.0 for a pacing index)."""
    label_w, bar_area, text_w, row_h = 96, 190, 150, 22
    width = label_w + bar_area + text_w
    height = 30 + row_h * max(len(bars), 1)
    scale_max = max([v for _, v, _ in bars] + [reference or 0]) or 1
    body = [_text(0, 16, title, weight="bold")]
    for i, (label, value, note) in enumerate(bars):
        y = 26 + i * row_h
        w = bar_area * max(value, 0) / scale_max
        body += [
            _text(label_w - 6, y + 13, label, "end"),
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{row_h - 6}" '
            f'fill="{COLORS[0]}" {_data(label, value)}><title>{escape(f"{label}: {note}")}'
            "</title></rect>",
            _text(label_w + w + 4, y + 13, note),
        ]
    if reference is not None:
        rx = label_w + bar_area * reference / scale_max
        body.append(
            f'<line x1="{rx:.1f}" y1="22" x2="{rx:.1f}" y2="{height}" stroke="#ef4444" '
            'stroke-dasharray="4 3" data-reference="' + repr(reference) + '"/>'
        )
    return _svg(chart_id, width, height, title, body)


def funnel_chart(chart_id: str, title: str, stages: Sequence[tuple[str, int, str]]) -> str:
    """Centred bars, one per stage (label, count, text such as the rate), widths on a log
    scale so that conversions stay visible next to bid requests."""
    width, row_h, max_w, min_w = 640, 34, 300, 6
    height = 30 + row_h * max(len(stages), 1)
    top = max([count for _, count, _ in stages] + [1])
    body = [_text(0, 16, title + " (bar length on a log scale)", weight="bold")]
    centre = 110 + max_w / 2
    for i, (label, count, note) in enumerate(stages):
        y = 26 + i * row_h
        w = max(min_w, max_w * math.log10(1 + max(count, 0)) / math.log10(1 + top))
        body += [
            _text(104, y + 17, label, "end"),
            f'<rect x="{centre - w / 2:.1f}" y="{y}" width="{w:.1f}" height="{row_h - 8}" '
            f'fill="{COLORS[i % len(COLORS)]}" {_data(label, count)}>'
            f"<title>{escape(f'{label}: {count:,} {note}')}</title></rect>",
            _text(centre + max_w / 2 + 8, y + 17, f"{count:,}  {note}".rstrip()),
        ]
    return _svg(chart_id, width, height, title, body)


def stacked_bar_chart(
    chart_id: str,
    title: str,
    series: Sequence[str],
    rows: Sequence[tuple[str, Sequence[float]]],
) -> str:
    """Horizontal bars split into the ``series`` (shares of each row's total), with a legend."""
    label_w, bar_area, row_h = 96, 260, 22
    width = label_w + bar_area + 80
    height = 48 + row_h * max(len(rows), 1)
    body = [_text(0, 16, title, weight="bold")]
    for k, name in enumerate(series):
        lx = label_w + k * 130
        body += [
            f'<rect x="{lx}" y="24" width="10" height="10" fill="{COLORS[k % len(COLORS)]}"/>',
            _text(lx + 14, 33, name),
        ]
    for i, (label, values) in enumerate(rows):
        y = 42 + i * row_h
        total = sum(values)
        body.append(_text(label_w - 6, y + 13, label, "end"))
        x = float(label_w)
        for k, (name, value) in enumerate(zip(series, values, strict=True)):
            w = bar_area * value / total if total else 0
            body.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_h - 6}" '
                f'fill="{COLORS[k % len(COLORS)]}" data-series="{escape(name)}" '
                f"{_data(label, value)}><title>{escape(f'{label}, {name}: {value:g}')}</title>"
                "</rect>"
            )
            x += w
        body.append(_text(label_w + bar_area + 6, y + 13, f"{total:g}"))
    return _svg(chart_id, width, height, title, body)
