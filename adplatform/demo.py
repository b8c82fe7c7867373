"""`adplatform demo`: bring the embedded stack up and show that it answers.

It starts every service, runs a smoke query through the HiveServer2 endpoint and prints
where everything is: the Airflow UI (and the file with its admin password), Prometheus,
Alertmanager, the HDFS and Spark UIs.
"""

from __future__ import annotations

import argparse

from adplatform import settings as settings_module
from adplatform.errors import UserError
from adplatform.settings import Settings
from adplatform.stack import manager
from adplatform.stack.airflow import ADMIN_USER, admin_password_file


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="start the stack and run the demo")
    parser.set_defaults(func=run)


def smoke_query(settings: Settings) -> list[tuple]:
    from pyhive import hive

    conn = hive.connect(host=settings.hiveserver2_host, port=settings.thrift_port, username="demo")
    try:
        cursor = conn.cursor()
        cursor.execute("SHOW DATABASES")
        return cursor.fetchall()
    finally:
        conn.close()


def urls(settings: Settings) -> list[tuple[str, str]]:
    host = settings.host
    return [
        (
            "Airflow UI",
            f"{settings.airflow_url}  (user {ADMIN_USER}, password in "
            f"{admin_password_file(settings)})",
        ),
        ("HiveServer2 (beeline)", f"beeline -u jdbc:hive2://{host}:{settings.thrift_port}/default"),
        ("Spark UI (Thrift Server)", f"http://{host}:{settings.thrift_ui_port}"),
        ("HDFS NameNode UI", f"http://{host}:{settings.hdfs_namenode_http_port}"),
        ("Prometheus", settings.prometheus_url),
        ("Alertmanager", settings.alertmanager_url),
        ("Pushgateway", settings.pushgateway_url),
        ("Kafka bootstrap", settings.kafka_bootstrap),
    ]


def run(args: argparse.Namespace) -> int:
    settings = settings_module.load()
    manager.up(settings)
    databases = smoke_query(settings)
    if not databases:
        raise UserError(
            "the HiveServer2 smoke query returned no database; "
            "see `adplatform stack logs spark-thrift`"
        )
    print(f"\nHiveServer2 answers: SHOW DATABASES -> {', '.join(d[0] for d in databases)}\n")
    width = max(len(name) for name, _ in urls(settings))
    for name, url in urls(settings):
        print(f"  {name.ljust(width)}  {url}")
    print("\nStop everything with `make down`.")
    return 0
