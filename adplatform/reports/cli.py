"""``adplatform report``: run the campaign reports through HiveServer2 and print or save them.

    adplatform report --from 2026-03-01 --to 2026-03-31 [--campaign ID]
                      [--format table|csv|html] [--out FILE] [--query NAME ...] [--top-n N]
    adplatform report --from 2026-03-31 --to 2026-03-31 --daily

``table`` (the default) prints every report as an aligned table; ``csv`` prints each report
as CSV after a ``# <report>`` line, or writes ``<report>.csv`` files when ``--out`` is a
folder; ``html`` writes the page with the charts (``--out`` defaults to
``campaign_report_<from>_<to>.html``). ``--daily`` writes what the daily DAG keeps for the
day: the HTML page and every report's CSV in ``<ADPLATFORM_HOME>/reports/<day>/``
(adplatform.reports.daily).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from adplatform import settings as settings_module
from adplatform.errors import UserError
from adplatform.reports.daily import write_daily_report
from adplatform.reports.files import write_atomically
from adplatform.reports.formats import render_csv, render_table
from adplatform.reports.html_page import render_html
from adplatform.reports.queries import BY_NAME, ReportParameters, parse_date, select
from adplatform.reports.runner import endpoint, run_reports

FORMATS = ("table", "csv", "html")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="campaign reports (hive/reports/*.sql) through HiveServer2",
        description=__doc__.splitlines()[0].split(": ", 1)[1],
    )
    parser.add_argument("--from", dest="from_date", required=True, metavar="YYYY-MM-DD")
    parser.add_argument("--to", dest="to_date", required=True, metavar="YYYY-MM-DD")
    parser.add_argument("--campaign", default="", metavar="ID", help="one campaign (default all)")
    parser.add_argument("--format", choices=FORMATS, help="table (default), csv or html")
    parser.add_argument("--out", type=Path, metavar="FILE", help="write here instead of stdout")
    parser.add_argument(
        "--query",
        action="append",
        choices=list(BY_NAME),
        metavar="NAME",
        help=f"run only this report (repeatable): {', '.join(BY_NAME)}",
    )
    parser.add_argument("--top-n", type=int, default=10, help="creatives per campaign (10)")
    parser.add_argument(
        "--daily",
        action="store_true",
        help="write the day's HTML and CSV files to <ADPLATFORM_HOME>/reports/<day>/ "
        "(--from = --to; what the daily DAG runs)",
    )
    parser.set_defaults(func=run)


def _progress(message: str) -> None:
    print(message, file=sys.stderr)


def _daily(args: argparse.Namespace) -> int:
    if parse_date(args.from_date) != parse_date(args.to_date):
        raise UserError("--daily writes one day's report: give the same date to --from and --to")
    if args.out or args.query or args.format not in (None, "html") or args.campaign:
        raise UserError("--daily always writes every report of all campaigns, as HTML and CSV")
    write_daily_report(args.to_date)
    return 0


def run(args: argparse.Namespace) -> int:
    if args.daily:
        return _daily(args)
    settings = settings_module.load()
    params = ReportParameters(
        from_date=parse_date(args.from_date),
        to_date=parse_date(args.to_date),
        campaign_id=args.campaign,
        top_n=args.top_n,
    )
    reports = select(args.query)
    results = run_reports(settings, reports, params, progress=_progress)
    output_format = args.format or "table"
    if output_format == "html":
        out = args.out or Path(f"campaign_report_{params.from_date}_{params.to_date}.html")
        page = render_html(results, params, endpoint(settings), datetime.now(UTC))
        write_atomically(out, page)
        print(f"wrote {out}", file=sys.stderr)
        return 0
    if output_format == "csv" and args.out and (args.out.is_dir() or len(results) > 1):
        for name, result in results.items():
            write_atomically(args.out / f"{name}.csv", render_csv(result))
        print(f"wrote {len(results)} CSV files to {args.out}", file=sys.stderr)
        return 0
    if output_format == "csv":
        parts = [render_csv(r) for r in results.values()]
        if len(results) > 1:
            parts = [f"# {name}\n{text}" for name, text in zip(results, parts, strict=True)]
        text = "\n".join(parts)
    else:
        text = "\n\n".join(render_table(r) for r in results.values()) + "\n"
    if args.out:
        write_atomically(args.out, text)
    else:
        sys.stdout.write(text)
    return 0
