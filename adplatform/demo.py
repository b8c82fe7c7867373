"""`adplatform demo`: the whole pipeline on the embedded stack, through Airflow.

1. Starts every service (`adplatform stack up`) and creates the Hive tables.
2. Simulates ``--days`` days from the setting ``pipeline_start_date`` (2025-01-06) into
   ``$ADPLATFORM_HOME/demo/simulation/`` (``manifest.json`` there is the ground truth),
   publishes the Kafka records, drops the click-tracking files into the tracking inbox and
   delivers the dimension files to ``<lake>/dims/``.
3. Lands the simulated hours: one run of ``kafka_landing_hourly`` and one of
   ``tracking_csv_hourly``, triggered through the REST API for the last hour that holds
   simulated data (each run lands everything up to its interval's end).
4. Unpauses ``adtech_daily``: the scheduler's catchup creates the runs of the simulated days,
   oldest first; the demo follows them task by task.
5. Prints the campaign report (HiveServer2), the reconciliation against the ground truth
   and where everything is. Exits non-zero if a run fails or the numbers do not add up.

The simulated days lie in the past and no source delivers after them: the demo starts the
stack with ``pipeline_end_date`` = the last simulated day, so ``adtech_daily`` owns exactly
those days, and it keeps the hourly landing DAGs paused after its own landing runs (it
removes the run of the current hour that unpausing them schedules).

Run again with the same options, it reuses what is there (nothing is published twice) and
reports again; other options need a fresh stack (`make clean`).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from adplatform import settings as settings_module
from adplatform.errors import UserError
from adplatform.settings import Settings
from adplatform.stack import manager
from adplatform.stack.airflow import ADMIN_USER, admin_password_file

DAILY_DAG = "adtech_daily"
KAFKA_LANDING_DAG = "kafka_landing_hourly"
TRACKING_DAG = "tracking_csv_hourly"
# Wall-clock limits of the waits (a day takes minutes on a 2-core machine).
LANDING_TIMEOUT_S = 30 * 60
DAY_TIMEOUT_S = 45 * 60
POLL_S = 5
PUBLISHED_STAMP = "published"

Say = Callable[[str], None]


@dataclass(frozen=True)
class DemoOptions:
    seed: int = 42
    days: int = 2
    events_per_day: int = 2000
    fault_rate: float = 0.01


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the pipeline on the embedded stack through Airflow, then report"
    )
    defaults = DemoOptions()
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--days", type=int, default=defaults.days, help="simulated days")
    parser.add_argument(
        "--events-per-day", type=int, default=defaults.events_per_day, help="impressions a day"
    )
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=defaults.fault_rate,
        help="rate of every injected fault kind (0 = clean data)",
    )
    parser.set_defaults(func=run)


def simulation_dir(settings: Settings) -> Path:
    """Where the demo keeps its simulated run and the ground truth (``manifest.json``)."""
    return settings.home / "demo" / "simulation"


def say(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


# -- data --------------------------------------------------------------------------------------


def simulate_and_deliver(settings: Settings, options: DemoOptions, say: Say = say) -> Path:
    """The simulated run, published and delivered once; returns its folder."""
    from adplatform.simulator import faults
    from adplatform.simulator.manifest import load
    from adplatform.simulator.writers import MANIFEST

    out = simulation_dir(settings)
    rates = faults.rates(options.fault_rate, {})
    if (out / MANIFEST).exists():
        config = load(out)["config"]
        wanted = {
            "seed": options.seed,
            "start_date": settings.pipeline_start.isoformat(),
            "days": options.days,
            "events_per_day": options.events_per_day,
            "fault_rates": rates,
        }
        if {k: config[k] for k in wanted} != wanted or not (out / PUBLISHED_STAMP).exists():
            raise UserError(
                f"this stack already holds another demo run ({out}); "
                "start over with `make clean`, or repeat its options"
            )
        say(f"reusing the simulated run in {out} (already published)")
        return out
    _simulate(settings, options, rates, out, say)
    _deliver(settings, out, say)
    (out / PUBLISHED_STAMP).write_text(datetime.now(UTC).isoformat() + "\n")
    return out


def _simulate(
    settings: Settings, options: DemoOptions, rates: dict[str, float], out: Path, say: Say
) -> None:
    from adplatform.contracts import Rules
    from adplatform.simulator.generate import SimConfig, simulate
    from adplatform.simulator.progress import Progress

    if out.exists():  # an earlier demo stopped before writing its manifest
        shutil.rmtree(out)
    config = SimConfig(
        seed=options.seed,
        start_date=settings.pipeline_start,
        days=options.days,
        events_per_day=options.events_per_day,
        fault_rates=rates,
        rules=Rules.from_settings(settings),
    )
    say(
        f"simulating {options.days} days from {settings.pipeline_start} "
        f"({options.events_per_day:,} impressions a day, fault rate {options.fault_rate})"
    )
    progress = Progress(options.days * options.events_per_day, "simulate")
    simulate(config, out, progress)
    progress.close()


def _deliver(settings: Settings, out: Path, say: Say) -> None:
    from adplatform import lake
    from adplatform.hdfs import filesystem, join
    from adplatform.orchestration.sensors import tracking_inbox
    from adplatform.simulator.manifest import load
    from adplatform.simulator.progress import Progress
    from adplatform.simulator.publish import TOPICS, publish
    from adplatform.simulator.writers import DIMS_DIR, INBOX_DIR

    raw = load(out)["raw_records"]
    progress = Progress(sum(raw[t]["total"] for t in TOPICS), "publish")
    result = publish(out, settings, progress)
    progress.close()
    say(f"published {result.records:,} records to Kafka ({settings.kafka_bootstrap})")
    inbox = tracking_inbox(settings)
    fs = filesystem(inbox, settings)
    files = sorted((out / INBOX_DIR).glob("tracking_*.csv"))
    for path in files:
        fs.create(join(inbox, path.name), path.read_bytes(), overwrite=True)
    say(f"dropped {len(files)} click-tracking files into {inbox}")
    for name in ("campaigns", "users"):
        target = lake.dims_path(settings, name)
        filesystem(target, settings).create(
            target, (out / DIMS_DIR / f"{name}.csv").read_bytes(), overwrite=True
        )
    dims = lake.dims_path(settings, "campaigns").rsplit("/", 1)[0]
    say(f"delivered the dimension files to {dims}")


def landing_hours(out: Path, manifest: dict[str, Any]) -> dict[str, datetime]:
    """Per landing DAG, the start of the last arrival hour holding simulated data."""
    from adplatform.simulator.publish import TOPICS
    from adplatform.simulator.writers import INBOX_DIR

    config = manifest["config"]
    last_day = date.fromisoformat(config["start_date"]) + timedelta(days=config["days"])
    grace_end = datetime(last_day.year, last_day.month, last_day.day, tzinfo=UTC) + timedelta(
        seconds=manifest["rules"]["late_grace_s"]
    )
    # The daily run of the last day reads the arrival hours up to the end of its grace period.
    floor = grace_end - timedelta(hours=1)
    kafka = max(h for t in TOPICS for h in manifest["raw_records"][t]["by_arrival_hour"])
    tracking = max(p.name for p in (out / INBOX_DIR).glob("tracking_*.csv"))
    return {
        KAFKA_LANDING_DAG: max(floor, datetime.strptime(kafka, "%Y-%m-%dT%H").replace(tzinfo=UTC)),
        TRACKING_DAG: max(
            floor, datetime.strptime(tracking, "tracking_%Y%m%d_%H.csv").replace(tzinfo=UTC)
        ),
    }


# -- Airflow -----------------------------------------------------------------------------------


def land(api: Any, hours: dict[str, datetime], say: Say = say) -> None:
    """One landing run per DAG for its last hour with data, then the DAGs paused again."""
    from adplatform.airflow_api import AirflowApiError

    runs = {}
    for dag_id, hour in hours.items():
        api.wait_for_dag(dag_id)
        run_id = f"demo__{hour:%Y-%m-%dT%H}"
        try:
            api.trigger(dag_id, interval=(hour, hour + timedelta(hours=1)), run_id=run_id)
            say(f"{dag_id}: triggered {run_id} (lands everything before {hour:%Y-%m-%d %H}:59)")
        except AirflowApiError as exc:
            if " 409" not in str(exc):
                raise
            say(f"{dag_id}: {run_id} exists already")
        runs[dag_id] = run_id
        api.unpause(dag_id)
    deadline = time.monotonic() + LANDING_TIMEOUT_S
    pending = dict(runs)
    while pending:
        for dag_id, run_id in list(pending.items()):
            state = api.run_state(dag_id, run_id)
            if state == "failed":
                api.pause(dag_id)
                failed = _failed_tasks(api, dag_id, run_id)
                raise UserError(f"{dag_id} run {run_id} failed: {failed}")
            if state == "success":
                say(f"{dag_id}: {run_id} succeeded")
                api.pause(dag_id)
                _drop_scheduled_runs(api, dag_id, say)
                del pending[dag_id]
        if pending and time.monotonic() > deadline:
            minutes = LANDING_TIMEOUT_S // 60
            raise UserError(f"landing did not finish within {minutes} min: {pending}")
        time.sleep(POLL_S)


def _drop_scheduled_runs(api: Any, dag_id: str, say: Say) -> None:
    """Unpausing an hourly DAG schedules the hour that just ended. The simulated world has
    no data there (the tracking sensor would wait for hours), so once the DAG is paused
    again (the scheduler would create it anew otherwise) the demo removes that run: it was
    queued behind the demo's own run (one run at a time) and has not started."""
    for run in api.runs(dag_id):
        if run["run_type"] != "scheduled":
            continue
        if run["state"] == "queued":
            api.delete_run(dag_id, run["dag_run_id"])
            say(f"{dag_id}: removed {run['dag_run_id']} (no live data in the demo)")
        elif run["state"] == "running":
            say(f"{dag_id}: {run['dag_run_id']} had started already; it stays, paused")


