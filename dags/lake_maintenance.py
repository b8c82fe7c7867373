"""
# lake_maintenance: compaction, retention and the quarantine summary

Runs after each day `adtech_daily` publishes (the `adtech.campaign_daily` Asset), and can
be triggered by hand (then it counts from the `as_of` param, else from the newest arrival
date in the landing zone). Every step counts from that day, not from the wall clock, so
backfills and simulated days in the past behave like real days.

* `apply_retention`: deletes landing arrival dates older than `retention_days` (30) for
  every source, done markers first. A later re-run of such a day waits for its markers and
  times out: raw data past retention cannot be re-processed, by design.
* `compact_landing`: rewrites closed Kafka landing hours older than `compact_after_days`
  (3) that hold several small Parquet files as a few larger ones, same rows and types,
  swapped in atomically enough that a reader sees the old or the new folder; an
  interrupted compaction is repaired by the next run.
* `summarise_quarantine`: records quarantined per source and reason over the last
  `quarantine_days` (7) days, from `adtech.quarantine` through HiveServer2, and the whole
  files set aside as unreadable. The summary is in the log and in the task's XCom.

`apply_retention` and `compact_landing` take every slot of the `spark` pool: no Spark job
reads the landing zone while they change it, and they wait for running Spark jobs to end.
Re-running is safe: each step only acts on what is still to do.
More: `docs/orchestration.md`.
"""

from __future__ import annotations

from airflow.sdk import DAG, Param

from adplatform.maintenance import MIN_RETENTION_DAYS, Policy
from adplatform.orchestration import assets, defaults
from adplatform.orchestration.tasks import (
    apply_retention,
    compact_landing,
    maintenance_day,
    summarise_quarantine,
)

POLICY = Policy()

with DAG(
    dag_id="lake_maintenance",
    doc_md=__doc__,
    schedule=[assets.CAMPAIGN_DAILY],
    start_date=defaults.pipeline_start(),
    catchup=False,
    max_active_runs=1,
    default_args=defaults.default_args(),
    tags=[defaults.TAG, "maintenance"],
    params={
        "as_of": Param(
            None,
            type=["null", "string"],
            format="date",
            description="Day to count from (YYYY-MM-DD) when not triggered by a published day; "
            "empty: the newest arrival date landed",
        ),
        "retention_days": Param(POLICY.retention_days, type="integer", minimum=MIN_RETENTION_DAYS),
        "compact_after_days": Param(POLICY.compact_after_days, type="integer", minimum=2),
        "quarantine_days": Param(POLICY.quarantine_days, type="integer", minimum=1),
    },
) as dag:
    day = maintenance_day()
    retention = apply_retention(day)
    retention >> compact_landing(day)
    summarise_quarantine(day)
