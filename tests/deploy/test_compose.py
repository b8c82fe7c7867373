"""docker-compose.yml: valid, pinned, healthy in order, within a laptop's memory, and wired to
the same settings module as the embedded stack."""

from __future__ import annotations

import ast
import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from adplatform import contracts, settings
from tests.deploy import compose_file as cf

SERVICES = cf.compose().services
LONG_RUNNING = sorted(n for n, s in SERVICES.items() if not cf.is_one_shot(s))
ONE_SHOTS = sorted(n for n, s in SERVICES.items() if cf.is_one_shot(s))
PLATFORM_IMAGE = "adplatform/platform:"
# 16 GB laptop: the containers' limits together stay under 12 GiB, leaving 4 GiB to the
# host (and to Docker Desktop's VM where there is one). docs/cluster.md states the sum.
MEMORY_BUDGET = 12 * 1024**3
MONITORING_PATHS = [
    "monitoring/prometheus/prometheus.yml",
    "monitoring/prometheus/rules",
    "monitoring/alertmanager/alertmanager.yml",
    "monitoring/grafana/provisioning",
    "monitoring/grafana/dashboards",
]


def _docker_compose() -> str:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail(
            "docker-compose is not installed: `apt-get install --no-install-recommends "
            "docker-compose` (Debian's python docker-compose v1, validation only)"
        )
    return binary


def _compose_config(env_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_docker_compose(), "--env-file", str(env_file), "-f", str(cf.COMPOSE_FILE), "config"],
        capture_output=True,
        text=True,
        cwd=cf.REPO,
        timeout=120,
    )


# ---- the file as docker-compose reads it -------------------------------------------------


def test_docker_compose_config_accepts_the_file_with_env_example(tmp_path):
    env_file = tmp_path / "env"
    shutil.copy(cf.ENV_EXAMPLE, env_file)
    result = _compose_config(env_file)
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert set(resolved["services"]) == set(SERVICES)


def test_docker_compose_config_refuses_an_env_without_a_secret(tmp_path):
    env_file = tmp_path / "env"
    lines = cf.ENV_EXAMPLE.read_text().splitlines()
    env_file.write_text("\n".join(x for x in lines if not x.startswith("KAFKA_CLIENT_PASSWORD=")))
    result = _compose_config(env_file)
    assert result.returncode != 0
    assert "KAFKA_CLIENT_PASSWORD" in result.stderr


def test_env_example_lists_every_variable_the_file_uses_and_no_other():
    used = cf.variables_used(cf.COMPOSE_FILE.read_text())
    listed = set(cf.read_env_file(cf.ENV_EXAMPLE))
    assert used - listed == set(), "variables missing from .env.example"
    assert listed - used == set(), "variables in .env.example that docker-compose.yml ignores"


# ---- mounts, ports, images, volumes --------------------------------------------------------


@pytest.mark.parametrize(
    "service,source",
    [(n, src) for n, s in SERVICES.items() for src, _ in cf.bind_mounts(s)],
)
def test_every_file_a_service_mounts_from_the_repo_exists(service, source):
    path = (cf.REPO / source).resolve()
    assert path.is_relative_to(cf.REPO), f"{service} mounts {source}, outside the repository"
    assert path.exists(), f"{service} mounts {source}, which does not exist"


def test_monitoring_configs_are_mounted_where_their_services_read_them():
    mounted = {src.removeprefix("./") for s in SERVICES.values() for src, _ in cf.bind_mounts(s)}
    assert set(MONITORING_PATHS) <= mounted
    # The Grafana provider loads dashboards from the folder the dashboards are mounted at.
    provider = yaml.safe_load(
        (cf.REPO / "monitoring/grafana/provisioning/dashboards/provider.yml").read_text()
    )
    paths = {p["options"]["path"] for p in provider["providers"]}
    targets = {t for src, t in cf.bind_mounts(SERVICES["grafana"]) if "dashboards" in src}
    assert paths <= targets


def test_no_two_services_publish_the_same_host_port():
    seen: dict[int, str] = {}
    for name, service in SERVICES.items():
        for _, host_port, _ in cf.published_ports(service):
            assert host_port not in seen, f"{name} and {seen[host_port]} both publish {host_port}"
            seen[host_port] = name
    assert seen, "nothing is published"


def test_published_ports_listen_on_the_loopback_only():
    for name, service in SERVICES.items():
        for ip, host_port, _ in cf.published_ports(service):
            assert ip == "127.0.0.1", f"{name} publishes {host_port} on {ip}"


def _pinned(image: str) -> bool:
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag not in ("", "latest") and "@" not in name


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_image_has_a_pinned_tag(service):
    image = SERVICES[service].get("image", "")
    assert _pinned(image), f"{service}: image {image!r} has no pinned tag"


