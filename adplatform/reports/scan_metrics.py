"""What a query read, table by table: partitions, files and bytes of each scan, from the SQL
metrics the Spark Thrift Server's UI keeps for every statement it ran (REST API).

It proves partition pruning on real executions (tests) and explains timings (benchmark).
"""

from __future__ import annotations

import json
import re
import urllib.request
from dataclasses import dataclass

from adplatform.errors import UserError
from adplatform.settings import Settings

SCAN_NODE = re.compile(r"Scan parquet spark_catalog\.(\w+)\.(\w+)")
UNITS = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


@dataclass(frozen=True)
class TableScan:
    table: str  # database.table
    partitions: int | None  # None for an unpartitioned table
    files: int
    bytes: int


def _count(text: str) -> int:
    return int(text.replace(",", ""))


def _size(text: str) -> int:
    match = re.fullmatch(r"([\d.,]+) (\w+)", text.strip())
    if not match:
        return 0
    return round(float(match.group(1).replace(",", "")) * UNITS[match.group(2)])


def _get(url: str) -> object:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.load(response)
    except OSError as exc:
        raise UserError(f"cannot read the Spark UI at {url}: {exc}") from None


def last_execution_scans(settings: Settings, statement_start: str) -> list[TableScan]:
    """The table scans of the latest statement whose text starts with ``statement_start``
    (after variable substitution), in plan order."""
    api = f"http://{settings.hiveserver2_host}:{settings.thrift_ui_port}/api/v1/applications"
    app = _get(api)[0]["id"]
    executions = _get(f"{api}/{app}/sql?details=true&offset=0&length=100000")
    matching = [e for e in executions if e["description"].startswith(statement_start)]
    if not matching:
        raise UserError(f"no statement starting with {statement_start!r} in the Spark UI")
    scans = []
    for node in matching[-1]["nodes"]:
        match = SCAN_NODE.fullmatch(node["nodeName"])
        if not match:
            continue
        metrics = {m["name"]: m["value"] for m in node["metrics"]}
        partitions = metrics.get("number of partitions read")
        scans.append(
            TableScan(
                table=f"{match.group(1)}.{match.group(2)}",
                partitions=None if partitions is None else _count(partitions),
                files=_count(metrics.get("number of files read", "0")),
                bytes=_size(metrics.get("size of files read", "0 B")),
            )
        )
    return scans
