"""Run report queries through the HiveServer2 endpoint (Spark Thrift Server) with pyhive.

The report variables travel exactly as beeline's ``--hivevar name=value`` does: as
``set:hivevar:name`` entries of the session configuration, sent when the session opens.
The server then substitutes ``${hivevar:name}`` in the statement. Each report runs in a
session of its own, so no variable of one report leaks into the next.
"""

from __future__ import annotations

import getpass
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from adplatform.errors import UserError
from adplatform.reports.queries import Report, ReportParameters
from adplatform.settings import Settings


@dataclass(frozen=True)
class ReportResult:
    report: Report
    hivevars: dict[str, str]
    columns: list[str]
    rows: list[tuple[Any, ...]]
    seconds: float

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def endpoint(settings: Settings) -> str:
    """``host:port`` of the HiveServer2 endpoint, as reports name their source."""
    return f"{settings.hiveserver2_host}:{settings.thrift_port}"


def session_configuration(hivevars: dict[str, str]) -> dict[str, str]:
    """The HiveServer2 session configuration that sets the variables, as beeline does."""
    return {f"set:hivevar:{name}": value for name, value in hivevars.items()}


def _server_message(exc: Exception) -> str:
    """The first line of the server's error message (pyhive wraps it in a Thrift response)."""
    response = exc.args[0] if exc.args else None
    status = getattr(response, "status", None)
    message = getattr(status, "errorMessage", None) or str(exc)
    first = message.strip().splitlines()[0] if message.strip() else type(exc).__name__
    return first.removeprefix("Error running query: ")[:400]


def connect(settings: Settings, hivevars: dict[str, str]):
    from pyhive import hive
    from thrift.transport.TTransport import TTransportException

    host, port = settings.hiveserver2_host, settings.thrift_port
    try:
        return hive.connect(
            host=host,
            port=port,
            # Only a name for the server's logs: the Thrift Server reads the lake as the
            # platform's user, whoever connects.
            username=getpass.getuser(),
            configuration=session_configuration(hivevars),
        )
    except (TTransportException, OSError) as exc:
        raise UserError(
            f"cannot reach HiveServer2 at {host}:{port} ({exc}): start the stack with "
            "`make up`, or set ADPLATFORM_THRIFT_HOST / ADPLATFORM_THRIFT_PORT"
        ) from None


def run_report(settings: Settings, report: Report, params: ReportParameters) -> ReportResult:
    """Run one report and fetch all its rows."""
    from pyhive.exc import Error as HiveError

    hivevars = params.hivevars(report)
    started = time.monotonic()
    conn = connect(settings, hivevars)
    try:
        cursor = conn.cursor()
        try:
            cursor.execute(report.sql())
            rows = [tuple(r) for r in cursor.fetchall()]
        except HiveError as exc:
            message = _server_message(exc)
            hint = ""
            if "TABLE_OR_VIEW_NOT_FOUND" in message or "SCHEMA_NOT_FOUND" in message:
                hint = " (create the tables with `adplatform hive init` and run the batch jobs)"
            raise UserError(f"report {report.name} failed: {message}{hint}") from None
        columns = [d[0] for d in cursor.description or []]
    finally:
        conn.close()
    return ReportResult(report, hivevars, columns, rows, time.monotonic() - started)


def run_reports(
    settings: Settings,
    reports: Iterable[Report],
    params: ReportParameters,
    progress: Callable[[str], None] | None = None,
) -> dict[str, ReportResult]:
    """Run the reports one after another; ``progress`` hears about each one done."""
    results = {}
    for report in reports:
        result = run_report(settings, report, params)
        results[report.name] = result
        if progress:
            progress(f"{report.name}: {len(result.rows)} rows in {result.seconds:.1f}s")
    return results
