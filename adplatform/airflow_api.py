"""A small client of the Airflow 3 REST API (``/api/v2``) of the stack.

``adplatform demo`` and the tests run DAGs with it the way an operator does in the UI: they
trigger (or let the schedule create) a run, and the real scheduler runs it; they read back the
state Airflow records.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import requests

from adplatform.errors import UserError
from adplatform.settings import Settings
from adplatform.stack.airflow import ADMIN_USER, admin_password

FINISHED = {"success", "failed"}


class AirflowApiError(UserError):
    """An API call answered with an unexpected status; the message has the answer."""


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
            raise AirflowApiError(f"{method} {path}: {response.status_code} {response.text[:800]}")
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
        raise AirflowApiError(f"{dag_id} was not parsed in {timeout_s:.0f} s; errors: {errors}")

    def unpause(self, dag_id: str) -> None:
        self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def pause(self, dag_id: str) -> None:
        self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": True})

    def trigger(
        self,
        dag_id: str,
        conf: dict | None = None,
        interval: tuple[datetime, datetime] | None = None,
        run_id: str | None = None,
    ) -> str:
        """A manual run; with ``interval``, of that data interval (its start is the logical
        date), queued as if it had been due at the interval's end."""
        body: dict[str, Any] = {"logical_date": None, "conf": conf or {}}
        if interval is not None:
            start, end = (t.isoformat() for t in interval)
            body.update(
                logical_date=start, data_interval_start=start, data_interval_end=end, run_after=end
            )
        if run_id is not None:
            body["dag_run_id"] = run_id
        run = self.call("POST", f"/dags/{dag_id}/dagRuns", ok=(200, 201), json=body)
        return run["dag_run_id"]

    def runs(self, dag_id: str) -> list[dict]:
        """Every run of the DAG, oldest logical date first."""
        answer = self.call(
            "GET", f"/dags/{dag_id}/dagRuns", params={"order_by": "logical_date", "limit": 1000}
        )
        return answer["dag_runs"]

    def delete_run(self, dag_id: str, run_id: str) -> None:
        self.call("DELETE", f"/dags/{dag_id}/dagRuns/{run_id}", ok=(204,))

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
        raise AirflowApiError(
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
