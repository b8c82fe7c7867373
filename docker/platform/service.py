"""Entry point of the platform image's services in docker-compose.

Every long-running JVM service of the image (Hive metastore, Spark master and worker, Spark
Thrift Server) is started from the same ``adplatform.settings`` the embedded stack and the
jobs read, so a host name or port is written once, in the ``ADPLATFORM_*`` variables of
docker-compose.yml. Sub-commands:

    service.py generate-env [--from .env.example]   print a .env with fresh secrets
    service.py check-env                            refuse placeholders and weak secrets
    service.py run {metastore,spark-master,spark-worker,thrift}
    service.py health {metastore,spark-master,spark-worker,thrift}

``generate-env`` and ``check-env`` need only the standard library, so they also run on the
host before any image exists.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import secrets
import socket
import sys
import tempfile
import urllib.request
from pathlib import Path
from xml.sax.saxutils import escape

# Kinds of secret: how `generate-env` makes a fresh one.
TOKEN = "token"
FERNET = "fernet"
# Variables of .env.example that hold secrets: each must be set, free of placeholders, and
# long enough.
SECRETS = {
    "AIRFLOW_DB_PASSWORD": TOKEN,
    "METASTORE_DB_PASSWORD": TOKEN,
    "KAFKA_ADMIN_PASSWORD": TOKEN,
    "KAFKA_CLIENT_PASSWORD": TOKEN,
    "GRAFANA_ADMIN_PASSWORD": TOKEN,
    "AIRFLOW_FERNET_KEY": FERNET,
    "AIRFLOW_JWT_SECRET": TOKEN,
    "AIRFLOW_API_SECRET_KEY": TOKEN,
    "ADPLATFORM_PSEUDONYM_KEY": TOKEN,
}
MIN_SECRET_LENGTH = 16
# Values that say "fill me in" or that are well-known defaults; matched case-insensitively
# as whole values or inside them.
PLACEHOLDER = re.compile(
    r"change[-_ ]?me|changeit|replace[-_ ]?me|placeholder|example|secret|password|"
    r"^admin$|^airflow$|^hive$|^postgres$|^kafka$|^grafana$|^x+$",
    re.IGNORECASE,
)
# Characters a generated secret uses; Kafka's JAAS lines and the JDBC URLs quote nothing,
# so secrets stay within this set.
SAFE_SECRET = re.compile(r"^[A-Za-z0-9_=-]+$")

PYSPARK_THRIFT_CLASS = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"


class ServiceError(Exception):
    """A configuration problem, reported as one line."""


# ---------------------------------------------------------------------------------------
# .env: generation and checks


def new_secret(kind: str) -> str:
    if kind == FERNET:
        # Airflow's Fernet key: url-safe base64 of 32 random bytes.
        return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    return secrets.token_urlsafe(32)


def secret_problem(name: str, value: str | None) -> str | None:
    """Why a secret's value is not acceptable, or None when it is."""
    if not value:
        return f"{name} is not set"
    if PLACEHOLDER.search(value):
        return f"{name} is a placeholder or a well-known default"
    if len(value) < MIN_SECRET_LENGTH:
        return f"{name} is shorter than {MIN_SECRET_LENGTH} characters"
    if not SAFE_SECRET.match(value):
        return f"{name} may only use letters, digits and _ = -"
    if SECRETS.get(name) == FERNET:
        try:
            if len(base64.urlsafe_b64decode(value.encode())) != 32:
                raise ValueError
        except ValueError:
            return f"{name} is not a Fernet key (url-safe base64 of 32 bytes)"
    return None


def check_env(environ: dict[str, str]) -> list[str]:
    """Every problem of the secrets in ``environ``; empty when the stack may start."""
    return [p for name in SECRETS if (p := secret_problem(name, environ.get(name)))]


def generate_env(template: str) -> str:
    """``template`` (.env.example text) with every secret replaced by a fresh value."""
    out = []
    for line in template.splitlines():
        name, sep, _ = line.partition("=")
        if sep and not line.lstrip().startswith("#") and name.strip() in SECRETS:
            line = f"{name.strip()}={new_secret(SECRETS[name.strip()])}"
        out.append(line)
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------
# Services


