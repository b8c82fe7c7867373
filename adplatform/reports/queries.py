"""The report queries of ``hive/reports/`` and the parameters they take.

Every report is one ``.sql`` file that runs unchanged through HiveServer2, from beeline
(``--hivevar name=value``) or from pyhive (the same variables, sent when the session opens).
The files read their parameters as ``${hivevar:name}``; the Spark Thrift Server substitutes
them (``spark.sql.variable.substitute``, on by default) and an unset variable becomes an
empty string, which is how an empty ``campaign_id`` means every campaign.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

from adplatform.errors import UserError
from adplatform.settings import REPO_ROOT

REPORTS_DIR = REPO_ROOT / "hive" / "reports"

# Campaign ids are substituted into SQL string literals: allow only characters that cannot
# end the literal or start a comment.
CAMPAIGN_ID_PATTERN = re.compile(r"[A-Za-z0-9_.:-]*")
VARIABLE_PATTERN = re.compile(r"\$\{hivevar:(\w+)\}")


@dataclass(frozen=True)
class Report:
    name: str
    title: str

    @property
    def path(self) -> Path:
        return REPORTS_DIR / f"{self.name}.sql"

    def sql(self) -> str:
        """The statement as HiveServer2 takes it: the file without its final semicolon."""
        return self.path.read_text().strip().removesuffix(";").rstrip()

    def variables(self) -> set[str]:
        """The names of the ``${hivevar:name}`` variables the statement reads."""
        return set(VARIABLE_PATTERN.findall(self.sql()))


# In the order the table output and the HTML page show them.
REPORTS = (
    Report("campaign_performance", "Campaign performance"),
    Report("daily_trend", "Daily trend"),
    Report("funnel", "Funnel"),
    Report("audience_breakdown", "Audience breakdown"),
    Report("top_creatives", "Top creatives"),
    Report("pacing", "Pacing"),
    Report("attribution_comparison", "Last-click vs last-view attribution"),
)
BY_NAME = {r.name: r for r in REPORTS}
DAILY_TREND = "daily_trend"


@dataclass(frozen=True)
class ReportParameters:
    """The values of the report variables for one run.

    ``trend_from_date`` widens the daily trend alone (the daily DAG's report shows one day
    but the trend of the days before it); ``None`` means ``from_date``.
    """

    from_date: date
    to_date: date
    campaign_id: str = ""
    top_n: int = 10
    trend_from_date: date | None = None

    def __post_init__(self) -> None:
        if self.to_date < self.from_date:
            raise UserError(f"--to {self.to_date} is before --from {self.from_date}")
        if self.trend_from_date is not None and self.trend_from_date > self.to_date:
            raise UserError(f"the trend start {self.trend_from_date} is after {self.to_date}")
        if not CAMPAIGN_ID_PATTERN.fullmatch(self.campaign_id):
            raise UserError(
                f"campaign id {self.campaign_id!r} has characters other than letters, "
                "digits and _ . : -"
            )
        if self.top_n < 1:
            raise UserError(f"top-n must be 1 or more, not {self.top_n}")

    def hivevars(self, report: Report) -> dict[str, str]:
        """The ``--hivevar`` values of the variables ``report`` reads."""
        from_date = self.from_date
        if report.name == DAILY_TREND and self.trend_from_date is not None:
            from_date = self.trend_from_date
        values = {
            "from_date": from_date.isoformat(),
            "to_date": self.to_date.isoformat(),
            "campaign_id": self.campaign_id,
            "top_n": str(self.top_n),
        }
        unknown = report.variables() - set(values)
        if unknown:
            raise UserError(f"{report.path} reads variables nobody sets: {sorted(unknown)}")
        return {name: value for name, value in values.items() if name in report.variables()}

    def with_trend_days(self, days: int) -> ReportParameters:
        """The same parameters with the trend covering ``days`` days up to ``to_date``."""
        start = min(self.from_date, self.to_date - timedelta(days=days - 1))
        return replace(self, trend_from_date=start)


def parse_date(text: str) -> date:
    """A ``YYYY-MM-DD`` date, or a UserError that names the bad value."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"{text!r} is not a date of the form YYYY-MM-DD") from None


def select(names: list[str] | None) -> list[Report]:
    """The reports named (all of them when ``names`` is empty), in display order."""
    if not names:
        return list(REPORTS)
    unknown = sorted(set(names) - set(BY_NAME))
    if unknown:
        raise UserError(f"unknown report {', '.join(unknown)}: choose from {', '.join(BY_NAME)}")
    return [r for r in REPORTS if r.name in names]
