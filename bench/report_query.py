"""Benchmark of the campaign-performance report over 30 days: cold and warm, with and
without partition pruning, through the HiveServer2 endpoint.

    .venv/bin/python bench/report_query.py [--days 90] [--range-days 30] [--campaigns 20]
        [--impressions-per-day 1000000] [--warm-runs 5] [--use-running-stack]

By default it starts its own HDFS, metastore and Spark Thrift Server on free ports, with
their state in bench/data/report-query/ (a running stack is left alone), and fills
adtech.campaign_daily with synthetic rows: one per campaign and day for ``--days`` days,
one file per day, as the batch job writes it. ``--use-running-stack`` measures the
configured stack's own adtech.campaign_daily instead (the batch benchmark's data).

Variants, both reading the last ``--range-days`` days of the data:
  pruned    hive/reports/campaign_performance.sql exactly as analysts run it;
  unpruned  the same statement reading report_bench.campaign_daily_flat: the same rows in
            about the same number of files, without the dt folders, so every file of every
            day is opened and filtered. (Spark prunes a partitioned table whatever the
            settings, so the layout is what is changed, not the query.)
Timings are wall times seen by a pyhive client, from sending the statement to the last
row. ``cold``: the first run on a Thrift Server started just before it (JVM, metastore
client and file listing caches cold); with --use-running-stack the shared server is not
restarted and ``cold`` is the first run after REFRESH TABLE. ``warm``: the runs after it.
Both variants must return the same rows.

Results: bench/results/report-query-<date>.json, one entry per run of the day in "runs"
(printed as a table too).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta

from adplatform import settings as settings_module
from adplatform.errors import UserError
from adplatform.reports.queries import BY_NAME, ReportParameters
from adplatform.reports.runner import connect
from adplatform.reports.scan_metrics import last_execution_scans
from adplatform.settings import REPO_ROOT, Settings
from adplatform.spark_config import spark_submit_command
from adplatform.stack import manager
from adplatform.stack.process import free_port

DATA_APP = REPO_ROOT / "bench" / "apps" / "report_query_data.py"
STACK_HOME = REPO_ROOT / "bench" / "data" / "report-query"
RESULTS_DIR = REPO_ROOT / "bench" / "results"
REPORT = BY_NAME["campaign_performance"]
PARTITIONED = "adtech.campaign_daily"
FLAT = "report_bench.campaign_daily_flat"
SERVICES = ["spark-thrift", "metastore", "hdfs-datanode", "hdfs-namenode"]
# Synthetic data ends here, so that two runs of the benchmark read the same days.
SYNTHETIC_END = date(2026, 3, 31)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def isolated_settings() -> Settings:
    """Default settings with every port free and the state in bench/data/report-query."""
    ports = {f.name: free_port() for f in dataclasses.fields(Settings) if f.name.endswith("_port")}
    return settings_module.load({}).with_overrides(home=STACK_HOME, **ports)


def spark_submit(settings: Settings, *args: str) -> None:
    env = {
        **os.environ,
        **settings.as_env(),
        "PYSPARK_PYTHON": sys.executable,
        "PYTHONPATH": str(REPO_ROOT),
    }
    command = spark_submit_command(settings, str(DATA_APP), *args)
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise UserError(f"{DATA_APP.name} failed:\n{result.stderr[-3000:]}")


def query(settings: Settings, sql: str, hivevars: dict[str, str] | None = None) -> list[tuple]:
    conn = connect(settings, hivevars or {})
    try:
        cursor = conn.cursor()
        cursor.execute(sql)
        return cursor.fetchall() if cursor.description else []
    finally:
        conn.close()


def timed(settings: Settings, sql: str, hivevars: dict[str, str]) -> tuple[float, list[tuple]]:
    conn = connect(settings, hivevars)
    try:
        cursor = conn.cursor()
        started = time.perf_counter()
        cursor.execute(sql)
        rows = cursor.fetchall()
        return time.perf_counter() - started, rows
    finally:
        conn.close()


def restart_thrift_server(settings: Settings) -> None:
    """Stop the Thrift Server alone (``manager.down`` also stops what it requires) and start
    it again on the running HDFS and metastore."""
    manager.handle(settings, manager.BY_NAME["spark-thrift"]).stop()
    manager.up(settings, ["spark-thrift"])


def machine() -> dict[str, object]:
    memory_kb = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 2**20, 1),
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
    }


def measure(
    settings: Settings, variant: str, sql: str, hivevars: dict, warm_runs: int, own_stack: bool
) -> tuple[dict, list[tuple]]:
    if own_stack:
        log(f"{variant}: restarting the Thrift Server for a cold run")
        restart_thrift_server(settings)
    else:
        for table in (PARTITIONED, FLAT):
            query(settings, f"REFRESH TABLE {table}")
    cold, rows = timed(settings, sql, hivevars)
    scans = last_execution_scans(settings, sql.splitlines()[0])
    log(f"{variant}: cold {cold:.2f}s")
    warm = []
    for i in range(warm_runs):
        seconds, again = timed(settings, sql, hivevars)
        if again != rows:
            raise UserError(f"{variant}: run {i + 2} returned other rows than the first")
        warm.append(round(seconds, 3))
        log(f"{variant}: warm run {i + 1}/{warm_runs} {seconds:.2f}s")
    read = [s for s in scans if s.table in (PARTITIONED, FLAT)]
    return {
        "cold_s": round(cold, 3),
        "cold_kind": "thrift_server_restart" if own_stack else "refresh_table",
        "warm_s": warm,
        "warm_median_s": round(statistics.median(warm), 3) if warm else None,
        "rows_returned": len(rows),
        "scan": [dataclasses.asdict(s) for s in read],
    }, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=90, help="days of synthetic data (90)")
    parser.add_argument("--range-days", type=int, default=30, help="days the query reads (30)")
    parser.add_argument("--campaigns", type=int, default=20, help="synthetic campaigns (20)")
    parser.add_argument("--impressions-per-day", type=int, default=1_000_000)
    parser.add_argument("--warm-runs", type=int, default=5)
    parser.add_argument("--use-running-stack", action="store_true")
    args = parser.parse_args(argv)

    own_stack = not args.use_running_stack
    started = datetime.now(UTC)
    host = machine()
    if own_stack:
        shutil.rmtree(STACK_HOME, ignore_errors=True)
        settings = isolated_settings()
        log(f"starting HDFS, metastore and Thrift Server in {STACK_HOME}")
        manager.up(settings, ["spark-thrift"])
    else:
        settings = settings_module.load()
    try:
        if own_stack:
            log(
                f"writing {args.days} days x {args.campaigns} campaigns of campaign_daily "
                f"and the unpartitioned copy"
            )
            spark_submit(
                settings,
                "generate",
                SYNTHETIC_END.isoformat(),
                str(args.days),
                str(args.campaigns),
                str(args.impressions_per_day),
            )
        else:
            log(f"copying {PARTITIONED} to {FLAT}")
            spark_submit(settings, "copy")
        (newest, oldest, days, rows) = query(
            settings,
            f"SELECT MAX(dt), MIN(dt), COUNT(DISTINCT dt), COUNT(*) FROM {PARTITIONED}",
        )[0]
        end = date.fromisoformat(str(newest))
        params = ReportParameters(end - timedelta(days=args.range_days - 1), end)
        hivevars = params.hivevars(REPORT)
        log(f"data: {rows} rows, {days} days {oldest} .. {newest}; query {hivevars}")

        pruned_sql = REPORT.sql()
        variants = {"pruned": pruned_sql, "unpruned": pruned_sql.replace(PARTITIONED, FLAT)}
        results, answers = {}, {}
        for variant, sql in variants.items():
            results[variant], answers[variant] = measure(
                settings, variant, sql, hivevars, args.warm_runs, own_stack
            )
        if answers["pruned"] != answers["unpruned"]:
            raise UserError("the pruned and unpruned queries returned different rows")
    finally:
        if own_stack:
            log("stopping the benchmark's services")
            manager.down(settings, SERVICES)

    host["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    run = {
        "started_at": started.isoformat(timespec="seconds"),
        "machine": host,
        "data": {
            "source": "synthetic" if own_stack else "running stack",
            "campaign_daily_rows": rows,
            "days": days,
            "first_day": str(oldest),
            "last_day": str(newest),
            "campaigns": args.campaigns if own_stack else None,
            "impressions_per_day": args.impressions_per_day if own_stack else None,
        },
        "parameters": hivevars,
        "results": results,
    }
    # One file per day; the runs of the day (other volumes, other data) accumulate in it.
    out = RESULTS_DIR / f"report-query-{started.date().isoformat()}.json"
    document = {"benchmark": "report-query", "query": str(REPORT.path.relative_to(REPO_ROOT))}
    if out.exists():
        document = json.loads(out.read_text())
    document.setdefault("runs", []).append(run)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n")

    print(f"\n{'variant':10} {'cold s':>8} {'warm median s':>14} {'partitions':>11} {'files':>6}")
    for variant, r in results.items():
        partitions = sum(s["partitions"] or 0 for s in r["scan"])
        files = sum(s["files"] for s in r["scan"])
        print(
            f"{variant:10} {r['cold_s']:8.2f} {r['warm_median_s']:14.2f} {partitions:11} {files:6}"
        )
    print(f"\nwrote {out.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as exc:
        print(f"report_query: {exc}", file=sys.stderr)
        sys.exit(2)
