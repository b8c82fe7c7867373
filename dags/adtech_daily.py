"""
# adtech_daily: one day of ad data, from the landing zone to the campaign report

**Partition.** A run owns the UTC day `ds` of its data interval `[ds, ds+1)`, never "the
latest data". Every job replaces exactly the partitions of `ds` it owns, so re-running a
run, clearing a task or backfilling a range gives the same rows (semantic 2). Catchup is on:
a day that was missed runs by itself once its landing is complete; runs go one at a time,
oldest first, because tracking and attribution of `ds` read the curated days before it.

**Stages** (each group's documentation says more):

1. `wait_for_landing`: the done markers of every arrival hour the day reads, for the three
   sources: `ds-1 22:00` to `ds+1 (grace-1):00` (grace 6 h by default). The run waits on the
   markers, not on the clock (reschedule mode, no worker slot held).
2. `raw_quality`: data-quality suites on the landed raw records.
3. `clean`: impressions and bid requests in parallel, then tracking (clicks and
   conversions, joined with the curated impressions); the dimensions beside them. Records
   are parsed, validated, normalised, deduplicated; bad ones quarantined with a reason.
4. `funnel`: impressions correlated with bids, clicks and conversions into `ad_funnel`.
5. `publish`: `campaign_daily`, the campaign report, and `run_summary`, which checks that
   the day's reconciliation adds up and records the day as a metric.

**Data quality** (write-audit-publish): every job of stages 3-5 that writes a curated table
audits its rows with the table's Great Expectations suite *before* it writes anything. A
critical expectation failing fails that task with `DataQualityError` (its log names the
expectation, the column, and where the results and Data Docs are): the table keeps its
previous partition, no quarantine or reconciliation row is written, and nothing downstream
runs. The rejected rows stay staged on the lake for inspection (docs/data-quality.md).

**When a task fails** (after 3 retries, 1 to 4 minutes apart): its log names the cause (a
reconciliation mismatch, a data-quality stop, a job error). Fix the cause and *clear* the
task with its downstream tasks: they run again for the same day, idempotently. Until then
the next day stops at `clean_tracking` (`depends_on_past`): no attribution over a hole.
`landing_markers` timing out (24 h) means landing is behind: its log names the source and
hour it waits for; open `kafka_landing_hourly` and `tracking_csv_hourly`. Clearing a day
older than the landing retention (30 days) fails at once, in one line, and changes nothing.
The `BatchJobFailed` alert carries the task id as `job` and the run id.

Spark tasks run in the `spark` pool (2 at a time), through the `spark_default` connection.
More: `docs/orchestration.md`.
"""

from __future__ import annotations

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, TaskGroup

from adplatform.orchestration import assets, defaults
from adplatform.orchestration.sensors import LandingMarkersSensor
from adplatform.orchestration.spark import quality_check, spark_job
from adplatform.orchestration.tasks import run_summary