def _failed_tasks(api: Any, dag_id: str, run_id: str) -> str:
    failed = [
        t for t, s in api.task_states(dag_id, run_id).items() if s in {"failed", "upstream_failed"}
    ]
    return ", ".join(failed) or "no task failed"


def run_daily(api: Any, days: list[date], say: Say = say) -> dict[date, str]:
    """Unpause ``adtech_daily`` and follow the catchup runs of ``days``; returns each day's
    final state (it stops at the first failed day)."""
    api.unpause(DAILY_DAG)
    say(f"{DAILY_DAG}: unpaused; the scheduler creates the runs of {days[0]} to {days[-1]}")
    states: dict[date, str] = {}
    for day in days:
        states[day] = _follow_day(api, day, say)
        if states[day] != "success":
            break
    return states


def check_pipeline_dates(api: Any, settings: Settings, days: list[date]) -> None:
    """The running Airflow schedules ``adtech_daily`` over exactly the simulated days."""
    dag = api.wait_for_dag(DAILY_DAG)
    details = api.call("GET", f"/dags/{DAILY_DAG}/details")
    owned = (details["start_date"] or "")[:10], (details["end_date"] or "")[:10]
    if owned != (days[0].isoformat(), days[-1].isoformat()):
        raise UserError(
            f"the running Airflow schedules {dag['dag_id']} from {owned[0]} to "
            f"{owned[1] or 'no end'}, not the demo's {days[0]} to {days[-1]}: "
            "run `make down`, then the demo again (it starts the stack with its dates)"
        )