def _dockerfiles() -> list[Path]:
    files = set()
    for service in SERVICES.values():
        build = service.get("build")
        if build:
            files.add(
                (cf.REPO / build["context"] / build.get("dockerfile", "Dockerfile")).resolve()
            )
    return sorted(files)


@pytest.mark.parametrize("dockerfile", _dockerfiles(), ids=lambda p: str(p.relative_to(cf.REPO)))
def test_every_base_image_of_a_built_image_is_pinned(dockerfile):
    bases = re.findall(r"^FROM\s+(\S+)", dockerfile.read_text(), flags=re.MULTILINE)
    assert bases
    for base in bases:
        assert _pinned(base), f"{dockerfile.name}: FROM {base} is not pinned"


def test_every_built_image_is_tagged_and_built_once():
    built = [s["image"] for s in SERVICES.values() if s.get("build")]
    assert len(built) == len(set(built))
    used = {s["image"] for s in SERVICES.values()}
    assert set(built) <= used


def test_state_lives_in_declared_named_volumes():
    declared = cf.compose().named_volumes
    mounted = {v for s in SERVICES.values() for v in cf.named_mounts(s)}
    assert mounted == declared, "undeclared or unused named volumes"
    for name in ("kafka-data", "namenode-data", "datanode-data", "metastore-db-data"):
        assert name in declared


# ---- health and start order ----------------------------------------------------------------


@pytest.mark.parametrize("service", LONG_RUNNING)
def test_every_long_running_service_has_a_healthcheck(service):
    check = SERVICES[service].get("healthcheck") or {}
    assert check.get("test"), f"{service} has no healthcheck"
    assert not check.get("disable")


def test_one_shot_jobs_are_awaited_until_they_complete():
    """One-shots exit when done, so a health check means nothing for them; every service
    that needs one waits for its successful completion instead."""
    assert set(ONE_SHOTS) >= {"check-env", "kafka-init", "hdfs-init", "airflow-init"}
    for name, service in SERVICES.items():
        for dep, condition in cf.depends_on(service).items():
            if dep in ONE_SHOTS:
                assert condition == "service_completed_successfully", (name, dep)
            else:
                assert condition == "service_healthy", (name, dep, condition)


def _ancestors(name: str) -> set[str]:
    seen: set[str] = set()
    todo = list(cf.depends_on(SERVICES[name]))
    while todo:
        dep = todo.pop()
        if dep not in seen:
            seen.add(dep)
            todo.extend(cf.depends_on(SERVICES[dep]))
    return seen


def test_dependencies_exist_and_have_no_cycle():
    for name in SERVICES:
        assert set(cf.depends_on(SERVICES[name])) <= set(SERVICES), name
        assert name not in _ancestors(name), f"{name} depends on itself"


@pytest.mark.parametrize(
    "service,needs",
    [
        ("spark-thrift", "hive-metastore"),
        ("hive-metastore", "metastore-db"),
        ("hive-metastore", "hdfs-init"),
        ("airflow-scheduler", "spark-thrift"),
        ("airflow-scheduler", "spark-worker"),
        ("airflow-apiserver", "airflow-init"),
        ("kafka-connect", "schema-registry"),
        ("kafka-connect", "hdfs-init"),
        ("connect-register", "kafka-connect"),
        ("simulator", "fluentd"),
        ("grafana", "prometheus"),
    ],
)
def test_start_order(service, needs):
    assert needs in _ancestors(service)


@pytest.mark.parametrize("service", sorted(set(SERVICES) - {"check-env"}))
def test_nothing_starts_before_the_secrets_check(service):
    assert "check-env" in _ancestors(service)


# ---- memory ----------------------------------------------------------------------------------


def test_memory_limits_fit_a_16_gb_laptop():
    limits = {n: cf.memory_bytes(s.get("mem_limit", "0")) for n, s in SERVICES.items()}
    assert all(limits.values()), [n for n, v in limits.items() if not v]
    total = sum(limits.values())
    assert total <= MEMORY_BUDGET, f"{total / 1024**3:.2f} GiB of limits"
    stated = f"{total / 1024**3:.1f} GiB"
    assert stated in cf.COMPOSE_FILE.read_text()
    assert stated in (cf.REPO / "docs" / "cluster.md").read_text()


# ---- one settings module ------------------------------------------------------------------


