"""The report the daily DAG writes for each run.

``write_daily_report(ds)`` runs every report for the run's date ``ds`` (the daily trend
covers the ``TREND_DAYS`` days up to ``ds``) and writes, under the platform's home folder:

    <ADPLATFORM_HOME>/reports/<ds>/campaign_report.html   the page with its charts
    <ADPLATFORM_HOME>/reports/<ds>/<report>.csv           each report's rows, exact values

(``.local/reports/<ds>/`` in the embedded stack). Files are replaced atomically, so a
re-run of the same date leaves the same files and a failed run leaves the previous ones.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from adplatform import settings as settings_module
from adplatform.reports.files import write_atomically
from adplatform.reports.formats import render_csv
from adplatform.reports.html_page import render_html
from adplatform.reports.queries import REPORTS, ReportParameters, parse_date
from adplatform.reports.runner import endpoint, run_reports
from adplatform.settings import Settings

HTML_NAME = "campaign_report.html"
TREND_DAYS = 30


def reports_root(settings: Settings) -> Path:
    return settings.home / "reports"


def daily_report_dir(settings: Settings, ds: date) -> Path:
    return reports_root(settings) / ds.isoformat()


def write_daily_report(ds: str | date, settings: Settings | None = None) -> str:
    """Run the reports for ``ds`` and write them; returns the HTML file's path (a string,
    so that Airflow can keep it as the task's XCom value)."""
    settings = settings or settings_module.load()
    day = ds if isinstance(ds, date) else parse_date(ds)
    params = ReportParameters(from_date=day, to_date=day).with_trend_days(TREND_DAYS)
    results = run_reports(settings, REPORTS, params, progress=print)
    folder = daily_report_dir(settings, day)
    for name, result in results.items():
        write_atomically(folder / f"{name}.csv", render_csv(result))
    html_path = folder / HTML_NAME
    write_atomically(html_path, render_html(results, params, endpoint(settings), datetime.now(UTC)))
    print(f"daily campaign report for {day}: {html_path}")
    return str(html_path)
