"""A small client of the Airflow 3 REST API of the test stack, for tests that run DAGs.

Runs go through the real scheduler: the test triggers (or lets the schedule create) a run
and waits for the state Airflow records, like an operator watching the UI.
"""

from __future__ import annotations

import time
from typing import Any

import requests

from adplatform.settings import Settings
from adplatform.stack.airflow import ADMIN_USER, admin_password

FINISHED = {"success", "failed"}


class AirflowApi:
    def __init__(self, settings: Settings) -> None:
        self.url = settings.airflow_url
        self.session = requests.Session()
        response = self.session.post(
            f"{self.url}/auth/token",
            json={"username": ADMIN_USER, "password": admin_password(settings)},
            timeout=30,
        )
        response.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def call(self, method: str, path: str, ok: tuple[int, ...] = (200,), **kwargs: Any) -> Any:
        response = self.session.request(method, f"{self.url}/api/v2{path}", timeout=60, **kwargs)
        if response.status_code not in ok:
            raise AssertionError(f"{method} {path}: {response.status_code} {response.text[:800]}")
        return response.json() if response.content else None

    def wait_for_dag(self, dag_id: str, timeout_s: float = 300) -> dict:
        """The DAG once the dag-processor has parsed it; fails with the import errors."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            response = self.session.get(f"{self.url}/api/v2/dags/{dag_id}", timeout=30)
            if response.status_code == 200:
                return response.json()
            time.sleep(3)
        errors = self.call("GET", "/importErrors").get("import_errors", [])
        raise AssertionError(f"{dag_id} was not parsed in {timeout_s:.0f} s; errors: {errors}")

    def unpause(self, dag_id: str) -> None:
        self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        body = {"logical_date": None, "conf": conf or {}}
        run = self.call("POST", f"/dags/{dag_id}/dagRuns", ok=(200, 201), json=body)
        return run["dag_run_id"]

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        answer = self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        return {ti["task_id"]: ti["state"] for ti in answer["task_instances"]}

    def wait_for_run(self, dag_id: str, run_id: str, timeout_s: float = 600) -> str:
        """The run's final state; on timeout, fails with the state of every task."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            state = self.run_state(dag_id, run_id)
            if state in FINISHED:
                return state
            time.sleep(3)
        raise AssertionError(
            f"{dag_id} {run_id} not finished after {timeout_s:.0f} s: "
            f"{self.task_states(dag_id, run_id)}"
        )

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        return self.call("GET", path, params={"deserialize": "true"})["value"]

    def log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        answer = self.call("GET", path, headers={"Accept": "application/json"})
        content = answer.get("content", "")
        if isinstance(content, list):
            return "\n".join(e.get("event", "") if isinstance(e, dict) else str(e) for e in content)
        return str(content)
