"""No secret and no default credential in any file under version control.

Scans every file `git ls-files` lists for private keys, cloud and service tokens, passwords
(and other secrets) assigned a literal value, and well-known default logins such as
admin/admin or airflow/airflow. A failure names each finding as file:line.

Allowed on purpose:
* placeholders: `change-me` and its spellings, `<...>`, `***`, `xxx...`, `example`,
  `dummy`, `not-a-secret`, `test-only` (in the value);
* references instead of values: `${VAR}`, `$VAR`, `{{ ... }}`, `#{ENV[...]}`, `os.environ`,
  `getenv`, `settings.`, `env(`, Airflow `{{ var... }}`, and plain identifiers in code
  (`password=password`);
* a line that ends with the marker `secret-scan: allow` and says why before it.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MAX_BYTES = 2_000_000
ALLOW_MARKER = "secret-scan: " + "allow"

# Built from parts so that this file does not match its own patterns.
_BEGIN = "-----BEGIN"
PRIVATE_KEY = re.compile(_BEGIN + r" (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY-----")
TOKENS = {
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "AWS secret access key": re.compile(
        r"aws_secret_access_key\s*[=:]\s*['\"]?[A-Za-z0-9/+=]{40}\b", re.IGNORECASE
    ),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    "Stripe/OpenAI-style secret key": re.compile(
        r"\bsk_(?:live|test)_[A-Za-z0-9]{16,}|\bsk-[A-Za-z0-9]{32,}"
    ),
}
# key = value, key: value, key="value", "key": "value", --key value
SECRET_NAME = (
    r"(?:[A-Za-z0-9_.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key"
    r"|private[_-]?key|fernet[_-]?key|credentials?))"
)
ASSIGNMENT = re.compile(
    r"""(?P<key>["']?""" + SECRET_NAME + r"""["']?)\s*(?::|=|\s)\s*(?P<quote>["']?)"""
    r"""(?P<value>[^\s"',;)}\]]*)(?P=quote)""",
    re.IGNORECASE,
)
# user/user or user:user, but not an image name (grafana/grafana:11) or a path (hive/ hive/).
DEFAULT_LOGINS = re.compile(
    r"""\b(admin|airflow|hive|postgres|root|guest|grafana|kafka)[/:]\1\b(?![:\w./-])""",
    re.IGNORECASE,
)
DEFAULT_PASSWORD_FLAGS = re.compile(
    r"""(?:--password|-p|PASSWORD\s*[=:])\s*["']?(admin|airflow|password|postgres|hive|secret|123456|changeit)["']?(?:\s|$)""",
    re.IGNORECASE,
)
PLACEHOLDER = re.compile(
    r"change[-_]?me|replace[-_]?me|^<|\*\*\*|^x{3,}$|example|dummy|not-a-secret|test-only"
    r"|^\.\.\.$|^none$|^null$|^true$|^false$|^required$|^optional$",
    re.IGNORECASE,
)
REFERENCE = re.compile(
    r"^\$|\$\{|\{\{|#\{|os\.environ|getenv|settings\.|env\(|environ\[|^[A-Za-z_][\w.]*[(\[]"
)
# Literal values reviewed and accepted, each with its reason: (file, value).
ALLOWED_VALUES = {
    # A fake credential proving that the simulator passes the settings to its producer.
    ("tests/simulator/test_cli_and_publish.py", "from-env"),
}
WEAK_VALUES = {"admin", "airflow", "password", "secret", "hive", "postgres", "changeit", "letmein"}
CODE_SUFFIXES = (".py", ".pyi")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def _literal_secret(value: str, quoted: bool, code: bool) -> bool:
    """A value that is a real literal, not a placeholder, a reference or a name in code."""
    if len(value) < 4 or PLACEHOLDER.search(value) or REFERENCE.search(value):
        return False
    if value.lower() in WEAK_VALUES:
        return True
    # In code an unquoted word is a name (`password=password`, `token: str`); in a
    # configuration file it is the value itself.
    return quoted or not (code and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", value))


def scan_text(path: str, text: str) -> list[Finding]:
    code = path.endswith(CODE_SUFFIXES)
    findings = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.rstrip().endswith(ALLOW_MARKER):
            continue
        if PRIVATE_KEY.search(line):
            findings.append(Finding(path, number, "private key"))
        for what, pattern in TOKENS.items():
            if pattern.search(line):
                findings.append(Finding(path, number, what))
        for match in ASSIGNMENT.finditer(line):
            value, quoted = match.group("value"), bool(match.group("quote"))
            if line[: match.start()].endswith(("$", "${")):
                continue  # the name of a variable being referenced: ${DB_PASSWORD:?...}
            if (path, value) in ALLOWED_VALUES:
                continue
            if value.lower() == match.group("key").strip("\"'").lower():
                continue  # a constant holding its own name: TOKEN = "token"
            separator = line[match.end("key") : match.start("value")]
            # `key value` without = or : counts only for command-line flags (--password x).
            if not re.search(r"[=:]", separator) and not match.group("key").startswith("-"):
                continue
            if _literal_secret(value, quoted, code):
                findings.append(Finding(path, number, f"{match.group('key')} has a literal value"))
        if DEFAULT_LOGINS.search(line):
            findings.append(
                Finding(path, number, "default credentials " + DEFAULT_LOGINS.search(line).group(0))
            )
        if DEFAULT_PASSWORD_FLAGS.search(line):
            findings.append(Finding(path, number, "default password"))
    return findings


def tracked_files() -> list[str]:
    result = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, timeout=60
    )
    return [p for p in result.stdout.decode().split("\0") if p]


# This file's own samples are what the scanner must find; its patterns are tested below.
SELF = Path(__file__).resolve().relative_to(REPO).as_posix()


def scan_repository() -> list[Finding]:
    findings = []
    for name in tracked_files():
        if name == SELF:
            continue
        path = REPO / name
        if Path(name).name == ".env" or Path(name).name.endswith(".env"):
            findings.append(
                Finding(name, 1, "an env file with real values is under version control")
            )
            continue
        if not path.is_file() or path.stat().st_size > MAX_BYTES:
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary
        findings.extend(scan_text(name, data.decode("utf-8", errors="replace")))
    return findings


def test_no_secret_or_default_credential_in_tracked_files():
    findings = scan_repository()
    assert not findings, "secrets or default credentials found:\n" + "\n".join(map(str, findings))


# ---- the scanner itself, on inputs written here -------------------------------------------

AWS_ID = "AKIA" + "IOSFODNN7" + "QWERTYU"
PEM = _BEGIN + " RSA PRIVATE KEY-----"


@pytest.mark.parametrize(
    "line",
    [
        PEM,
        f"aws_access_key_id = {AWS_ID}",
        'password = "hunter2-is-real"',
        "DB_PASSWORD=Str0ngButCommitted",
        "  POSTGRES_PASSWORD: s3cr3t-value",
        '{"sasl.password": "abc123def456"}',
        "airflow users create --username admin --password admin",
        "login with admin/admin",
        "conn = 'postgresql://airflow:airflow@db/airflow'",
        "GF_SECURITY_ADMIN_PASSWORD=admin",
        "api_key: 'AbCdEf0123456789'",
    ],
)
def test_scanner_finds(line):
    assert scan_text("sample", line), line


@pytest.mark.parametrize(
    "line",
    [
        "AIRFLOW_DB_PASSWORD=change-me",
        "POSTGRES_PASSWORD: ${METASTORE_DB_PASSWORD:?set in .env}",
        "password \"#{ENV['KAFKA_PASSWORD']}\"",
        "sasl_plain_password=settings.kafka_sasl_password,",
        "kafka_sasl_password: str = field(default='', repr=False)",
        "password = os.environ['X']",
        "def secret_problem(name: str, value: str | None) -> str | None:",
        "--password <your password>",
        "token = secrets.token_urlsafe(32)",
        "AIRFLOW__API_AUTH__JWT_SECRET: ${AIRFLOW_JWT_SECRET:?set in .env}",
        "password = 'not-a-secret'  # fixture",
        "the admin / user roles of Airflow",
        f"password = 'Str0ngButCommitted'  # a fixture for this test: {ALLOW_MARKER}",
    ],
)
def test_scanner_allows(line):
    assert scan_text("sample", line) == [], line


def test_findings_name_file_and_line():
    (finding,) = scan_text("conf/app.yml", "a: 1\nb: 2\npassword: Tr0ub4dor-3\n")
    assert str(finding).startswith("conf/app.yml:3: ")
