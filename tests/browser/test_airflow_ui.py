"""The Airflow UI in a real browser: log in, trigger ``adtech_daily``, see its run succeed.

Headless Chromium from Debian's ``chromium`` package, driven by Playwright through that
executable (no browser download). The screenshot of the successful run is saved to
``test-artifacts/`` (ignored by git, kept by CI as an artifact).

The run triggered is the first of the two days ``daily_pipeline`` ran through the scheduler,
run again: Airflow keeps one run per logical date, so the test deletes the scheduled run
through the REST API first, then an operator's steps in the UI trigger that date with its
data interval. HDFS refuses writes (safe mode) when the run starts, so a task fails its
first try; the cause goes away, Airflow retries it, the run succeeds, and every table holds
exactly what it held before (a day run again changes nothing).
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote

import pytest

from adplatform import lake
from adplatform.demo import DAILY_DAG
from adplatform.settings import REPO_ROOT, Settings
from adplatform.stack.airflow import ADMIN_USER, admin_password
from tests.dags.pipeline_fixtures import hive_cursor

pytestmark = [pytest.mark.stack, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO_ROOT / "test-artifacts"
RUN_TIMEOUT_S = 30 * 60
SNAPSHOT_QUERIES = {
    "campaign_daily": "SELECT * FROM {db}.campaign_daily WHERE dt BETWEEN '{first}' AND '{last}'",
    "ad_funnel": "SELECT impression_id, clicked, conversions, conversion_value_micros "
    "FROM {db}.ad_funnel WHERE dt BETWEEN '{first}' AND '{last}'",
    "reconciliation": "SELECT dt, job, source, rows_in, curated, quarantined, duplicates, ok "
    "FROM {db}.reconciliation WHERE dt BETWEEN '{first}' AND '{last}'",
    "quarantine": "SELECT source, reason, COUNT(*) FROM {db}.quarantine "
    "WHERE dt BETWEEN '{first}' AND '{last}' GROUP BY source, reason",
}


@pytest.fixture
def page(pipeline_stack):
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 900})
        finally:
            browser.close()


def log_in(page, settings, password: str) -> None:
    page.goto(settings.airflow_url)
    page.get_by_label("Username").fill(ADMIN_USER)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def pick(page, field, day: str, clock: str) -> None:
    """Sets one of the trigger form's date-time fields (a popover with a date and a time)."""
    field.click()
    popover = page.get_by_role("dialog").last
    popover.get_by_placeholder("YYYY/MM/DD").fill(day)
    popover.get_by_placeholder("HH:mm").fill(clock)
    page.keyboard.press("Escape")


def snapshot(settings: Settings, days) -> dict[str, list[tuple]]:
    span = {"db": lake.DATABASE, "first": days[0].isoformat(), "last": days[-1].isoformat()}
    found = {}
    with hive_cursor(settings) as cursor:
        for name, query in SNAPSHOT_QUERIES.items():
            cursor.execute(query.format(**span))
            found[name] = sorted(map(tuple, cursor.fetchall()), key=repr)
    return found


def safemode(settings: Settings, action: str) -> None:
    """``hdfs dfsadmin -safemode enter|leave``: in safe mode the NameNode refuses every write
    (what a NameNode restart or a full disk looks like to a job) and reads go on."""
    from adplatform.stack.hdfs import hadoop_conf_dir
    from adplatform.stack.service import jar_classpath, java_command, run_setup_step

    classpath = [str(hadoop_conf_dir(settings)), jar_classpath(settings, "hadoop")]
    dfsadmin = "org.apache.hadoop.hdfs.tools.DFSAdmin"
    argv = java_command(
        settings, classpath, dfsadmin, "-fs", settings.hdfs_uri, "-safemode", action
    )
    run_setup_step(argv, f"hdfs dfsadmin -safemode {action}")


def wait_for_a_retry(api, run_id: str) -> str:
    """The first task of the run that failed a try and waits for its retry."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        states = api.task_states(DAILY_DAG, run_id)
        retrying = sorted(t for t, s in states.items() if s == "up_for_retry")
        if retrying:
            return retrying[0]
        assert "failed" not in states.values(), states
        time.sleep(3)
    raise AssertionError(f"no task of {run_id} failed a try: {api.task_states(DAILY_DAG, run_id)}")


def test_log_in_trigger_adtech_daily_see_a_retry_and_the_run_succeed(
    page, daily_pipeline, airflow_api
):
    from playwright.sync_api import expect

    settings, days = daily_pipeline.settings, daily_pipeline.days
    day = days[0]
    before = snapshot(settings, days)
    assert before["campaign_daily"] and before["ad_funnel"]
    scheduled = next(r for r in airflow_api.runs(DAILY_DAG) if r["logical_date"][:10] == str(day))
    airflow_api.delete_run(DAILY_DAG, scheduled["dag_run_id"])

    log_in(page, settings, "admin")  # no default password works
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert "/auth/login" in page.url
    log_in(page, settings, admin_password(settings))
    page.wait_for_url(lambda url: "/auth/login" not in url)

    page.goto(f"{settings.airflow_url}/dags/{DAILY_DAG}")
    page.get_by_role("button", name="Trigger Dag").click()
    dialog = page.get_by_role("dialog")
    fields = dialog.get_by_test_id("datetime-input")
    pick(page, fields.nth(0), day.strftime("%Y/%m/%d"), "00:00")  # logical date
    dialog.get_by_text("Specify Manually").click()  # the data interval [day, day + 1)
    pick(page, fields.nth(1), day.strftime("%Y/%m/%d"), "00:00")
    pick(page, fields.nth(2), (day + timedelta(days=1)).strftime("%Y/%m/%d"), "00:00")
    safemode(settings, "enter")
    try:
        dialog.get_by_role("button", name="Trigger", exact=True).click()
        page.wait_for_url("**/runs/**")
        run_id = unquote(page.url.split("/runs/", 1)[1].split("/")[0].split("?")[0])
        retried = wait_for_a_retry(airflow_api, run_id)
    finally:
        safemode(settings, "leave")

    header = page.get_by_role("heading", name=run_id, exact=True).locator("xpath=..")
    expect(header).to_contain_text("Success", timeout=RUN_TIMEOUT_S * 1000)
    tasks = page.get_by_test_id("table-list")
    for task_id in (retried, "build_ad_funnel", "aggregate_campaign_daily", "run_summary"):
        row = tasks.locator("tr").filter(has=page.get_by_role("link", name=task_id, exact=True))
        expect(row).to_contain_text("Success")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"airflow-ui-{DAILY_DAG}-run-success.png"), full_page=True)

    # What the UI showed is what Airflow recorded, for the day the form named.
    run = next(r for r in airflow_api.runs(DAILY_DAG) if r["dag_run_id"] == run_id)
    assert (run["run_type"], run["state"]) == ("manual", "success")
    assert run["logical_date"][:10] == run["data_interval_start"][:10] == day.isoformat()
    assert run["data_interval_end"][:10] == (day + timedelta(days=1)).isoformat()
    tasks = airflow_api.call("GET", f"/dags/{DAILY_DAG}/dagRuns/{run_id}/taskInstances")
    tries = {ti["task_id"]: ti["try_number"] for ti in tasks["task_instances"]}
    assert tries[retried] == 2, tries  # failed once in safe mode, then succeeded
    assert set(airflow_api.task_states(DAILY_DAG, run_id).values()) == {"success"}
    assert snapshot(settings, days) == before
