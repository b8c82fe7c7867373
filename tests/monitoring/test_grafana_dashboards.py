"""The Grafana dashboards and provisioning files: generated from code and up to date, and
shaped as a current Grafana (schemaVersion 39+) loads them from files."""

from __future__ import annotations

import importlib.util
import json
import re

import pytest
import yaml

from .conftest import DASHBOARDS_DIR, MONITORING, PROVISIONING_DIR

BUILD_SCRIPT = MONITORING / "grafana" / "build_dashboards.py"
DASHBOARD_FILES = sorted(DASHBOARDS_DIR.glob("*.json"))
PANEL_TYPES = {"row", "timeseries", "stat", "bargauge", "table"}


def load_builder():
    spec = importlib.util.spec_from_file_location("build_dashboards", BUILD_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_dashboards_are_what_the_builder_writes() -> None:
    rendered = load_builder().render()
    assert {p.name for p in DASHBOARD_FILES} == set(rendered)
    for path in DASHBOARD_FILES:
        script = BUILD_SCRIPT.relative_to(MONITORING.parent)
        assert path.read_text() == rendered[path.name], (
            f"{path.name} is stale: run .venv/bin/python {script}"
        )


def test_the_three_dashboards_exist() -> None:
    titles = {json.loads(p.read_text())["uid"] for p in DASHBOARD_FILES}
    assert titles == {"adtech-ingestion", "adtech-batch", "adtech-data-quality"}


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_dashboard_is_well_formed(path) -> None:
    board = json.loads(path.read_text())
    assert board["schemaVersion"] >= 39
    assert re.fullmatch(r"[a-z0-9-]{1,40}", board["uid"])
    assert board["title"] and board["panels"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"

    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    occupied: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        assert panel["type"] in PANEL_TYPES, panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & occupied, f"{panel['title']} overlaps another panel"
        occupied |= cells
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for t in panel["targets"]:
            assert t["datasource"] == panel["datasource"]
            assert t["expr"].strip()
            used = set(re.findall(r"\$(\w+)", t["expr"])) - {"__rate_interval"}
            assert used <= set(variables), (
                f"{panel['title']} uses undefined {used - set(variables)}"
            )


def test_provisioning_points_at_the_dashboards_and_the_datasource_uid() -> None:
    datasources = yaml.safe_load((PROVISIONING_DIR / "datasources" / "prometheus.yml").read_text())
    (prometheus,) = datasources["datasources"]
    assert prometheus["type"] == "prometheus"
    assert prometheus["uid"] == load_builder().DATASOURCE_UID
    providers = yaml.safe_load((PROVISIONING_DIR / "dashboards" / "provider.yml").read_text())
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"].startswith("/")
