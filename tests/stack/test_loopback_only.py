"""Nothing the embedded stack starts listens beyond loopback (docs/chaos.md, "Listening
addresses"): the stack's services and the batch drivers its jobs start.

The sockets are read from the kernel (psutil), for the whole process tree of each service:
the children that services fork (Airflow's log and health servers, Spark's Python workers)
listen too.
"""

from __future__ import annotations

import ipaddress
import os
import select
import signal
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from adplatform.spark_config import spark_conf, spark_submit_command
from adplatform.stack import manager
from adplatform.stack.airflow import airflow_env
from adplatform.stack.service import pyspark_home
from adplatform.stack.stream_monitor import StreamMonitor
from adplatform.stack.thrift_server import ThriftServer
from tests.stack_fixtures import free_port_settings

APPS = Path(__file__).parent / "apps"


def _tree(pid: int) -> set[int]:
    try:
        root = psutil.Process(pid)
        return {pid, *(child.pid for child in root.children(recursive=True))}
    except psutil.NoSuchProcess:
        return set()


def _loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    return ip.is_loopback or bool(getattr(ip, "ipv4_mapped", None) and ip.ipv4_mapped.is_loopback)


def listening(pids: dict[int, str]) -> list[tuple[str, str, str, int]]:
    """(owner, protocol, address, port) of every listening TCP socket and every bound,
    unconnected UDP socket of the processes `pids` (pid -> owner name)."""
    found = []
    for conn in psutil.net_connections(kind="inet"):
        if conn.pid not in pids or not conn.laddr:
            continue
        if conn.type == socket.SOCK_STREAM and conn.status == psutil.CONN_LISTEN:
            found.append((pids[conn.pid], "tcp", conn.laddr.ip, conn.laddr.port))
        elif conn.type == socket.SOCK_DGRAM and not conn.raddr:
            found.append((pids[conn.pid], "udp", conn.laddr.ip, conn.laddr.port))
    return sorted(found)


def _beyond_loopback(sockets: list[tuple[str, str, str, int]]) -> list[tuple[str, str, str, int]]:
    return [s for s in sockets if not _loopback(s[2])]


@pytest.fixture(scope="module")
def whole_stack(test_stack):
    return test_stack.require(*(s.name for s in manager.SERVICES))


@pytest.mark.stack
def test_no_service_of_the_stack_listens_beyond_loopback(whole_stack):
    pids = {}
    for service in manager.SERVICES:
        pid = manager.handle(whole_stack, service).pid()
        assert pid is not None, f"{service.name} is not running"
        pids.update(dict.fromkeys(_tree(pid), service.name))

    sockets = listening(pids)
    assert _beyond_loopback(sockets) == []
    owners = {owner for owner, *_ in sockets}
    # Every service was seen listening: the check looked at real sockets, not at none.
    assert owners >= {s.name for s in manager.SERVICES if s.port_fields}
    ports = {port for _, _, _, port in sockets}
    assert whole_stack.metastore_port in ports
    assert whole_stack.airflow_scheduler_health_port in ports
    # Airflow's log servers (which have no address setting) are not started at all.
    assert not {8793, 8794} & ports


def _airflow_task_driver(settings) -> tuple[list[str], dict[str, str]]:
    """A batch driver as Airflow's SparkSubmitOperator starts one: spark-submit with the
    `spark_default` master, the rest from SPARK_CONF_DIR and the scheduler's environment."""
    submit = [str(pyspark_home() / "bin" / "spark-submit"), "--master", settings.spark_master]
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, **airflow_env(settings)}
    return [*submit, "--driver-memory", "512m", str(APPS / "idle_driver.py")], env


def _first_line(proc: subprocess.Popen, timeout_s: float = 300) -> str:
    """The first line the process prints, or "" when it prints none in time."""
    ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
    return proc.stdout.readline().strip() if ready else ""


@pytest.mark.stack
def test_a_batch_driver_listens_on_loopback_only(whole_stack):
    argv, env = _airflow_task_driver(whole_stack)
    proc = subprocess.Popen(
        argv,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        assert _first_line(proc) == "READY sum=499500", "the driver did not start"
        sockets = listening(dict.fromkeys(_tree(proc.pid), "driver"))
        assert _beyond_loopback(sockets) == []
        # Its RPC endpoint and its UI, at least, were there to be checked.
        assert sum(1 for _, proto, _, _ in sockets if proto == "tcp") >= 2
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_every_way_of_starting_a_local_driver_binds_it_to_bind_host():
    """The other ways a driver starts (no stack needed): spark_submit_command (landing, the
    bench, the CLI), the sessions the jobs build (spark_conf), and the stack's drivers."""
    settings = free_port_settings(Path("/nonexistent"), bind_host="127.0.0.2")
    conf = spark_conf(settings)
    assert (conf["spark.driver.bindAddress"], conf["spark.driver.host"]) == (
        "127.0.0.2",
        "127.0.0.1",
    )
    assert spark_submit_command(settings, "app.py")[:2] == ["env", "SPARK_LOCAL_IP=127.0.0.2"]
    assert ThriftServer().env(settings)["SPARK_LOCAL_IP"] == "127.0.0.2"
    assert StreamMonitor().env(settings)["SPARK_LOCAL_IP"] == "127.0.0.2"
    # A cluster's executors must reach the driver: there Spark's own choice stands.
    cluster = settings.with_overrides(spark_master="spark://master:7077")
    assert "spark.driver.bindAddress" not in spark_conf(cluster)
    assert spark_submit_command(cluster, "app.py")[:2] == [
        "env",
        str(pyspark_home() / "bin" / "spark-submit"),
    ]
