"""The `adplatform` command line tool.

Each sub-command lives in the module of its concept and exposes ``register(subparsers)``,
which adds its parser and sets ``func`` to the function that runs it. Errors users can meet
(a missing service, bad configuration) are raised as ``UserError`` and printed as one line.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from adplatform.errors import UserError
from adplatform.settings import SettingsError

# Modules that contribute sub-commands, in the order `--help` lists them.
COMMAND_MODULES = [
    "adplatform.stack.cli",
    "adplatform.stack.stream_monitor",
    "adplatform.simulator.cli",
    "adplatform.hive_ddl",
    "adplatform.landing.cli",
    "adplatform.quality.cli",
    "adplatform.quarantine",
    "adplatform.reports.cli",
    "adplatform.demo",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="adplatform", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except (UserError, SettingsError) as exc:
        print(f"adplatform: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("adplatform: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