def _settings():
    from adplatform.settings import load

    return load()


def _spark_bin(name: str) -> str:
    from pyspark.find_spark_home import _find_spark_home

    return str(Path(_find_spark_home()) / "bin" / name)


def _site_xml(properties: dict[str, str]) -> str:
    rows = "".join(
        f"  <property><name>{escape(k)}</name><value>{escape(v)}</value></property>\n"
        for k, v in properties.items()
    )
    return f'<?xml version="1.0"?>\n<configuration>\n{rows}</configuration>\n'


def _private_conf_dir(files: dict[str, str]) -> str:
    """A folder only this user can read, holding the given configuration files."""
    folder = tempfile.mkdtemp(prefix="adplatform-conf-")
    for name, text in files.items():
        path = Path(folder) / name
        path.touch(mode=0o600)
        path.write_text(text)
    return folder


def _require(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ServiceError(f"{name} is not set; docker-compose.yml passes it from .env")
    return value


def metastore_command(settings) -> tuple[list[str], dict[str, str]]:
    """Hive metastore 2.3 (the jars inside pyspark, as in the embedded stack) on Postgres."""
    db_url = _require("METASTORE_DB_URL")
    hive_site = {
        "javax.jdo.option.ConnectionURL": db_url,
        "javax.jdo.option.ConnectionDriverName": os.environ.get(
            "METASTORE_DB_DRIVER", "org.postgresql.Driver"
        ),
        "javax.jdo.option.ConnectionUserName": _require("METASTORE_DB_USER"),
        "javax.jdo.option.ConnectionPassword": _require("METASTORE_DB_PASSWORD"),
        # The schema is created on first start; Postgres keeps it across restarts.
        "datanucleus.schema.autoCreateAll": "true",
        "hive.metastore.schema.verification": "false",
        "datanucleus.connectionPoolingType": "HikariCP",
        "hive.metastore.warehouse.dir": settings.warehouse_uri,
        "hive.metastore.port": str(settings.metastore_port),
        # Hive's async logging needs the LMAX disruptor, which pyspark does not ship.
        "hive.async.log.enabled": "false",
    }
    core_site = {"fs.defaultFS": settings.hdfs_uri}
    conf_dir = _private_conf_dir(
        {"hive-site.xml": _site_xml(hive_site), "core-site.xml": _site_xml(core_site)}
    )
    env = {
        "HADOOP_CONF_DIR": conf_dir,
        "SPARK_DIST_CLASSPATH": f"{settings.jars_dir}/metastore/*",
        "SPARK_DRIVER_MEMORY": f"{settings.service_heap_mb}m",
    }
    cmd = [
        _spark_bin("spark-class"),
        "org.apache.hadoop.hive.metastore.HiveMetaStore",
        "-p",
        str(settings.metastore_port),
    ]
    return cmd, env


def spark_master_command(settings) -> tuple[list[str], dict[str, str]]:
    host, port = _master_host_port(settings)
    cmd = [
        _spark_bin("spark-class"),
        "org.apache.spark.deploy.master.Master",
        "--host",
        host,
        "--port",
        str(port),
        "--webui-port",
        os.environ.get("SPARK_MASTER_WEBUI_PORT", "8080"),
    ]
    return cmd, {"SPARK_DAEMON_MEMORY": f"{settings.service_heap_mb}m"}


def spark_worker_command(settings) -> tuple[list[str], dict[str, str]]:
    cmd = [
        _spark_bin("spark-class"),
        "org.apache.spark.deploy.worker.Worker",
        "--cores",
        _require("SPARK_WORKER_CORES"),
        "--memory",
        _require("SPARK_WORKER_MEMORY"),
        "--webui-port",
        os.environ.get("SPARK_WORKER_WEBUI_PORT", "8081"),
        settings.spark_master,
    ]
    return cmd, {"SPARK_DAEMON_MEMORY": "256m"}


def thrift_command(settings) -> tuple[list[str], dict[str, str]]:
    """Spark Thrift Server (HiveServer2 protocol) on the shared metastore."""
    # Analysts' queries run in this container (THRIFT_SPARK_MASTER, local[*] by default) so
    # that they never hold the worker cores the DAGs' jobs wait for.
    master = os.environ.get("THRIFT_SPARK_MASTER") or settings.spark_master
    conf = {
        "spark.sql.catalogImplementation": "hive",
        "spark.hadoop.hive.metastore.uris": settings.metastore_uri,
        "spark.hadoop.fs.defaultFS": settings.hdfs_uri,
        "spark.sql.warehouse.dir": settings.warehouse_uri,
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.port": str(settings.thrift_ui_port),
    }
    cmd = [_spark_bin("spark-submit"), "--master", master, "--class", PYSPARK_THRIFT_CLASS]
    cmd += ["--driver-memory", f"{settings.service_heap_mb}m"]
    for key, value in conf.items():
        cmd += ["--conf", f"{key}={value}"]
    cmd += [
        "--hiveconf",
        f"hive.server2.thrift.port={settings.thrift_port}",
        "--hiveconf",
        "hive.server2.thrift.bind.host=0.0.0.0",
        "spark-internal",
    ]
    return cmd, {}


def _master_host_port(settings) -> tuple[str, int]:
    match = re.fullmatch(r"spark://([^:/]+):(\d+)", settings.spark_master)
    if not match:
        raise ServiceError(
            f"ADPLATFORM_SPARK_MASTER={settings.spark_master!r} is not spark://HOST:PORT"
        )
    return match.group(1), int(match.group(2))


COMMANDS = {
    "metastore": metastore_command,
    "spark-master": spark_master_command,
    "spark-worker": spark_worker_command,
    "thrift": thrift_command,
}


def run(service: str) -> None:
    cmd, env = COMMANDS[service](_settings())
    print(f"service.py: starting {service}: {' '.join(cmd)}", flush=True)
    os.execvpe(cmd[0], cmd, {**os.environ, **env})


# ---------------------------------------------------------------------------------------
# Health checks (docker-compose `healthcheck:`), exit 0 when healthy


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False


def _http_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def health(service: str) -> bool:
    settings = _settings()
    if service == "metastore":
        # The metastore opens its port only once its schema is ready.
        return _port_open("127.0.0.1", settings.metastore_port)
    if service == "spark-master":
        port = os.environ.get("SPARK_MASTER_WEBUI_PORT", "8080")
        return _http_json(f"http://127.0.0.1:{port}/json/").get("status") == "ALIVE"
    if service == "spark-worker":
        port = os.environ.get("SPARK_WORKER_WEBUI_PORT", "8081")
        # Registered with the master: the worker's page then names its master.
        return bool(_http_json(f"http://127.0.0.1:{port}/json/").get("masterurl"))
    if service == "thrift":
        # A real query, not an open port: the Thrift Server listens before its session
        # to the metastore works, the classic start-up race of such stacks.
        from pyhive import hive

        with hive.connect("127.0.0.1", port=settings.thrift_port, username="healthcheck") as c:
            cursor = c.cursor()
            cursor.execute("SELECT 1")
            return cursor.fetchall() == [(1,)]
    raise ServiceError(f"no health check for {service!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate-env", help="print a .env with fresh secrets")
    gen.add_argument("--from", dest="template", default=".env.example")
    sub.add_parser("check-env", help="refuse placeholders and weak secrets")
    for name in ("run", "health"):
        sub.add_parser(name).add_argument("service", choices=sorted(COMMANDS))
    args = parser.parse_args(argv)
    try:
        if args.command == "generate-env":
            sys.stdout.write(generate_env(Path(args.template).read_text()))
            return 0
        if args.command == "check-env":
            problems = check_env(dict(os.environ))
            for problem in problems:
                print(
                    f"check-env: {problem}; run `python3 docker/platform/service.py "
                    "generate-env > .env` or set it in .env",
                    file=sys.stderr,
                )
            if not problems:
                print("check-env: every secret is set and none is a placeholder")
            return 1 if problems else 0
        if args.command == "run":
            run(args.service)
        return 0 if health(args.service) else 1
    except ServiceError as exc:
        print(f"service.py: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a health check that cannot connect is simply unhealthy
        if args.command == "health":
            print(f"unhealthy: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
