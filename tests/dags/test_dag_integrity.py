"""Every DAG file of ``dags/`` follows the platform's rules (docs/orchestration.md).

Imports cleanly and without I/O, one DAG per file named after it, no cycles, documented
(DAG and every task group), tags, explicit catchup and max_active_runs, retries with
exponential backoff and the failure metric on every task, partitions from the data
interval, Spark through the connection and the pool, sensors that do not hold a slot.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest

from adplatform.metrics import task_failure_callback, task_success_callback
from adplatform.orchestration import assets
from adplatform.orchestration.pools import SPARK_POOL, SPARK_POOL_SLOTS
from adplatform.orchestration.spark import JOBS_DIR, SPARK_CONN_ID
from adplatform.settings import REPO_ROOT
from tests.dags.conftest import DAGS_DIR

DAG_FILES = sorted(DAGS_DIR.glob("*.py"))
EXPECTED_DAGS = {"adtech_daily", "kafka_landing_hourly", "lake_maintenance", "tracking_csv_hourly"}


def _spark_tasks(dag):
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

    return [t for t in dag.tasks if isinstance(t, SparkSubmitOperator)]


def _callbacks(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def test_the_folder_holds_the_platform_dags_and_imports_cleanly(dagbag):
    assert dagbag.import_errors == {}
    assert {p.stem for p in DAG_FILES} == EXPECTED_DAGS
    assert set(dagbag.dag_ids) == EXPECTED_DAGS


def test_one_dag_per_file_with_the_file_name_as_id(dagbag):
    for path in DAG_FILES:
        in_file = [d.dag_id for d in dagbag.dags.values() if os.path.samefile(d.fileloc, path)]
        assert in_file == [path.stem], f"{path.name} defines {in_file}"


IMPORT_IO_PROBE = r"""
import json, os, runpy, sys, sysconfig

import airflow.sdk  # the framework a DAG file builds on, configured once before the probe

