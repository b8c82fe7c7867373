"""The expectation suites under ``expectations/``: one Great Expectations 1.x suite per table.

A suite file is a GX suite as JSON (``name``, ``meta``, ``expectations``), kept under version
control and read as is. The platform adds three conventions, checked on load:

* every expectation says in ``meta.severity`` whether its failure stops publishing
  (``critical``) or is recorded and let through (``warning``); GX's own ``severity`` field is
  set from it, so GX results and our metrics agree;
* an ``unexpected_rows_expectation`` (GX's SQL expectation, used for the checks that need
  more than one row or another table) names the column it is about in ``meta.column`` and
  its check in ``meta.check``;
* ``meta.references`` lists the other tables a suite's SQL reads, as views ``dq_ref_<name>``
  (docs/data-quality.md, "Referential integrity and reconciliation").

Each expectation has a *label*, ``<check>(<columns>)``, unique within its suite: the name the
metrics, the logs and the error messages use, e.g.
``expect_column_values_to_be_unique(impression_id)`` or ``impression_exists(impression_id)``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adplatform.errors import UserError
from adplatform.settings import REPO_ROOT

if TYPE_CHECKING:
    from great_expectations.core.expectation_suite import ExpectationSuite

# The suites are files of the repository checkout, not of the Python package.
SUITES_FOLDER = "expectations"
SEVERITIES = ("critical", "warning")
CRITICAL, WARNING = SEVERITIES
SQL_EXPECTATION = "unexpected_rows_expectation"
# Suites of the raw zone (landed and decoded records) and of the published tables.
RAW_SUITES = ("raw_impressions", "raw_bid_requests", "raw_tracking")
TABLE_SUITES = (
    "impressions",
    "bid_requests",
    "clicks",
    "conversions",
    "ad_funnel",
    "campaign_daily",
)
# Prefix of the temporary views that hold a suite's reference tables while it runs.
REFERENCE_VIEW_PREFIX = "dq_ref_"
PARAMETER_KEY = "$PARAMETER"


class SuiteError(UserError):
    """A suite file is missing or breaks the conventions; the message says which and how."""


@dataclass(frozen=True)
class Suite:
    """One suite file: its name, meta and expectations as plain JSON values."""

    name: str
    meta: Mapping[str, Any]
    expectations: tuple[Mapping[str, Any], ...]

    @property
    def references(self) -> Mapping[str, str]:
        """Reference name -> what the caller must pass under that name."""
        return self.meta.get("references", {})

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(expectation_label(e) for e in self.expectations)

    def parameters(self) -> frozenset[str]:
        """Names of the run-time parameters (``{"$PARAMETER": name}``) the suite uses."""
        return frozenset(_parameter_names(self.expectations))

    def only(self, labels: Collection[str]) -> Suite:
        """The same suite with only the expectations of ``labels``."""
        return dataclasses.replace(
            self, expectations=tuple(e for e in self.expectations if expectation_label(e) in labels)
        )

    def to_gx(self) -> ExpectationSuite:
        """The suite as a GX ``ExpectationSuite``, GX severity taken from ``meta.severity``."""
        from great_expectations.core.expectation_suite import ExpectationSuite

        expectations = [{**e, "severity": severity(e)} for e in self.expectations]
        return ExpectationSuite(name=self.name, meta=dict(self.meta), expectations=expectations)


def _parameter_names(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        if PARAMETER_KEY in value:
            yield value[PARAMETER_KEY]
        for item in value.values():
            yield from _parameter_names(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _parameter_names(item)


def severity(expectation: Mapping[str, Any]) -> str:
    return (expectation.get("meta") or {}).get("severity", "")


def columns(expectation: Mapping[str, Any]) -> tuple[str, ...]:
    """The columns an expectation is about, in the order its arguments name them."""
    kwargs = expectation.get("kwargs") or {}
    if "column" in kwargs:
        return (kwargs["column"],)
    if "column_A" in kwargs:
        return (kwargs["column_A"], kwargs["column_B"])
    if "column_list" in kwargs:
        return tuple(kwargs["column_list"])
    column = (expectation.get("meta") or {}).get("column")
    return (column,) if column else ()


def expectation_label(expectation: Mapping[str, Any]) -> str:
    """``<check>(<columns>)``: the check is ``meta.check`` or else the expectation type."""
    check = (expectation.get("meta") or {}).get("check") or expectation["type"]
    cols = columns(expectation)
    return f"{check}({','.join(cols)})" if cols else check


def _problems(data: Mapping[str, Any], name: str) -> list[str]:
    problems = []
    if data.get("name") != name:
        problems.append(f"its name is {data.get('name')!r}, not the file's name {name!r}")
    expectations = data.get("expectations")
    if not isinstance(expectations, list) or not expectations:
        return [*problems, "it has no expectations"]
    labels: dict[str, int] = {}
    for position, expectation in enumerate(expectations, start=1):
        where = f"expectation {position} ({expectation.get('type')})"
        if severity(expectation) not in SEVERITIES:
            problems.append(f"{where}: meta.severity must be one of {', '.join(SEVERITIES)}")
        if expectation.get("type") == SQL_EXPECTATION:
            meta = expectation.get("meta") or {}
            if not meta.get("check") or not meta.get("column"):
                problems.append(f"{where}: a SQL expectation needs meta.check and meta.column")
            query = (expectation.get("kwargs") or {}).get("unexpected_rows_query", "")
            for ref in sorted(set(_referenced_views(query)) - set(data["meta"]["references"])):
                problems.append(f"{where}: reads {REFERENCE_VIEW_PREFIX}{ref}, not in references")
        label = expectation_label(expectation)
        if label in labels:
            problems.append(
                f"{where}: label {label} repeats expectation {labels[label]}; "
                "give one of them a meta.check"
            )
        labels.setdefault(label, position)
    return problems


def _referenced_views(query: str) -> Iterator[str]:
    for word in query.replace(",", " ").replace(")", " ").split():
        if word.startswith(REFERENCE_VIEW_PREFIX):
            yield word[len(REFERENCE_VIEW_PREFIX) :]


def default_suites_dir() -> Path:
    """``expectations/`` of the repository checkout the code runs from.

    Normally next to the ``adplatform`` package. Under ``spark-submit --py-files`` the
    package is imported from the code zip (adplatform/orchestration/package.py), which holds
    no suites; the driver then runs a job file of the checkout (client mode), so the
    checkout is found from the running script.
    """
    candidates = [REPO_ROOT / SUITES_FOLDER]
    if sys.argv and sys.argv[0]:
        candidates += [parent / SUITES_FOLDER for parent in Path(sys.argv[0]).resolve().parents]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise SuiteError(
        f"no {SUITES_FOLDER}/ folder next to the adplatform package ({REPO_ROOT}) or above "
        f"the running script ({sys.argv[0] if sys.argv else '-'}): run from a checkout"
    )


def suite_path(name: str, suites_dir: Path | None = None) -> Path:
    return (suites_dir or default_suites_dir()) / f"{name}.json"


def suite_names(suites_dir: Path | None = None) -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in (suites_dir or default_suites_dir()).glob("*.json")))


@cache
def load_suite(name: str, suites_dir: Path | None = None) -> Suite:
    """Read and check ``expectations/<name>.json``."""
    path = suite_path(name, suites_dir)
    if not path.is_file():
        known = ", ".join(suite_names(suites_dir)) or "none"
        raise SuiteError(f"no expectation suite {name!r} ({path} is missing); known: {known}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise SuiteError(f"{path} is not valid JSON: {exc}") from None
    data.setdefault("meta", {}).setdefault("references", {})
    problems = _problems(data, name)
    if problems:
        raise SuiteError(f"{path}: " + "; ".join(problems))
    return Suite(name=name, meta=data["meta"], expectations=tuple(data["expectations"]))
