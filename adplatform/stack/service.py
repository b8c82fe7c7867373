"""What every service of the embedded stack provides to the stack manager."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

from adplatform.errors import UserError
from adplatform.settings import ENV_PREFIX, Settings


class Service:
    """One long-running process of the stack.

    Subclasses name the service, the settings fields of the ports it binds (the first is the
    one `status` shows), the services it needs to be healthy first, and how to prepare,
    start and probe it.
    """

    name: str = ""
    port_fields: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()

    def port(self, settings: Settings) -> int:
        return getattr(settings, self.port_fields[0])

    def url(self, settings: Settings) -> str:
        return f"{settings.host}:{self.port(settings)}"

    def prepare(self, settings: Settings) -> None:
        """Write config files and initialise storage on first start; must be idempotent."""

    def command(self, settings: Settings) -> list[str]:
        raise NotImplementedError

    def after_start(self, settings: Settings) -> None:
        """Runs once the service is healthy after `up` started it; must be idempotent."""

    def env(self, settings: Settings) -> dict[str, str]:
        return {}

    def healthy(self, settings: Settings) -> bool:
        raise NotImplementedError

    def home(self, settings: Settings) -> Path:
        path = settings.state_dir / self.name
        path.mkdir(parents=True, exist_ok=True)
        return path


def setting_env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


@cache
def java_binary() -> str:
    """`java` of version 17 or newer, or a UserError that says what to install."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        raise UserError(
            "Java not found: install OpenJDK 17 or newer (apt-get install openjdk-17-jdk)"
        )
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "(\d+)', out)
    if not match or int(match.group(1)) < 17:
        raise UserError(f"Java 17 or newer is needed, found: {out.splitlines()[0]}")
    return java


def jar_classpath(settings: Settings, module: str) -> str:
    """Classpath of one jar folder that `make setup` filled from jvm/<module>/pom.xml."""
    folder = settings.jars_dir / module
    if not folder.is_dir() or not any(folder.glob("*.jar")):
        raise UserError(f"the {module} jars are missing in {folder}: run `make setup`")
    return f"{folder}/*"


def pyspark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def java_command(
    settings: Settings, classpath: list[str], main_class: str, *args: str, opts: tuple = ()
) -> list[str]:
    return [
        java_binary(),
        f"-Xmx{settings.service_heap_mb}m",
        "-XX:+UseSerialGC",
        "-Djava.net.preferIPv4Stack=true",
        *opts,
        "-cp",
        ":".join(classpath),
        main_class,
        *args,
    ]


def run_setup_step(argv: list[str], what: str, env: dict[str, str] | None = None) -> None:
    """Run a one-off initialisation command (format, migrate); a failure is a UserError."""
    result = subprocess.run(argv, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        output = (result.stderr.strip() or result.stdout.strip()).splitlines()
        last = output[-1] if output else f"exit code {result.returncode}"
        raise UserError(f"{what} failed: {last}")


def hadoop_xml(properties: dict[str, object]) -> str:
    """A Hadoop-style *-site.xml document."""
    rows = "\n".join(
        f"  <property><name>{escape(k)}</name><value>{escape(str(v))}</value></property>"
        for k, v in properties.items()
    )
    return f'<?xml version="1.0"?>\n<configuration>\n{rows}\n</configuration>\n'


def write_if_changed(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


LOG4J1_FILE = """\
log4j.rootLogger=INFO,console
log4j.appender.console=org.apache.log4j.ConsoleAppender
log4j.appender.console.layout=org.apache.log4j.PatternLayout
log4j.appender.console.layout.ConversionPattern=%d{ISO8601} %p %c{2}: %m%n
"""

LOG4J2_FILE = """\
rootLogger.level = info
rootLogger.appenderRef.stdout.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{ISO8601} %p %c{1}: %m%n
"""