REPO = os.getcwd() + os.sep
DAG_FILES = json.loads(sys.argv[2])
OURS = (REPO, *DAG_FILES)
LIBRARIES = tuple({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
IMPORTED_CODE = (".py", ".pyc", ".so", ".pth")
WATCHED = {"open", "os.listdir", "os.scandir", "socket.connect", "socket.getaddrinfo",
           "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "urllib.Request"}
events, active = [], [False]

def caller():
    # The nearest frame of the project or of a library: whose I/O is it?
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith(LIBRARIES):
            return None  # a library doing its own setup while being imported
        if name.startswith(OURS):
            return f"{name}:{frame.f_lineno}"
        frame = frame.f_back
    return None

def hook(event, args):
    if not active[0] or event not in WATCHED:
        return
    if event in ("open", "os.listdir", "os.scandir"):
        path = args[0]
        if path is None or isinstance(path, int):
            return
        path = os.path.abspath(os.fsdecode(path))
        # The import system reading modules and scanning package folders.
        if path.endswith(IMPORTED_CODE) or path + os.sep == REPO or (
            os.path.isdir(path) and os.path.exists(os.path.join(path, "__init__.py"))
        ):
            return
    where = caller()
    if where:
        events.append([where, event, repr(args)[:300]])

sys.addaudithook(hook)
for path in DAG_FILES:
    active[0] = True
    try:
        runpy.run_path(path, run_name="dag_import_probe")
    finally:
        active[0] = False
print(json.dumps(events))
"""


def test_dag_files_do_no_io_at_import_time(tmp_path):
    """No file read, folder listing, network or process while a DAG file is executed."""
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PYTHONPATH": str(REPO_ROOT),
    }
    out = subprocess.run(
        [sys.executable, "-c", IMPORT_IO_PROBE, "-", json.dumps([str(p) for p in DAG_FILES])],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    events = json.loads(out.stdout.strip().splitlines()[-1])
    assert events == [], "I/O while importing DAG files:\n" + "\n".join(map(str, events))


def test_no_cycles(dagbag):
    for dag in dagbag.dags.values():
        dag.check_cycle()
        order = [t.task_id for t in dag.topological_sort()]
        assert sorted(order) == sorted(dag.task_ids), dag.dag_id


def test_every_dag_is_documented_tagged_and_bounded(dagbag):
    for path in DAG_FILES:
        dag = dagbag.dags[path.stem]
        docstring = ast.get_docstring(ast.parse(path.read_text()), clean=False)
        assert docstring and dag.doc_md == docstring, f"{dag.dag_id}: doc_md is not __doc__"
        assert dag.doc_md.strip().startswith(f"# {dag.dag_id}"), dag.dag_id
        assert "adtech" in dag.tags and len(dag.tags) >= 2, dag.dag_id
        assert 1 <= dag.max_active_runs <= 2, f"{dag.dag_id}: sized for a 2-core machine"
        assert type(dag.timetable).__name__ != "NullTimetable", f"{dag.dag_id}: no schedule"
        assert dag.start_date is not None and dag.start_date.tzinfo is not None, dag.dag_id


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)
def test_catchup_and_max_active_runs_are_written_out(path):
    """Written in the DAG call itself, not left to Airflow's configuration."""
    calls = [
        node
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "DAG"
    ]
    assert len(calls) == 1, f"{path.name}: one DAG(...) per file"
    keywords = {k.arg for k in calls[0].keywords}
    missing = {"dag_id", "doc_md", "schedule", "start_date", "catchup", "max_active_runs",
               "default_args", "tags"} - keywords  # fmt: skip
    assert not missing, f"{path.name}: DAG(...) without {sorted(missing)}"


def test_every_task_group_has_doc_md(dagbag):
    for dag in dagbag.dags.values():
        for group_id, group in dag.task_group.get_task_group_dict().items():
            if group_id is not None:
                assert group.doc_md and len(group.doc_md) > 40, f"{dag.dag_id}.{group_id}"
                assert not group.doc_md.startswith(" "), "indented markdown shows as code"


def test_every_task_retries_with_backoff_and_records_its_outcome(dagbag):
    for dag in dagbag.dags.values():
        for task in dag.tasks:
            where = f"{dag.dag_id}.{task.task_id}"
            assert task.retries >= 1, where
            assert task.retry_exponential_backoff > 1, where
            assert task.max_retry_delay is not None, where
            assert task.retry_delay <= task.max_retry_delay <= timedelta(hours=1), where
            assert task_failure_callback in _callbacks(task.on_failure_callback), where
            assert task_success_callback in _callbacks(task.on_success_callback), where
            assert task.execution_timeout is not None, where


def test_partitions_come_from_the_data_interval(dagbag):
    from airflow.sdk import CronDataIntervalTimetable

    for dag_id in ("adtech_daily", "kafka_landing_hourly", "tracking_csv_hourly"):
        dag = dagbag.dags[dag_id]
        # A data-interval timetable: `ds` is the day (hour) that ended, not the run's moment.
        assert isinstance(dag.timetable, CronDataIntervalTimetable), dag_id
    daily = dagbag.dags["adtech_daily"]
    assert daily.catchup is True and daily.max_active_runs == 1
    for task in _spark_tasks(daily):
        args = list(task.application_args)
        assert args[args.index("--ds") + 1] == "{{ ds }}", task.task_id
        assert args[args.index("--run-id") + 1] == "{{ run_id }}", task.task_id
    for dag in dagbag.dags.values():
        for task in _spark_tasks(dag):
            text = " ".join(task.application_args)
            assert "now" not in text and "today" not in text, f"{dag.dag_id}.{task.task_id}"


def test_spark_runs_through_the_connection_the_pool_and_the_code_zip(dagbag):
    from adplatform.orchestration.spark import PlatformSparkSubmitOperator

    seen = 0
    for dag in dagbag.dags.values():
        for task in _spark_tasks(dag):
            where = f"{dag.dag_id}.{task.task_id}"
            assert isinstance(task, PlatformSparkSubmitOperator), where
            assert task._conn_id == SPARK_CONN_ID, where
            assert task.pool == SPARK_POOL, where
            assert task.application == str(JOBS_DIR / task.job / "job.py"), where
            assert task.params["source"], f"{where}: the metric callbacks need a source"
            seen += 1
    assert seen >= 8  # land_kafka, validate_raw and the six batch jobs


def test_tasks_that_rewrite_the_landing_zone_hold_the_whole_spark_pool(dagbag):
    dag = dagbag.dags["lake_maintenance"]
    for task_id in ("apply_retention", "compact_landing"):
        task = dag.get_task(task_id)
        assert (task.pool, task.pool_slots) == (SPARK_POOL, SPARK_POOL_SLOTS), task_id


def test_the_daily_run_waits_on_landing_markers_without_holding_a_slot(dagbag):
    from adplatform.orchestration.sensors import LandingMarkersSensor

    dag = dagbag.dags["adtech_daily"]
    sensors = [t for t in dag.tasks if isinstance(t, LandingMarkersSensor)]
    assert len(sensors) == 1
    sensor = sensors[0]
    assert sensor.mode == "reschedule"
    assert set(sensor.sources) == set(assets.LANDING_SOURCES)
    assert sensor.ds == "{{ ds }}"
    assert sensor.downstream_task_ids and not sensor.upstream_task_ids
    # Everything else of the day starts after the markers.
    assert {t.task_id for t in dag.tasks} == {sensor.task_id} | {
        t.task_id for t in sensor.get_flat_relatives(upstream=False)
    }


def test_the_daily_chain_runs_in_the_documented_order(dagbag):
    """The order of docs/batch-jobs.md: tracking after impressions, funnel after every
    clean job and the dimensions, nothing aggregated or reported before the funnel."""
    dag = dagbag.dags["adtech_daily"]

    def after(task_id: str) -> set[str]:
        return {t.task_id for t in dag.get_task(task_id).get_flat_relatives(upstream=False)}

    first = {"clean_impressions", "clean_bid_requests", "load_dimensions"}
    assert first <= after("validate_raw")
    for task_id in first:
        assert not (first - {task_id}) & after(task_id), f"{task_id} should run in parallel"
        assert "build_ad_funnel" in after(task_id)
    assert "clean_tracking" in after("clean_impressions")
    assert "build_ad_funnel" in after("clean_tracking")
    # The jobs audit their own output before publishing it (write-audit-publish): no
    # separate check task runs after a curated table was already written.
    assert not {t.task_id for t in dag.tasks} & {"validate_curated", "validate_published"}
    assert after("build_ad_funnel") == {
        "aggregate_campaign_daily",
        "campaign_report",
        "run_summary",
    }
    assert after("aggregate_campaign_daily") == {"campaign_report", "run_summary"}
    assert after("campaign_report") == {"run_summary"}
    for task_id in ("clean_tracking", "build_ad_funnel"):
        assert dag.get_task(task_id).depends_on_past, f"{task_id} reads the days before"


def test_assets_that_a_dag_waits_on_are_produced_by_a_dag(dagbag):
    produced = {
        outlet.uri for dag in dagbag.dags.values() for t in dag.tasks for outlet in t.outlets
    }
    assert {a.uri for a in assets.LANDING.values()} <= produced
    maintenance = dagbag.dags["lake_maintenance"]
    waited = {a.uri for a in maintenance.timetable.asset_condition.objects}
    assert waited == {assets.CAMPAIGN_DAILY.uri}
    assert waited <= produced