with DAG(
    dag_id="adtech_daily",
    doc_md=__doc__,
    schedule=defaults.daily(),
    start_date=defaults.pipeline_start(),
    end_date=defaults.pipeline_end(),
    catchup=True,
    max_active_runs=1,
    default_args=defaults.default_args(),
    tags=[defaults.TAG, "batch", "daily"],
) as dag:
    with TaskGroup(
        "wait_for_landing",
        prefix_group_id=False,
        doc_md=defaults.doc("""
        Waits until landing has closed every arrival hour the day reads, for `bid_requests`,
        `ad_impressions` and `tracking`: the done markers of the hours `ds-1 22:00` to
        `ds+1 (grace-1):00` (semantic 6); an hour without data before the source's frontier
        is closed as empty, marker or not. Each poke logs, per source, the first hour it
        waits for and how far landing has closed that source. Times out after 24 h: then
        landing is behind or stopped. Fails at once for a day older than landing retention.
        """),
    ):
        landing = LandingMarkersSensor(task_id="landing_markers", sources=assets.LANDING_SOURCES)

    with TaskGroup(
        "raw_quality",
        prefix_group_id=False,
        doc_md=defaults.doc("""
        Great Expectations suites of the three raw sources, on the landed records of the
        day's arrival window, read and parsed by the clean jobs' own steps
        (`spark_jobs/data_quality`, stage `raw`). A critical expectation failing stops the run
        before anything is written; warnings are recorded as metrics. The task log says where
        the validation results and Data Docs are.
        """),
    ):
        raw_quality = quality_check("raw")

    with TaskGroup(
        "clean",
        prefix_group_id=False,
        doc_md=defaults.doc("""
        One Spark job per source (two at a time in the `spark` pool). Each parses with an
        explicit schema, validates, normalises, deduplicates by event id or payload
        fingerprint, quarantines bad records with a reason, audits its curated rows with
        the table's suite (a critical failure stops the job before it writes anything),
        replaces the `ds` partitions it owns and writes a reconciliation row
        (`in = curated + quarantined + duplicates`); it fails when the row does not add up.
        `clean_tracking` joins clicks with the *curated* impressions, so it runs after
        `clean_impressions`, and after its own previous day (`depends_on_past`: the
        last-click look-back reads the clicks of the days before); it audits clicks and
        conversions both before it publishes either.
        `load_dimensions` replaces `dim_campaign` and `dim_user` from the delivered files.
        """),
    ):
        impressions = spark_job(
            "clean_impressions", source="impressions", outlets=[assets.IMPRESSIONS]
        )
        bid_requests = spark_job(
            "clean_bid_requests", source="bid_requests", outlets=[assets.BID_REQUESTS]
        )
        tracking = spark_job(
            "clean_tracking",
            source="tracking",
            outlets=[assets.CLICKS, assets.CONVERSIONS],
            depends_on_past=True,
        )
        dimensions = spark_job(
            "load_dimensions", source="dimensions", outlets=[assets.DIM_CAMPAIGN, assets.DIM_USER]
        )
        impressions >> tracking

    with TaskGroup(
        "funnel",
        prefix_group_id=False,
        doc_md=defaults.doc("""
        `build_ad_funnel`: one row per impression with its bid, click and attributed
        conversions (last click, then last view), campaign and user attributes, ids
        pseudonymised; it rebuilds the last days whose attribution the new day can change
        (`--restate-days`), so it waits for the previous day's funnel (`depends_on_past`).
        The `ad_funnel` suite audits every rebuilt day (against the curated impressions and
        `dim_campaign`) before any is replaced; a critical failure stops the run before
        `campaign_daily` and the report.
        """),
    ):
        funnel = spark_job(
            "build_ad_funnel",
            source="ad_funnel",
            outlets=[assets.AD_FUNNEL],
            depends_on_past=True,
        )

    with TaskGroup(
        "publish",
        prefix_group_id=False,
        doc_md=defaults.doc("""
        `aggregate_campaign_daily` audits the day of `campaign_daily` with its suite (every
        count and sum against the curated tables) and only then writes it (an Asset:
        `lake_maintenance` runs after it); a critical failure stops the run before the
        report. `campaign_report`
        writes the day's HTML campaign report and CSVs through HiveServer2
        (`adplatform report --daily`) to `$ADPLATFORM_HOME/reports/<ds>/` (docs/reports.md).
        `run_summary` checks that every reconciliation row of the day adds up and pushes the
        day's published rows as the `run_summary` job's metrics.
        """),
    ):
        aggregate = spark_job(
            "aggregate_campaign_daily", source="campaign_daily", outlets=[assets.CAMPAIGN_DAILY]
        )
        report = BashOperator(
            task_id="campaign_report",
            bash_command="adplatform report --from {{ ds }} --to {{ ds }} --daily",
            params={"source": "campaign_daily"},
        )
        aggregate >> report >> run_summary()

    landing >> raw_quality >> [impressions, bid_requests, dimensions]
    [tracking, bid_requests, dimensions] >> funnel >> aggregate
