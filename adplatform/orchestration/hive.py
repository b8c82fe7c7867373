"""HiveServer2 from inside a task, through the Airflow connection ``hiveserver2_default``.

The connection (host, port, database) is set by the stack from the settings; on a cluster
it points at the cluster's HiveServer2 or Spark Thrift Server without touching a DAG.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

HIVE_CONN_ID = "hiveserver2_default"
DEFAULT_PORT = 10000


@contextmanager
def cursor(conn_id: str = HIVE_CONN_ID) -> Iterator[Any]:
    """A DB-API cursor on the HiveServer2 endpoint of the connection; closed afterwards."""
    from airflow.sdk import BaseHook
    from pyhive import hive

    conn = BaseHook.get_connection(conn_id)
    connection = hive.connect(
        host=conn.host,
        port=int(conn.port or DEFAULT_PORT),
        username=conn.login or getpass.getuser(),
        database=conn.schema or "default",
    )
    try:
        cur = connection.cursor()
        try:
            yield cur
        finally:
            cur.close()
    finally:
        connection.close()
