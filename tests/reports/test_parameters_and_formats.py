"""Report parameters (validation, what each report is sent), the command line, and the
text and CSV output, without a server."""

from __future__ import annotations

import argparse
from datetime import date

import pytest

from adplatform.errors import UserError
from adplatform.reports import cli
from adplatform.reports.formats import display_name, display_value, render_csv, render_table
from adplatform.reports.queries import BY_NAME, ReportParameters, parse_date, select
from adplatform.reports.runner import ReportResult, session_configuration

D1, D2 = date(2026, 3, 1), date(2026, 3, 31)


def test_each_report_gets_only_the_variables_it_reads():
    params = ReportParameters(D1, D2, "cmp-1", top_n=3)
    assert params.hivevars(BY_NAME["campaign_performance"]) == {
        "from_date": "2026-03-01",
        "to_date": "2026-03-31",
        "campaign_id": "cmp-1",
    }
    assert params.hivevars(BY_NAME["top_creatives"])["top_n"] == "3"


def test_variables_travel_as_beeline_sends_them():
    assert session_configuration({"from_date": "2026-03-01", "campaign_id": ""}) == {
        "set:hivevar:from_date": "2026-03-01",
        "set:hivevar:campaign_id": "",
    }


def test_the_trend_can_reach_further_back_than_the_range():
    params = ReportParameters(D2, D2).with_trend_days(30)
    assert params.hivevars(BY_NAME["daily_trend"])["from_date"] == "2026-03-02"
    assert params.hivevars(BY_NAME["funnel"])["from_date"] == "2026-03-31"
    wide = ReportParameters(D1, D2).with_trend_days(7)
    assert wide.hivevars(BY_NAME["daily_trend"])["from_date"] == "2026-03-01"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"from_date": D2, "to_date": D1}, "is before"),
        ({"from_date": D1, "to_date": D2, "campaign_id": "x' OR '1'='1"}, "has characters"),
        ({"from_date": D1, "to_date": D2, "campaign_id": "c -- x"}, "has characters"),
        ({"from_date": D1, "to_date": D2, "top_n": 0}, "top-n"),
    ],
)
def test_bad_parameters_are_refused_in_one_line(kwargs, message):
    with pytest.raises(UserError, match=message):
        ReportParameters(**kwargs)


def test_dates_and_report_names_are_checked():
    assert parse_date("2026-03-01") == D1
    with pytest.raises(UserError, match="YYYY-MM-DD"):
        parse_date("03/01/2026")
    assert [r.name for r in select(["pacing", "funnel"])] == ["funnel", "pacing"]
    assert len(select(None)) == 7
    with pytest.raises(UserError, match="unknown report nope"):
        select(["nope"])


def test_command_line():
    parser = argparse.ArgumentParser(prog="adplatform")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        ["report", "--from", "2026-03-01", "--to", "2026-03-31", "--campaign", "c1",
         "--format", "html", "--out", "x.html", "--query", "funnel", "--query", "pacing"]
    )  # fmt: skip
    assert (args.from_date, args.to_date, args.campaign, args.format) == (
        "2026-03-01",
        "2026-03-31",
        "c1",
        "html",
    )
    assert args.query == ["funnel", "pacing"] and args.func is cli.run
    with pytest.raises(SystemExit):
        parser.parse_args(
            ["report", "--from", "2026-03-01", "--to", "2026-03-31", "--format", "pdf"]
        )


RESULT = ReportResult(
    BY_NAME["campaign_performance"],
    {"from_date": "2026-03-01", "to_date": "2026-03-31", "campaign_id": ""},
    ["campaign_id", "impressions", "spend_micros", "ctr", "roas", "cpa_micros"],
    [("c1", 1234567, 2_500_000, 0.0125, 3.14159, None), ("c22", 5, 10, 0.0, 0.5, 10.0)],
    0.5,
)


def test_table_shows_dollars_percentages_and_aligned_numbers():
    assert render_table(RESULT).splitlines() == [
        "Campaign performance (from_date=2026-03-01, to_date=2026-03-31)",
        "campaign_id  impressions  spend_usd    ctr  roas  cpa_usd",
        "-----------  -----------  ---------  -----  ----  -------",
        "c1             1,234,567       2.50  1.25%  3.14",
        "c22                    5       0.00  0.00%  0.50     0.00",
    ]


def test_csv_keeps_exact_values():
    assert render_csv(RESULT).splitlines() == [
        "campaign_id,impressions,spend_micros,ctr,roas,cpa_micros",
        "c1,1234567,2500000,0.0125,3.14159,",
        "c22,5,10,0.0,0.5,10.0",
    ]


def test_display_helpers():
    assert display_name("ecpm_micros") == "ecpm_usd" and display_name("ctr") == "ctr"
    assert display_value("in_flight", True) == "yes"
    assert display_value("budget_remaining_micros", -1_500_000) == "-1.50"
    assert display_value("dt", "2026-03-01") == "2026-03-01"
