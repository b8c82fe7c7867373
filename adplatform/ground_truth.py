"""The lake against the simulator's ground truth, read through HiveServer2.

``check(settings, manifest, days)`` compares, for the simulated days:

* ``campaign_daily`` with the manifest's ``expected.campaign_daily``, row for row (the
  counted columns: impressions, clicks, conversions, spend, revenue, unique users);
* every ``reconciliation`` row of the clean jobs with the manifest's ``expected.outcomes``
  (records in, curated, duplicates, quarantined by reason) and with itself
  (``in = curated + quarantined + duplicates``, the ``ok`` column).

It is what ``adplatform demo`` prints at the end and what the end-to-end DAG test asserts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from adplatform import lake
from adplatform.settings import Settings

COUNTED = ("impressions", "clicks", "conversions", "spend_micros", "revenue_micros", "unique_users")
# The clean jobs' reconciliation rows and the source each one reports in the truth.
CLEAN_JOBS = {
    "clean_impressions": "impressions",
    "clean_bid_requests": "bid_requests",
    "clean_tracking": "tracking",
}

CAMPAIGN_DAILY_QUERY = (
    "SELECT CAST(dt AS STRING), campaign_id, {columns} FROM {database}.campaign_daily "
    "WHERE dt BETWEEN DATE '{first}' AND DATE '{last}'"
)
RECONCILIATION_QUERY = (
    "SELECT CAST(dt AS STRING), job, rows_in, curated, duplicates, quarantined_by_reason, ok "
    "FROM {database}.reconciliation WHERE dt BETWEEN DATE '{first}' AND DATE '{last}' "
    "AND job IN ({jobs})"
)


@dataclass
class TruthCheck:
    days: list[date]
    # (day, campaign) -> counted values, from the lake and from the truth
    lake_rows: dict[tuple[str, str], dict[str, int]]
    truth_rows: dict[tuple[str, str], dict[str, int]]
    # (day, job) -> outcome, from the lake and from the truth
    lake_outcomes: dict[tuple[str, str], dict[str, Any]]
    truth_outcomes: dict[tuple[str, str], dict[str, Any]]
    unbalanced: list[tuple[str, str]] = field(default_factory=list)

    @property
    def campaign_daily_mismatches(self) -> list[tuple[str, str]]:
        keys = sorted(set(self.lake_rows) | set(self.truth_rows))
        return [k for k in keys if self.lake_rows.get(k) != self.truth_rows.get(k)]

    @property
    def outcome_mismatches(self) -> list[tuple[str, str]]:
        return sorted(
            k for k in self.truth_outcomes if self.lake_outcomes.get(k) != self.truth_outcomes[k]
        )

    @property
    def ok(self) -> bool:
        return not (self.campaign_daily_mismatches or self.outcome_mismatches or self.unbalanced)

    def totals(self, rows: dict[tuple[str, str], dict[str, int]], day: str) -> dict[str, int]:
        return {c: sum(v[c] for (d, _), v in rows.items() if d == day) for c in COUNTED}

    def summary(self) -> list[str]:
        """Readable lines: per day, the totals of both sides, then every mismatch."""
        lines = [
            f"{'day':<10}  {'':<6}  " + "  ".join(f"{c:>15}" for c in COUNTED),
        ]
        for day in (d.isoformat() for d in self.days):
            for side, rows in (("lake", self.lake_rows), ("truth", self.truth_rows)):
                values = self.totals(rows, day)
                lines.append(
                    f"{day:<10}  {side:<6}  " + "  ".join(f"{values[c]:>15,}" for c in COUNTED)
                )
        for day, campaign in self.campaign_daily_mismatches:
            lines.append(
                f"campaign_daily {day} {campaign}: lake {self.lake_rows.get((day, campaign))} "
                f"!= truth {self.truth_rows.get((day, campaign))}"
            )
        for day, job in self.outcome_mismatches:
            lines.append(
                f"reconciliation {day} {job}: lake {self.lake_outcomes.get((day, job))} "
                f"!= truth {self.truth_outcomes[(day, job)]}"
            )
        for day, job in self.unbalanced:
            lines.append(f"reconciliation {day} {job}: in != curated + quarantined + duplicates")
        checked = len(self.truth_rows)
        outcomes = len(self.truth_outcomes)
        verdict = "adds up" if self.ok else "DOES NOT add up"
        lines.append(
            f"reconciliation {verdict}: {checked} campaign-days and {outcomes} job-days "
            "checked against the simulator's ground truth"
        )
        return lines


def check(settings: Settings, manifest: dict[str, Any], days: Iterable[date]) -> TruthCheck:
    from adplatform.reports.runner import connect

    days = sorted(days)
    wanted = {d.isoformat() for d in days}
    expected = manifest["expected"]
    truth_rows = {
        (r["dt"], r["campaign_id"]): {c: r[c] for c in COUNTED}
        for r in expected["campaign_daily"]
        if r["dt"] in wanted
    }
    empty = {"in": 0, "curated": 0, "duplicates": 0, "quarantined": {}}
    truth_outcomes = {
        (day, job): expected["outcomes"].get(source, {}).get(day, empty)
        for day in wanted
        for job, source in CLEAN_JOBS.items()
    }
    span = {"database": lake.DATABASE, "first": days[0].isoformat(), "last": days[-1].isoformat()}
    conn = connect(settings, {})
    try:
        cursor = conn.cursor()
        cursor.execute(CAMPAIGN_DAILY_QUERY.format(columns=", ".join(COUNTED), **span))
        lake_rows = {
            (r[0], r[1]): dict(zip(COUNTED, (int(v) for v in r[2:]), strict=True))
            for r in cursor.fetchall()
        }
        jobs = ", ".join(f"'{j}'" for j in CLEAN_JOBS)
        cursor.execute(RECONCILIATION_QUERY.format(jobs=jobs, **span))
        lake_outcomes, unbalanced = {}, []
        for day, job, rows_in, curated, duplicates, quarantined, ok in cursor.fetchall():
            if isinstance(quarantined, str):  # HiveServer2 sends a map column as JSON
                quarantined = json.loads(quarantined)
            reasons = {k: int(v) for k, v in (quarantined or {}).items()}
            lake_outcomes[day, job] = {
                "in": int(rows_in),
                "curated": int(curated),
                "duplicates": int(duplicates),
                "quarantined": reasons,
            }
            if not ok:
                unbalanced.append((day, job))
    finally:
        conn.close()
    return TruthCheck(days, lake_rows, truth_rows, lake_outcomes, truth_outcomes, unbalanced)
