"""The Python tasks of the DAGs (TaskFlow). Each is a thin call into the shared package.

* ``hour_closed(sources)``: after landing, the interval's arrival hour has its done marker
  for every source; emits the sources' landing Assets with ``{"hour": ...}``.
* ``restate_late_days()``: after landing, clears the finished ``adtech_daily`` runs that
  read an arrival hour which got late records (``adplatform.orchestration.restate``).
* ``run_summary()``: the day's reconciliation rows all add up; pushes the day's
  ``campaign_daily`` rows as the pipeline's own metric (job ``run_summary``).
* ``maintenance_day``, ``apply_retention``, ``compact_landing``, ``summarise_quarantine``:
  ``adplatform.maintenance`` for ``lake_maintenance``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from adplatform import lake
from adplatform import settings as settings_module
from adplatform.orchestration import assets
from adplatform.orchestration.pools import SPARK_POOL, SPARK_POOL_SLOTS

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from adplatform.hdfs import FileSystem
    from adplatform.maintenance import Policy


def _filesystem(settings: settings_module.Settings) -> FileSystem:
    from adplatform.hdfs import filesystem

    return filesystem(settings.lake, settings)


# ---------------------------------------------------------------------------------------------
# Landing


@task(task_id="hour_closed")
def _hour_closed(sources: list[str]) -> str:
    from adplatform.orchestration.sensors import hour_markers, missing

    context = get_current_context()
    hour: datetime = context["data_interval_start"]
    settings = settings_module.load()
    absent = missing(settings, hour_markers(settings, hour, sources))
    if absent:
        # Retrying this check cannot help: only the next landing run can close the hour.
        raise AirflowFailException(
            f"landing did not close the hour {hour.isoformat()}: no done marker at "
            + ", ".join(absent)
        )
    for source in sources:
        context["outlet_events"][assets.LANDING[source]].extra = {"hour": hour.isoformat()}
    return hour.isoformat()


def hour_closed(sources: Sequence[str]) -> Any:
    """Task: the interval's hour is closed for every source (fails, without retry, if not)."""
    outlets = [assets.LANDING[s] for s in sources]
    return _hour_closed.override(outlets=outlets)(list(sources))


@task(task_id="restate_late_days")
def restate_late_days(sources: Sequence[str]) -> dict[str, Any]:
    """Task: re-run the daily runs that read an hour of ``sources`` which got records after
    it was closed (each landing DAG restates what it landed, so two DAGs never handle the
    same late hour at once)."""
    from adplatform.airflow_api import AirflowApi
    from adplatform.orchestration import restate

    settings = settings_module.load()
    done = restate.restate_late(
        settings, lambda: AirflowApi(settings), sources=sources, log=log.info
    )
    for line in done.lines():
        log.info(line)
    return {
        "cleared": {d.isoformat(): run for d, run in done.cleared.items()},
        "waiting": {d.isoformat(): state for d, state in done.waiting.items()},
    }


# ---------------------------------------------------------------------------------------------
# The daily run's summary

RECONCILIATION_QUERY = (
    "SELECT job, source, rows_in, curated, quarantined, duplicates, ok "
    "FROM {database}.reconciliation WHERE dt = DATE '{ds}' ORDER BY job, source"
)
CAMPAIGN_DAILY_ROWS_QUERY = "SELECT COUNT(*) FROM {database}.campaign_daily WHERE dt = DATE '{ds}'"


@task(task_id="run_summary", params={"source": "campaign_daily"})
def run_summary() -> dict[str, Any]:
    """Check the day's reconciliation rows and record the published day as a metric."""
    from adplatform.metrics import BatchRun
    from adplatform.orchestration.hive import cursor

    context = get_current_context()
    ds = date.fromisoformat(context["ds"]).isoformat()
    run_id = context["run_id"]
    with BatchRun("run_summary", "campaign_daily", run_id) as run, cursor() as cur:
        cur.execute(RECONCILIATION_QUERY.format(database=lake.DATABASE, ds=ds))
        columns = ("job", "source", "in", "curated", "quarantined", "duplicates", "ok")
        rows = [dict(zip(columns, r, strict=True)) for r in cur.fetchall()]
        if not rows:
            raise AirflowFailException(
                f"adtech.reconciliation has no row for {ds}: the jobs did not record their counts"
            )
        for r in rows:
            log.info(
                "%-28s %-14s in=%s curated=%s quarantined=%s duplicates=%s ok=%s",
                *(r[k] for k in columns),
            )
        broken = [r for r in rows if not r["ok"]]
        if broken:
            raise AirflowFailException(
                "reconciliation does not add up for "
                + ", ".join(f"{r['job']}/{r['source']}" for r in broken)
            )
        cur.execute(CAMPAIGN_DAILY_ROWS_QUERY.format(database=lake.DATABASE, ds=ds))
        published = int(cur.fetchone()[0])
        run.rows_written(published)
    return {"ds": ds, "reconciliation": rows, "campaign_daily_rows": published}


