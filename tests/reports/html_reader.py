"""Read the HTML report back: its charts and anything it would fetch from elsewhere."""

from __future__ import annotations

from html.parser import HTMLParser


def _number(text: str) -> float | int | None:
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        return float(text)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, list[tuple]] = {}
        self.current: str | None = None
        self.tags: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append(tag)
        if tag in ("script", "link", "iframe", "img", "object", "embed"):
            self.external.append(f"<{tag}>")
        for name in ("src", "href"):
            if a.get(name):
                self.external.append(f"{tag} {name}={a[name]}")
        if tag == "svg":
            self.current = a["data-chart"]
            self.charts[self.current] = []
        elif self.current and "data-value" in a:
            point = (a["data-label"], _number(a["data-value"] or ""))
            if "data-series" in a:
                point = (a["data-label"], a["data-series"], point[1])
            self.charts[self.current].append(point)

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.current = None


def read_charts(page: str) -> dict[str, list[tuple]]:
    """{chart id: [(label, value) or (label, series, value), ...]} in drawing order."""
    reader = _Reader()
    reader.feed(page)
    return reader.charts


def external_references(page: str) -> list[str]:
    """Elements and attributes that would load something: a self-contained page has none."""
    reader = _Reader()
    reader.feed(page)
    return reader.external
