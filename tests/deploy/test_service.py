"""docker/platform/service.py: the start gate on secrets and the service command lines."""

from __future__ import annotations

import importlib.util
from functools import cache

import pytest

from adplatform import settings
from tests.deploy import compose_file as cf

SERVICE_PY = cf.REPO / "docker" / "platform" / "service.py"


@cache
def service_module():
    spec = importlib.util.spec_from_file_location("compose_service", SERVICE_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_env_example_itself_is_refused():
    problems = service_module().check_env(cf.read_env_file(cf.ENV_EXAMPLE))
    assert len(problems) == len(service_module().SECRETS)
    assert all("placeholder" in p for p in problems)


def test_generated_env_is_accepted_and_differs_each_time():
    svc = service_module()
    first = cf.read_env_file_text(svc.generate_env(cf.ENV_EXAMPLE.read_text()))
    second = cf.read_env_file_text(svc.generate_env(cf.ENV_EXAMPLE.read_text()))
    assert svc.check_env(first) == []
    for name in svc.SECRETS:
        assert first[name] != second[name]
    # Everything that is not a secret is kept as in the example.
    example = cf.read_env_file(cf.ENV_EXAMPLE)
    assert {k: v for k, v in first.items() if k not in svc.SECRETS} == {
        k: v for k, v in example.items() if k not in svc.SECRETS
    }


@pytest.mark.parametrize(
    "value,why",
    [
        ("", "not set"),
        ("change-me", "placeholder"),
        ("CHANGEME-please-0123456789", "placeholder"),
        ("airflow", "placeholder"),
        ("admin", "placeholder"),
        ("Sh0rt-but-real", "shorter"),
        ("has spaces in it 0123456789", "only use"),
        ('quote"breaks-jaas-0123456789', "only use"),
    ],
)
def test_weak_or_placeholder_secrets_are_refused(value, why):
    assert why in service_module().secret_problem("KAFKA_CLIENT_PASSWORD", value)


def test_fernet_key_must_be_a_fernet_key():
    svc = service_module()
    assert "Fernet" in svc.secret_problem("AIRFLOW_FERNET_KEY", "A" * 40)
    assert svc.secret_problem("AIRFLOW_FERNET_KEY", svc.new_secret(svc.FERNET)) is None


def _compose_settings(service: str) -> settings.Settings:
    env = cf.environment(cf.compose().services[service])
    return settings.load({k: v for k, v in env.items() if k.startswith("ADPLATFORM_")})


def test_metastore_command_uses_postgres_and_the_settings(monkeypatch, tmp_path):
    svc = service_module()
    monkeypatch.setenv("METASTORE_DB_URL", "jdbc:postgresql://metastore-db:5432/metastore")
    monkeypatch.setenv("METASTORE_DB_USER", "hive")
    monkeypatch.setenv("METASTORE_DB_PASSWORD", "s3cret-value-for-test")
    monkeypatch.setattr(svc.tempfile, "mkdtemp", lambda prefix: str(tmp_path))
    cmd, env = svc.metastore_command(_compose_settings("hive-metastore"))
    assert cmd[-3:] == ["org.apache.hadoop.hive.metastore.HiveMetaStore", "-p", "9083"]
    site = (tmp_path / "hive-site.xml").read_text()
    assert "jdbc:postgresql://metastore-db:5432/metastore" in site
    assert "hdfs://namenode:8020/adtech/warehouse" in site
    # The password stays in a file only this user can read, not on the command line.
    assert "s3cret-value-for-test" not in " ".join(cmd)
    assert (tmp_path / "hive-site.xml").stat().st_mode & 0o077 == 0
    assert env["SPARK_DRIVER_MEMORY"] == "384m"


def test_thrift_command_points_at_the_shared_metastore_and_warehouse(monkeypatch):
    svc = service_module()
    monkeypatch.setenv("THRIFT_SPARK_MASTER", "local[2]")
    cmd, _ = svc.thrift_command(_compose_settings("spark-thrift"))
    joined = " ".join(cmd)
    assert "--master local[2]" in joined
    assert "spark.hadoop.hive.metastore.uris=thrift://hive-metastore:9083" in joined
    assert "spark.sql.warehouse.dir=hdfs://namenode:8020/adtech/warehouse" in joined
    assert "hive.server2.thrift.port=10000" in joined


def test_spark_master_binds_the_host_of_the_master_url():
    cmd, _ = service_module().spark_master_command(_compose_settings("spark-master"))
    assert cmd[cmd.index("--host") + 1] == "spark-master"
    assert cmd[cmd.index("--port") + 1] == "7077"