# ---------------------------------------------------------------------------------------------
# Lake maintenance


def _policy(params: dict[str, Any]) -> Policy:
    from adplatform.maintenance import Policy

    return Policy(
        retention_days=int(params["retention_days"]),
        compact_after_days=int(params["compact_after_days"]),
        quarantine_days=int(params["quarantine_days"]),
    )


@task(task_id="maintenance_day")
def maintenance_day() -> str:
    """The day maintenance counts from: the newest published day that triggered the run;
    else the ``as_of`` param; else the newest arrival date landed (not after the run's date),
    so that a run by hand on a lake of old (or simulated) days does not delete them all."""
    from adplatform.maintenance import newest_arrival_date

    context = get_current_context()
    days = [
        event.extra["ds"]
        for event in context["triggering_asset_events"].get(assets.CAMPAIGN_DAILY, [])
        if (event.extra or {}).get("ds")
    ]
    if days:
        source = "published campaign_daily days"
        day = max(date.fromisoformat(d) for d in days)
    elif context["params"].get("as_of"):
        source = "the as_of param"
        day = date.fromisoformat(context["params"]["as_of"])
    else:
        settings = settings_module.load()
        run_day = (context["dag_run"].run_after or datetime.now(UTC)).astimezone(UTC).date()
        newest = newest_arrival_date(settings, _filesystem(settings))
        source = "the newest arrival date landed"
        day = min(newest or run_day, run_day)
    log.info("maintenance counts from %s (%s)", day, source)
    return day.isoformat()


@task(task_id="apply_retention", pool=SPARK_POOL, pool_slots=SPARK_POOL_SLOTS)
def apply_retention(as_of: str) -> list[dict[str, str]]:
    """Delete landing arrival dates past the retention (every slot of the spark pool held)."""
    from dataclasses import asdict

    from adplatform import maintenance

    settings = settings_module.load()
    policy = _policy(get_current_context()["params"])
    removed = maintenance.apply_retention(
        settings, _filesystem(settings), date.fromisoformat(as_of), policy
    )
    log.info("retention %d days: removed %d arrival dates", policy.retention_days, len(removed))
    return [asdict(r) for r in removed]


@task(task_id="compact_landing", pool=SPARK_POOL, pool_slots=SPARK_POOL_SLOTS)
def compact_landing(as_of: str) -> dict[str, Any]:
    """Compact small landing files (every slot of the spark pool held: no reader meanwhile)."""
    from adplatform import maintenance

    settings = settings_module.load()
    policy = _policy(get_current_context()["params"])
    report = maintenance.compact_landing(
        settings, _filesystem(settings), date.fromisoformat(as_of), policy
    )
    log.info(
        "compacted %d hours, skipped %d, repaired %d interrupted compactions",
        len(report.compacted),
        len(report.skipped),
        len(report.recovered),
    )
    for skipped in report.skipped:
        log.info("left %s as it is: %s", skipped["hour"], skipped["why"])
    return report.as_dict()


@task(task_id="summarise_quarantine")
def summarise_quarantine(as_of: str) -> dict[str, Any]:
    """What was quarantined over the last days, by source and reason, and unreadable files."""
    from adplatform import maintenance
    from adplatform.orchestration.hive import cursor

    settings = settings_module.load()
    policy = _policy(get_current_context()["params"])
    with cursor() as cur:
        summary = maintenance.summarise_quarantine(
            cur, settings, _filesystem(settings), date.fromisoformat(as_of), policy
        )
    log.info("\n".join(summary.lines()))
    return summary.as_dict()
