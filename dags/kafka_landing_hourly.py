"""
# kafka_landing_hourly: Kafka topics to the HDFS landing zone, exactly once

Every hour, for the interval `[H, H+1)` that just ended:

1. `land_kafka` runs the landing Spark job (`spark_jobs/land_kafka/job.py`) with
   `Trigger.AvailableNow`: it reads what is new on `bid_requests` and `ad_impressions` since
   its checkpoint, writes it to `landing/<topic>/arrival_date=.../arrival_hour=...` by the
   records' Kafka timestamps, and writes the done marker of every hour it closes (an hour is
   closed once every topic partition has moved past it or been drained up to `H+1`).
2. `hour_closed` checks that hour `H` has its done marker for both topics and emits the
   `landing.<topic>` Assets with the hour. It fails without retry when a marker is missing:
   landing did not drain up to `H+1` (see the `land_kafka` log); the next run closes it.
3. `restate_late_days`: records that landed in hours already closed (clock skew, re-sends;
   counted as `adtech_landing_late_records`, alert `LandingLateRecords`) were missed by
   the daily runs that read those hours: this clears those `adtech_daily` runs (finished
   ones; a running one at a later hour), so the scheduler runs them again and the records
   reach `campaign_daily`. By hand: `adplatform restate` (or `--day YYYY-MM-DD`).

**Catchup is off on purpose**: one run lands everything that is new, however long the gap,
through the checkpoint (exactly once; a killed run re-reads only its unfinished batch).
Never run two at a time (`max_active_runs=1`): they would share the checkpoint.

`adtech_daily` waits on the done markers written here. If `LandingLagHigh` fires, look at
the latest runs of this DAG first. More: `docs/orchestration.md`.
"""

from __future__ import annotations

from airflow.sdk import DAG

from adplatform.orchestration import assets, defaults
from adplatform.orchestration.spark import spark_job
from adplatform.orchestration.tasks import hour_closed, restate_late_days

with DAG(
    dag_id="kafka_landing_hourly",
    doc_md=__doc__,
    schedule=defaults.hourly(),
    start_date=defaults.pipeline_start(),
    catchup=False,
    max_active_runs=1,
    default_args=defaults.default_args(),
    tags=[defaults.TAG, "landing", "hourly"],
) as dag:
    land = spark_job(
        "land_kafka",
        source="kafka",
        args=["--until", "{{ data_interval_end | ts }}", "--run-id", "{{ run_id }}"],
        # Landing goes first when daily jobs also wait for a Spark slot.
        priority_weight=10,
        weight_rule="absolute",
    )
    land >> [hour_closed(assets.KAFKA_SOURCES), restate_late_days(assets.KAFKA_SOURCES)]
