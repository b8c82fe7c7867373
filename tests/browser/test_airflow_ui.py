"""The Airflow UI in a real browser: log in, trigger a DAG, see its run succeed.

Headless Chromium from Debian's ``chromium`` package, driven by Playwright through that
executable (no browser download). The screenshot of the successful run is saved to
``test-artifacts/`` (ignored by git, kept by CI as an artifact).

Which DAG: ``lake_maintenance``, the DAG whose every task can succeed today.
``adtech_daily`` takes its place once its Spark jobs exist end to end
(tests/dags/test_entry_points.py lists what is still missing).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import pytest

from adplatform.settings import REPO_ROOT
from adplatform.stack.airflow import ADMIN_USER, admin_password

pytestmark = pytest.mark.stack

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
DAG_ID = "lake_maintenance"
# A day of the lake that no other test uses: the run must not touch their data.
AS_OF = "2024-03-20"
RUN_TIMEOUT_MS = 10 * 60 * 1000


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


def test_log_in_trigger_a_dag_and_see_its_run_succeed(page, pipeline_stack, airflow_api):
    from playwright.sync_api import expect

    settings = pipeline_stack
    airflow_api.wait_for_dag(DAG_ID)

    log_in(page, settings, "admin")  # no default password works
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert "/auth/login" in page.url

    log_in(page, settings, admin_password(settings))
    page.wait_for_url(lambda url: "/auth/login" not in url)
    page.goto(f"{settings.airflow_url}/dags/{DAG_ID}")
    toggle = page.get_by_test_id("toggle-pause")
    if toggle.get_attribute("data-state") != "checked":
        toggle.click()
    expect(toggle).to_have_attribute("data-state", "checked")

    page.get_by_role("button", name="Trigger Dag").click()
    dialog = page.get_by_role("dialog")
    dialog.locator("input[name=element_as_of]").fill(AS_OF)
    dialog.get_by_role("button", name="Trigger", exact=True).click()
    page.wait_for_url("**/runs/**")
    run_id = unquote(page.url.split("/runs/", 1)[1].split("/")[0].split("?")[0])

    header = page.get_by_role("heading", name=run_id, exact=True).locator("xpath=..")
    expect(header).to_contain_text("Success", timeout=RUN_TIMEOUT_MS)
    tasks = page.get_by_test_id("table-list")
    for task_id in (
        "maintenance_day",
        "apply_retention",
        "compact_landing",
        "summarise_quarantine",
    ):
        row = tasks.locator("tr").filter(has=page.get_by_role("link", name=task_id, exact=True))
        expect(row).to_contain_text("Success")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"airflow-ui-{DAG_ID}-run-success.png"), full_page=True)

    # What the UI showed is what Airflow recorded.
    assert airflow_api.run_state(DAG_ID, run_id) == "success"
    assert airflow_api.xcom(DAG_ID, run_id, "maintenance_day") == AS_OF
