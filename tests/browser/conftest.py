"""The browser tests drive the Airflow UI of the test stack, made ready to run the DAGs."""

from __future__ import annotations

from tests.dags.pipeline_fixtures import (  # noqa: F401 (fixtures)
    airflow_api,
    pipeline_stack,
)
