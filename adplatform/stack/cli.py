"""`adplatform stack up | down | status | logs`: the embedded stack of real services."""

from __future__ import annotations

import argparse
import subprocess
import sys

from adplatform import settings as settings_module
from adplatform.stack import manager


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("stack", help="run the embedded stack of services")
    actions = parser.add_subparsers(dest="action", required=True)

    up = actions.add_parser(
        "up", help="start the services (all, or the named ones and what they need)"
    )
    up.add_argument("services", nargs="*")
    up.add_argument(
        "--no-stream-monitor",
        action="store_true",
        help="leave out the Spark Structured Streaming monitor (saves a JVM and a core)",
    )
    up.set_defaults(func=_up)

    down = actions.add_parser("down", help="stop what `up` started")
    down.add_argument("services", nargs="*")
    down.set_defaults(func=_down)

    status = actions.add_parser("status", help="a table of services, pids, ports, health, URLs")
    status.add_argument("services", nargs="*")
    status.set_defaults(func=_status)

    logs = actions.add_parser("logs", help="the last lines of a service's log")
    logs.add_argument("service", choices=[s.name for s in manager.SERVICES])
    logs.add_argument("-n", "--lines", type=int, default=50)
    logs.add_argument("-f", "--follow", action="store_true")
    logs.set_defaults(func=_logs)


def _up(args: argparse.Namespace) -> int:
    services = args.services
    if args.no_stream_monitor and not services:
        services = [s.name for s in manager.SERVICES if s.name != "stream-monitor"]
    rows = manager.up(settings_module.load(), services)
    print(manager.format_status(rows))
    return 0


def _down(args: argparse.Namespace) -> int:
    stopped = manager.down(settings_module.load(), args.services)
    print(f"stopped {len(stopped)} services" if stopped else "nothing was running")
    return 0


def _status(args: argparse.Namespace) -> int:
    rows = manager.status(settings_module.load(), args.services)
    print(manager.format_status(rows))
    return 0 if all(r.healthy for r in rows) else 1


def _logs(args: argparse.Namespace) -> int:
    settings = settings_module.load()
    if args.follow:
        path = manager.handle(settings, manager.BY_NAME[args.service]).log_file
        return subprocess.call(["tail", "-n", str(args.lines), "-F", str(path)])
    sys.stdout.write(manager.tail(settings, args.service, args.lines))
    return 0
