"""Airflow 3 on the embedded stack: generated admin login and connections from the settings."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest
import requests

from adplatform.stack.airflow import admin_password_file, airflow_env

pytestmark = pytest.mark.stack


def _token(settings, password: str) -> requests.Response:
    return requests.post(
        f"{settings.airflow_url}/auth/token",
        json={"username": "admin", "password": password},
        timeout=10,
    )


def test_admin_password_is_generated_private_and_the_only_one_accepted(airflow_settings):
    path = admin_password_file(airflow_settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    password = json.loads(path.read_text())["admin"]
    assert len(password) >= 20

    assert _token(airflow_settings, password).status_code in (200, 201)
    for guess in ("admin", "airflow", "password"):
        assert _token(airflow_settings, guess).status_code == 401


def test_connections_follow_the_stack_settings(airflow_settings):
    env = {**os.environ, **airflow_env(airflow_settings)}
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")

    def get(conn_id: str) -> dict:
        out = subprocess.run(
            [airflow, "connections", "get", conn_id, "-o", "json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
        return json.loads(out)[0]

    spark = get("spark_default")
    assert spark["conn_type"] == "spark"
    assert spark["host"] == airflow_settings.spark_master
    hive = get("hiveserver2_default")
    assert (hive["host"], int(hive["port"])) == (
        airflow_settings.host,
        airflow_settings.thrift_port,
    )
    kafka = get("kafka_default")
    assert kafka["extra_dejson"]["bootstrap.servers"] == airflow_settings.kafka_bootstrap
