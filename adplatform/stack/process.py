"""Background processes of the embedded stack: pid files, start, stop, liveness.

A pid file holds the pid and the process's start time, so a pid that the system has
reused for another program is recognised as stale instead of being killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from adplatform.errors import UserError


@dataclass(frozen=True)
class ProcessHandle:
    name: str
    run_dir: Path
    log_file: Path

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    def pid(self) -> int | None:
        """The pid of the running process this handle started, or None."""
        try:
            pid_text, started_text = self.pid_file.read_text().split()
            pid, started = int(pid_text), float(started_text)
        except (FileNotFoundError, ValueError):
            return None
        try:
            proc = psutil.Process(pid)
            if abs(proc.create_time() - started) < 1 and proc.status() != psutil.STATUS_ZOMBIE:
                return pid
        except psutil.Error:
            pass
        return None

    def has_stale_pid_file(self) -> bool:
        return self.pid_file.exists() and self.pid() is None

    def start(self, argv: list[str], env: dict[str, str], cwd: Path) -> int:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            log.write(f"\n=== {time.strftime('%Y-%m-%dT%H:%M:%S')} start: {argv}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Own process group: `stop` ends the service and every child it forked.
                start_new_session=True,
            )
        started = psutil.Process(proc.pid).create_time()
        self.pid_file.write_text(f"{proc.pid} {started}\n")
        return proc.pid

    def stop(self, timeout_s: float = 30) -> bool:
        """Stop the process group gently, then by force; True when something was stopped."""
        pid = self.pid()
        self.pid_file.unlink(missing_ok=True)
        if pid is None:
            return False
        group = _group_members(pid)
        _signal_group(pid, signal.SIGTERM)
        _, alive = psutil.wait_procs(group, timeout=timeout_s)
        if alive:
            _signal_group(pid, signal.SIGKILL)
            for proc in alive:
                with contextlib.suppress(psutil.Error):
                    proc.kill()
            psutil.wait_procs(alive, timeout=10)
        return True


def _group_members(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def port_is_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def who_listens(port: int) -> str:
    """A short description of the process listening on a TCP port, for error messages."""
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
                if conn.pid:
                    proc = psutil.Process(conn.pid)
                    return f"pid {conn.pid} ({proc.name()})"
                return "another process"
    except psutil.Error:
        pass
    return "another process"


def ensure_port_free(host: str, port: int, service: str, setting: str) -> None:
    if port_is_open(host, port):
        raise UserError(
            f"port {port} needed by {service} is in use by {who_listens(port)}; "
            f"stop it or choose another port with {setting}=<port>"
        )


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now (for tests)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