def _run_of(api: Any, day: date) -> dict | None:
    for run in api.runs(DAILY_DAG):
        if run["logical_date"] and run["logical_date"][:10] == day.isoformat():
            return run
    return None


def _follow_day(api: Any, day: date, say: Say) -> str:
    """Waits for the run of ``day`` to finish, saying which tasks run as they change."""
    deadline = time.monotonic() + DAY_TIMEOUT_S
    started = time.monotonic()
    last = ""
    while time.monotonic() < deadline:
        run = _run_of(api, day)
        if run is None:
            line = "waiting for the scheduler to create the run"
        else:
            tasks = api.task_states(DAILY_DAG, run["dag_run_id"])
            done = sum(s in {"success", "skipped"} for s in tasks.values())
            active = sorted(
                t
                for t, s in tasks.items()
                if s in {"running", "up_for_reschedule", "queued", "up_for_retry"}
            )
            line = f"{run['state']}, {done}/{len(tasks)} tasks done" + (
                f"; now: {', '.join(active)}" if active else ""
            )
            if run["state"] in {"success", "failed"}:
                elapsed = time.monotonic() - started
                if run["state"] == "failed":
                    failed = _failed_tasks(api, DAILY_DAG, run["dag_run_id"])
                    say(f"{DAILY_DAG} {day}: FAILED ({failed})")
                else:
                    say(f"{DAILY_DAG} {day}: success ({done} tasks, {elapsed / 60:.1f} min)")
                return run["state"]
        if line != last:
            say(f"{DAILY_DAG} {day}: {line}")
            last = line
        time.sleep(POLL_S)
    raise UserError(f"{DAILY_DAG} {day} did not finish within {DAY_TIMEOUT_S // 60} min")


