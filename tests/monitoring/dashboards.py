"""The Grafana dashboards' queries, as Prometheus' HTTP API takes them."""

from __future__ import annotations

import json
import re

from .conftest import DASHBOARDS_DIR

# Stand-ins for the dashboard variables: every value ("All").
VARIABLES = {"topic": ".*", "job": ".*", "source": ".*", "suite": ".*", "severity": ".*"}


def dashboard_queries() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title or variable, expression) of every query."""
    found = []
    for path in sorted(DASHBOARDS_DIR.glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for t in panel.get("targets", []):
                found.append((path.name, panel["title"], t["expr"]))
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":
                found.append((path.name, f"variable {variable['name']}", variable["definition"]))
    return found


def as_promql(expr: str) -> str:
    """A dashboard query with its variables set to All and Grafana's functions expanded."""
    expr = expr.replace("$__rate_interval", "30s")
    expr = re.sub(r"\$(\w+)", lambda m: VARIABLES[m[1]], expr)
    match = re.fullmatch(r"label_values\((.+), (\w+)\)", expr)
    return f"count by ({match[2]}) ({match[1]})" if match else expr
