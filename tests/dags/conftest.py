"""The DAG folder loaded once per session, as Airflow's dag-processor loads it. The test
stack made ready to run the DAGs is in ``tests/dags/pipeline_fixtures.py``."""

from __future__ import annotations

import pytest

from adplatform.orchestration.pools import POOLS
from adplatform.settings import REPO_ROOT

DAGS_DIR = REPO_ROOT / "dags"


@pytest.fixture(scope="session")
def dagbag(tmp_path_factory: pytest.TempPathFactory):
    """``DagBag`` of ``dags/`` with a throw-away Airflow home (nothing written to ~/airflow).

    ``known_pools`` makes a task that names a pool the platform does not create an import
    error, as the scheduler would leave it waiting forever.
    """
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow-home")))
        env.setenv("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
        env.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(DAGS_DIR))
        from airflow.dag_processing.dagbag import DagBag

        yield DagBag(dag_folder=str(DAGS_DIR), known_pools={"default_pool", *POOLS})
