"""The same report files run unchanged through beeline (``--hivevar``), and the
``adplatform report`` command and the daily DAG's report writer produce their outputs."""

from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from adplatform.reports import cli
from adplatform.reports.daily import HTML_NAME, daily_report_dir, write_daily_report
from adplatform.reports.queries import BY_NAME, REPORTS
from tests.reports.html_reader import read_charts

pytestmark = pytest.mark.stack

BEELINE = Path(sys.executable).parent / "beeline"


def beeline(settings, report: str, **hivevars: str) -> list[dict]:
    """Rows of one report file run by beeline, values parsed back to numbers and None."""
    command = [
        str(BEELINE),
        "-u", f"jdbc:hive2://{settings.host}:{settings.thrift_port}/default",
        "-n", "analyst",  # any name: the server reads the lake as the platform user
        "--silent=true",
        "--outputformat=csv2",
        *(arg for name, value in hivevars.items() for arg in ("--hivevar", f"{name}={value}")),
        "-f", str(BY_NAME[report].path),
    ]  # fmt: skip
    # beeline finds Spark through the `python3` on PATH, which must be this environment's.
    env = {**os.environ, "PATH": f"{BEELINE.parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=300, env=env, stdin=subprocess.DEVNULL
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # Beeline 2.3 echoes a `null` prompt for each line of the file it reads, after a
    # carriage return or a line feed, the last one right before the header.
    lines = [re.sub(r"^(?:null *)+", "", line) for line in re.split(r"[\r\n]", result.stdout)]
    lines = [line for line in lines if line]
    return [{k: _parse(v) for k, v in row.items()} for row in csv.DictReader(lines)]


def _parse(text: str):
    if text == "NULL":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text, text)


def test_beeline_runs_the_report_files_unchanged(run, report_settings):
    assert beeline(
        report_settings, "campaign_performance", from_date="2026-03-01", to_date="2026-03-03"
    ) == run("campaign_performance", "2026-03-01", "2026-03-03")
    assert beeline(
        report_settings,
        "top_creatives",
        from_date="2026-03-01",
        to_date="2026-03-03",
        campaign_id="cmp-b",
        top_n="1",
    ) == run("top_creatives", "2026-03-01", "2026-03-03", "cmp-b", top_n=1)


def _cli(*args: str) -> int:
    parser = argparse.ArgumentParser(prog="adplatform")
    cli.register(parser.add_subparsers(dest="command", required=True))
    parsed = parser.parse_args(["report", *args])
    return parsed.func(parsed)


@pytest.fixture
def cli_env(report_settings, monkeypatch):
    for name, value in report_settings.as_env().items():
        monkeypatch.setenv(name, value)


def test_cli_prints_a_table_and_writes_csv(cli_env, tmp_path, capsys):
    assert _cli("--from", "2026-03-01", "--to", "2026-03-03", "--query", "daily_trend") == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0] == "Daily trend (from_date=2026-03-01, to_date=2026-03-03)"
    assert "2026-03-03            1       1            3" in table

    out = tmp_path / "perf.csv"
    args = ("--from", "2026-03-01", "--to", "2026-03-03", "--campaign", "cmp-b")
    assert _cli(*args, "--query", "campaign_performance", "--format", "csv", "--out", str(out)) == 0
    assert out.read_text().splitlines() == [
        "campaign_id,campaign_name,advertiser_name,pricing_model,impressions,clicks,conversions,"
        "spend_micros,revenue_micros,ctr,cvr,cpa_micros,ecpm_micros,roas",
        "cmp-b,Launch,Globex,CPC,3,2,1,5000,40000,0.6666666666666666,0.5,5000.0,"
        "1666666.6666666667,8.0",
    ]


def test_cli_writes_the_html_report_with_its_charts(cli_env, tmp_path):
    out = tmp_path / "report.html"
    assert (
        _cli("--from", "2026-03-01", "--to", "2026-03-03", "--format", "html", "--out", str(out))
        == 0
    )
    charts = read_charts(out.read_text())
    assert [v for _, v in charts["trend-impressions"]] == [4, 3, 1]
    assert charts["funnel"] == [
        ("bid_requests", 12),
        ("wins", 7),
        ("impressions", 8),
        ("clicks", 6),
        ("conversions", 6),
    ]
    assert dict(charts["audience-device_type"]) == {"desktop": 3, "mobile": 4, "tablet": 1}


def test_daily_report_is_written_under_the_home_folder(report_settings, tmp_path):
    settings = report_settings.with_overrides(home=tmp_path)
    path = Path(write_daily_report("2026-03-03", settings))
    folder = daily_report_dir(settings, date(2026, 3, 3))
    assert path == folder / HTML_NAME == tmp_path / "reports" / "2026-03-03" / HTML_NAME
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [HTML_NAME] + [f"{r.name}.csv" for r in REPORTS]
    )
    charts = read_charts(path.read_text())
    # The page is about 03-03; its trend covers the 30 days up to it.
    assert len(charts["trend-impressions"]) == 30
    assert charts["trend-impressions"][-4:] == [
        ("2026-02-28", 1),
        ("2026-03-01", 4),
        ("2026-03-02", 3),
        ("2026-03-03", 1),
    ]
    assert (
        (folder / "campaign_performance.csv")
        .read_text()
        .splitlines()[1]
        .startswith("cmp-a,Spring Sale,Acme,CPM,1,1,2,2600,3500,")
    )