# -- the command -------------------------------------------------------------------------------


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


def print_report(settings: Settings, days: list[date]) -> None:
    from adplatform.reports.daily import reports_root
    from adplatform.reports.formats import render_table
    from adplatform.reports.queries import BY_NAME, ReportParameters
    from adplatform.reports.runner import run_reports

    params = ReportParameters(from_date=days[0], to_date=days[-1])
    names = ("campaign_performance", "daily_trend")
    results = run_reports(settings, [BY_NAME[n] for n in names], params)
    for name in names:
        print(f"\n== {BY_NAME[name].title} ({days[0]} to {days[-1]}, through HiveServer2) ==")
        print(render_table(results[name]))
    print(f"\nEvery report of each day, as HTML and CSV: {reports_root(settings)}/<day>/")


def run_pipeline(settings: Settings, options: DemoOptions, say: Say = say) -> dict[date, str]:
    """Everything after `stack up`: tables, data, landing and the daily runs."""
    from adplatform.airflow_api import AirflowApi
    from adplatform.hive_ddl import apply_ddl_through_hiveserver2
    from adplatform.simulator.manifest import load

    days = [settings.pipeline_start + timedelta(days=n) for n in range(options.days)]
    api = AirflowApi(settings)
    check_pipeline_dates(api, settings, days)
    apply_ddl_through_hiveserver2(settings)
    say("Hive tables ready")
    out = simulate_and_deliver(settings, options, say)
    land(api, landing_hours(out, load(out)), say)
    return run_daily(api, days, say)


def run(args: argparse.Namespace) -> int:
    from adplatform import ground_truth
    from adplatform.simulator.manifest import load

    if args.days < 1 or args.events_per_day < 1 or not 0 <= args.fault_rate <= 1:
        raise UserError("--days and --events-per-day must be at least 1, --fault-rate in [0, 1]")
    options = DemoOptions(args.seed, args.days, args.events_per_day, args.fault_rate)
    settings = settings_module.load()
    # adtech_daily owns exactly the simulated days: catchup stops after the last one.
    last_day = settings.pipeline_start + timedelta(days=options.days - 1)
    settings = settings.with_overrides(pipeline_end_date=last_day.isoformat())
    say("starting the embedded stack")
    manager.up(settings)
    states = run_pipeline(settings, options)
    days = sorted(states)
    succeeded = all(states.get(d) == "success" for d in days) and len(days) == options.days
    if any(s == "success" for s in states.values()):
        print_report(settings, [d for d in days if states[d] == "success"])
    truth = ground_truth.check(settings, load(simulation_dir(settings)), days)
    print("\n== Reconciliation against the simulator's ground truth ==")
    print("\n".join(truth.summary()))
    print(f"(ground truth: {simulation_dir(settings) / 'manifest.json'})\n")
    width = max(len(name) for name, _ in urls(settings))
    for name, url in urls(settings):
        print(f"  {name.ljust(width)}  {url}")
    print("\nStop everything with `make down`.")
    if not succeeded:
        print(
            f"demo: a run of {DAILY_DAG} failed; its task logs are in the Airflow UI",
            file=sys.stderr,
        )
        return 1
    if not truth.ok:
        print("demo: the lake does not match the ground truth (lines above)", file=sys.stderr)
        return 1
    return 0
