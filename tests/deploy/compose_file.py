"""docker-compose.yml as the tests see it: variables interpolated from .env.example.

The interpolation follows the Compose file rules (``$VAR``, ``${VAR}``, ``${VAR:-default}``,
``${VAR-default}``, ``${VAR:?error}``, ``$$`` for a literal dollar), so the tests check the
file the way docker-compose reads it without needing the docker-compose binary; one test
also runs the real ``docker-compose config``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|(?P<plain>[A-Za-z_][A-Za-z0-9_]*)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\})"
)


class MissingVariable(KeyError):
    """A ``${VAR:?error}`` whose variable is unset."""


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of an env file (comments and blank lines skipped)."""
    return read_env_file_text(path.read_text())


def interpolate(text: str, env: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("plain") or match.group("braced")
        op, arg = match.group("op"), match.group("arg") or ""
        value = env.get(name)
        unset = value is None or (value == "" and op is not None and op.startswith(":"))
        if op in (":-", "-") and unset:
            return arg
        if op in (":?", "?") and unset:
            raise MissingVariable(f"{name}: {arg}")
        return value or ""

    return _VARIABLE.sub(replace, text)


def variables_used(text: str) -> set[str]:
    """Names of every variable the file interpolates (``$$`` escapes excluded)."""
    names = set()
    for match in _VARIABLE.finditer(text):
        if not match.group("escaped"):
            names.add(match.group("plain") or match.group("braced"))
    return names


@dataclass(frozen=True)
class Compose:
    raw: str
    data: dict[str, Any]

    @property
    def services(self) -> dict[str, dict[str, Any]]:
        return self.data["services"]

    @property
    def named_volumes(self) -> set[str]:
        return set(self.data.get("volumes") or {})


def load(env: dict[str, str] | None = None) -> Compose:
    raw = COMPOSE_FILE.read_text()
    env = read_env_file(ENV_EXAMPLE) if env is None else env
    return Compose(raw=raw, data=yaml.safe_load(interpolate(raw, env)))


@cache
def compose() -> Compose:
    return load()


def is_one_shot(service: dict[str, Any]) -> bool:
    """A job that runs to completion (``restart: "no"``), not a long-running service."""
    return str(service.get("restart", "")).lower() == "no"


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def bind_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of every mount whose source is a path in the repository."""
    mounts = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            source, target = volume.get("source", ""), volume.get("target", "")
        else:
            source, _, rest = volume.partition(":")
            target = rest.split(":")[0]
        if source.startswith((".", "/")):
            mounts.append((source, target))
    return mounts


def named_mounts(service: dict[str, Any]) -> list[str]:
    names = []
    for volume in service.get("volumes") or []:
        source = volume.get("source", "") if isinstance(volume, dict) else volume.split(":")[0]
        if source and not source.startswith((".", "/")):
            names.append(source)
    return names


def published_ports(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(host ip, host port, container port) of every published port."""
    out = []
    for port in service.get("ports") or []:
        parts = str(port).split(":")
        if len(parts) == 3:
            ip, host, container = parts
        elif len(parts) == 2:
            ip, (host, container) = "0.0.0.0", parts
        else:
            raise AssertionError(f"port {port!r} publishes a random host port")
        out.append((ip, int(host), int(container.split("/")[0])))
    return out


_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def memory_bytes(value: str | int) -> int:
    match = re.fullmatch(r"(\d+)([bkmg]?)", str(value).lower())
    if not match:
        raise ValueError(f"memory value {value!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    """Dependency -> condition (``service_started`` when written as a plain list)."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def read_env_file_text(text: str) -> dict[str, str]:
    """Like ``read_env_file``, from the text of an env file."""
    env = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env
