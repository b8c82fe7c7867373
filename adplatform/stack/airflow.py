"""Airflow 3: api-server (UI and REST API), scheduler, dag-processor and triggerer.

All four share one environment built from the settings: the metadata database, the DAGs
folder, the generated secrets and admin password, and the Airflow connections for Spark,
HiveServer2 and Kafka (as AIRFLOW_CONN_* variables, so they always follow the settings).
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path

import requests

from adplatform.settings import REPO_ROOT, Settings
from adplatform.spark_config import batch_job_conf, spark_env
from adplatform.stack.service import Service, run_setup_step

ADMIN_USER = "admin"


def _secret_file(path: Path, make: callable) -> str:
    """Read a generated secret, creating it (readable only by this user) on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(make())
    return path.read_text().strip()


def admin_password_file(settings: Settings) -> Path:
    return settings.airflow_home / "admin-password.json"


def admin_password(settings: Settings) -> str:
    """The Airflow admin password, generated on the first start of the stack."""
    path = admin_password_file(settings)
    _secret_file(path, lambda: json.dumps({ADMIN_USER: secrets.token_urlsafe(18)}))
    return json.loads(path.read_text())[ADMIN_USER]


def pseudonym_key(settings: Settings) -> str:
    """The HMAC key for pseudonymisation: from the settings, else generated once per stack."""
    if settings.pseudonym_key:
        return settings.pseudonym_key
    return _secret_file(settings.state_dir / "pseudonym.key", lambda: secrets.token_hex(32))


def connections(settings: Settings) -> dict[str, str]:
    """Airflow connections as AIRFLOW_CONN_* values (JSON form)."""
    spark = {
        "conn_type": "spark",
        "host": settings.spark_master,
        "extra": {"spark-binary": "spark-submit", "deploy-mode": "client"},
    }
    hive = {
        "conn_type": "hiveserver2",
        "host": settings.hiveserver2_host,
        "port": settings.thrift_port,
        "schema": "adtech",
    }
    kafka = {
        "conn_type": "kafka",
        "extra": {"bootstrap.servers": settings.kafka_bootstrap},
    }
    return {
        "AIRFLOW_CONN_SPARK_DEFAULT": json.dumps(spark),
        "AIRFLOW_CONN_HIVESERVER2_DEFAULT": json.dumps(hive),
        "AIRFLOW_CONN_KAFKA_DEFAULT": json.dumps(kafka),
    }


def airflow_env(settings: Settings) -> dict[str, str]:
    home = settings.airflow_home
    home.mkdir(parents=True, exist_ok=True)
    admin_password(settings)
    secret = lambda name: _secret_file(home / name, lambda: secrets.token_urlsafe(32))  # noqa: E731
    api = f"http://{settings.host}:{settings.airflow_port}"
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        # Two cores: a few task processes at a time; Spark tasks are further limited by a pool.
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__API__HOST": settings.bind_host,
        "AIRFLOW__API__PORT": str(settings.airflow_port),
        "AIRFLOW__API__BASE_URL": api,
        "AIRFLOW__API__SECRET_KEY": secret("api-secret-key"),
        "AIRFLOW__API_AUTH__JWT_SECRET": secret("jwt-secret"),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(admin_password_file(settings)),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(settings.logs_dir / "airflow"),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": settings.bind_host,
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(
            settings.airflow_scheduler_health_port
        ),
        # The pipeline's jobs read the same settings as the stack that runs them.
        **settings.as_env(),
        "ADPLATFORM_PSEUDONYM_KEY": pseudonym_key(settings),
        "PYTHONPATH": str(REPO_ROOT),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        **connections(settings),
        # The drivers of the Spark tasks bind their UI where spark_env says.
        **spark_env(settings),
    }
    # spark-submit reads SPARK_CONF_DIR: the platform's Spark settings apply to every job
    # Airflow starts without repeating them in each operator.
    env["SPARK_CONF_DIR"] = str(write_spark_defaults(settings))
    return env


def write_spark_defaults(settings: Settings) -> Path:
    conf_dir = settings.state_dir / "spark-conf"
    conf_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"{k} {v}" for k, v in batch_job_conf(settings).items()]
    (conf_dir / "spark-defaults.conf").write_text("\n".join(lines) + "\n")
    return conf_dir


def _airflow() -> str:
    return str(Path(sys.executable).parent / "airflow")


def _health(settings: Settings) -> dict:
    try:
        response = requests.get(f"{settings.airflow_url}/api/v2/monitor/health", timeout=3)
        return response.json() if response.status_code == 200 else {}
    except (requests.RequestException, ValueError):
        return {}


class AirflowApiServer(Service):
    name = "airflow-api-server"
    port_fields = ("airflow_port",)

    def url(self, settings: Settings) -> str:
        return settings.airflow_url

    def prepare(self, settings: Settings) -> None:
        env = {**os.environ, **airflow_env(settings)}
        run_setup_step([_airflow(), "db", "migrate"], "migrating Airflow's database", env)

    def command(self, settings: Settings) -> list[str]:
        return [
            _airflow(),
            "api-server",
            "--host",
            settings.bind_host,
            "--port",
            str(settings.airflow_port),
        ]

    def after_start(self, settings: Settings) -> None:
        """Create the platform's pools: Airflow runs no task whose pool does not exist."""
        from adplatform.orchestration.pools import pool_commands

        env = {**os.environ, **airflow_env(settings)}
        for argv in pool_commands(_airflow()):
            run_setup_step(argv, f"creating the Airflow pool {argv[3]}", env)

    def env(self, settings: Settings) -> dict[str, str]:
        return airflow_env(settings)

    def healthy(self, settings: Settings) -> bool:
        return _health(settings).get("metadatabase", {}).get("status") == "healthy"


class _AirflowComponent(Service):
    """A component that reports its heartbeat through the api-server's health endpoint."""

    subcommand: str = ""
    health_key: str = ""
    requires = ("airflow-api-server",)
    # Extra arguments of the subcommand.
    options: tuple[str, ...] = ()

    def url(self, settings: Settings) -> str:
        return f"{settings.airflow_url}/api/v2/monitor/health"

    def port(self, settings: Settings) -> int | None:
        return None

    def command(self, settings: Settings) -> list[str]:
        return [_airflow(), self.subcommand, *self.options]

    def env(self, settings: Settings) -> dict[str, str]:
        return airflow_env(settings)

    def healthy(self, settings: Settings) -> bool:
        return _health(settings).get(self.health_key, {}).get("status") == "healthy"


# Airflow's log servers (worker 8793, triggerer 8794) listen on every interface: Airflow 3
# has no setting for their address (airflow/utils/serve_logs/core.py binds host ""). They
# are not started: every component writes its task logs into the stack's one log folder,
# which the api-server reads directly.
SKIP_SERVE_LOGS = ("--skip-serve-logs",)


class AirflowScheduler(_AirflowComponent):
    name = "airflow-scheduler"
    subcommand = "scheduler"
    health_key = "scheduler"
    options = SKIP_SERVE_LOGS
    port_fields = ("airflow_scheduler_health_port",)


class AirflowDagProcessor(_AirflowComponent):
    name = "airflow-dag-processor"
    subcommand = "dag-processor"
    health_key = "dag_processor"


class AirflowTriggerer(_AirflowComponent):
    name = "airflow-triggerer"
    subcommand = "triggerer"
    health_key = "triggerer"
    options = SKIP_SERVE_LOGS