def _settings_fields() -> set[str]:
    """Field names of the Settings dataclass, read from the source itself."""
    tree = ast.parse(Path(settings.__file__).read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Settings")
    names = {n.target.id for n in cls.body if isinstance(n, ast.AnnAssign)}
    assert names == {f.name for f in dataclasses.fields(settings.Settings)}
    return names


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_adplatform_variables_are_fields_of_the_settings_module(service):
    fields = _settings_fields()
    env = cf.environment(SERVICES[service])
    for name in env:
        if name.startswith(settings.ENV_PREFIX):
            field = name.removeprefix(settings.ENV_PREFIX).lower()
            assert field in fields, f"{service}: {name} is not a field of Settings"
    # And the values are ones the settings module accepts (types, whole numbers ...).
    settings.load({k: v for k, v in env.items() if k.startswith(settings.ENV_PREFIX)})


def test_platform_services_reach_every_service_by_its_compose_name():
    for name, service in SERVICES.items():
        if not service["image"].startswith(PLATFORM_IMAGE) or name == "check-env":
            continue
        env = cf.environment(service)
        if "ADPLATFORM_KAFKA_HOST" not in env:
            continue
        s = settings.load(env)
        hosts = {
            s.kafka_bootstrap.rsplit(":", 1)[0],
            s.hdfs_uri.split("//")[1].split(":")[0],
            s.metastore_uri.split("//")[1].split(":")[0],
            s.hiveserver2_host,
            s.pushgateway_url.split("//")[1].split(":")[0],
            s.spark_master.split("//")[1].split(":")[0],
            s.schema_registry_url.split("//")[1].split(":")[0],
        }
        assert hosts <= set(SERVICES), f"{name}: {hosts - set(SERVICES)} are not services"
        assert s.kafka_security_protocol == "SASL_PLAINTEXT"
        assert s.kafka_sasl_mechanism == "SCRAM-SHA-512"
        assert s.kafka_sasl_username and s.kafka_sasl_password
        assert s.pseudonym_key


def test_kafka_init_creates_the_contract_topics_and_the_connectors_dead_letter_topics():
    topics = cf.environment(SERVICES["kafka-init"])["KAFKA_TOPICS"].split()
    names = {spec.split(":")[0] for spec in topics}
    assert {contracts.TOPIC_AD_IMPRESSIONS, contracts.TOPIC_BID_REQUESTS} <= names
    import json

    for path in sorted((cf.REPO / "connectors").glob("*.json")):
        assert json.loads(path.read_text())["errors.deadletterqueue.topic.name"] in names


# ---- security of the stack ------------------------------------------------------------------


def test_airflow_requires_a_login_and_has_no_default_password():
    for name, service in SERVICES.items():
        env = cf.environment(service)
        if not any(k.startswith("AIRFLOW__") for k in env):
            continue
        assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "False", name
        assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith("SimpleAuthManager"), name
        # Passwords are generated on first start, never configured.
        assert not [k for k in env if k.endswith("PASSWORD") and "AIRFLOW" in k], name
        assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"].startswith(
            "/opt/airflow/auth/"
        )
    mounts = SERVICES["airflow-apiserver"]["volumes"]
    assert any(str(v).startswith("airflow-auth:/opt/airflow/auth") for v in mounts)


def test_grafana_admin_password_comes_from_the_environment():
    raw = cf.COMPOSE_FILE.read_text()
    assert "GF_SECURITY_ADMIN_PASSWORD: ${GRAFANA_ADMIN_PASSWORD:?" in raw
    env = cf.environment(SERVICES["grafana"])
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"


def test_every_secret_is_required_and_checked_before_start():
    from tests.deploy.test_service import service_module

    raw = cf.COMPOSE_FILE.read_text()
    check_env = cf.environment(SERVICES["check-env"])
    for name in service_module().SECRETS:
        assert f"${{{name}:?" in raw, f"{name} may be left unset"
        assert name in check_env, f"check-env does not check {name}"


def test_kafka_listeners_all_require_scram():
    entrypoint = (cf.REPO / "docker/kafka/entrypoint.sh").read_text()
    protocol_map = re.search(r"^listener\.security\.protocol\.map=(.*)$", entrypoint, re.M)
    listeners = dict(item.split(":") for item in protocol_map.group(1).split(","))
    # Only the controller listener, bound to localhost inside the container, is plain.
    assert listeners.pop("CONTROLLER") == "PLAINTEXT"
    assert "CONTROLLER://localhost:" in entrypoint
    assert set(listeners.values()) == {"SASL_PLAINTEXT"}
    assert "sasl.enabled.mechanisms=SCRAM-SHA-512" in entrypoint


@pytest.mark.parametrize(
    "service",
    sorted(n for n, s in SERVICES.items() if (s.get("command") or [None])[0] == "adplatform"),
)
def test_adplatform_commands_are_commands_of_the_cli(service):
    from adplatform.cli import build_parser

    args = build_parser().parse_args(SERVICES[service]["command"][1:])
    assert callable(args.func)
