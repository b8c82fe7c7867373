"""
# tracking_csv_hourly: click-tracking CSV files from the inbox to the landing zone

Every hour, for the interval `[H, H+1)` that just ended:

1. `tracking_file` waits (reschedule mode) for `tracking_YYYYMMDD_HH.csv` of hour `H` in
   the lake's inbox (`inbox/tracking`), or for hour `H` to be landed already by an earlier
   intake. Times out after 6 h: the click-tracking system did not deliver the file.
2. `land_tracking` runs `adplatform land tracking --until <H+1>`: every file of an hour
   before `H+1` is copied to `landing/tracking/arrival_date=.../arrival_hour=...`, checked,
   and only then removed from the inbox; a file already landed (same content checksum) is
   not landed twice; a truncated or unreadable file goes to the quarantine folder with its
   reason. Each landed hour gets its done marker.
3. `hour_closed` checks that hour `H` has its done marker and emits the `landing.tracking`
   Asset. It fails without retry when it is missing (see the `land_tracking` log).
4. `restate_late_days`: a file that landed in an hour already closed (counted as
   `adtech_landing_late_records`, alert `LandingLateRecords`) was missed by the daily runs
   that read that hour: this clears those `adtech_daily` runs so that they run again.
   By hand: `adplatform restate` (or `--day YYYY-MM-DD`).

Catchup is off: one intake moves every file up to its interval end, however long the gap.
One run at a time, so that two intakes never move the same file.
More: `docs/orchestration.md`.
"""

from __future__ import annotations

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

from adplatform import lake
from adplatform.orchestration import defaults
from adplatform.orchestration.sensors import TrackingFileSensor
from adplatform.orchestration.tasks import hour_closed, restate_late_days

with DAG(
    dag_id="tracking_csv_hourly",
    doc_md=__doc__,
    schedule=defaults.hourly(),
    start_date=defaults.pipeline_start(),
    catchup=False,
    max_active_runs=1,
    default_args=defaults.default_args(),
    tags=[defaults.TAG, "landing", "hourly"],
) as dag:
    wait = TrackingFileSensor(task_id="tracking_file")
    land = BashOperator(
        task_id="land_tracking",
        bash_command="adplatform land tracking --until {{ data_interval_end | ts }}",
        params={"source": lake.TRACKING_SOURCE},
    )
    wait >> land >> [hour_closed([lake.TRACKING_SOURCE]), restate_late_days([lake.TRACKING_SOURCE])]
