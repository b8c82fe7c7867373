"""Fixtures of the data-quality tests: settings in a temporary home and lake, a run, and a
helper that validates a suite and returns its report without raising.

Every validation runs the whole suite on a few hand-written rows (tests/quality/tables.py)
through GX's Spark engine on the session's one local Spark; one GX validation is dozens of
tiny Spark jobs, so each test validates as few times as it can.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import DataFrame

from adplatform import settings as settings_module
from adplatform.metrics import BatchRun
from adplatform.quality.validation import ValidationReport, validate
from adplatform.settings import Settings
from tests.quality import tables

RUN_ID = "scheduled__2025-03-01T00:00:00+00:00"


@pytest.fixture(scope="module")
def quality_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("quality")
    # Defaults only (never the developer's ADPLATFORM_* variables), lake on the local disk.
    return settings_module.load({}).with_overrides(
        home=root / "home", lake_uri=f"file://{root / 'lake'}"
    )


def offline_run(job: str = "dq_test", source: str = "test") -> BatchRun:
    """A run that records results and is never pushed (its block is never entered)."""
    return BatchRun(job, source, RUN_ID, gateway="http://127.0.0.1:9", push_attempts=1)


Check = Callable[..., ValidationReport]


@pytest.fixture(scope="module")
def check(spark, quality_settings: Settings) -> Check:
    """check(suite, df=None, references=None, days=None) -> report; never raises on data."""

    def run_check(
        suite: str,
        df: DataFrame | None = None,
        references: Mapping[str, DataFrame] | None = None,
        days: tuple[date, date] | None = None,
    ) -> ValidationReport:
        return validate(
            tables.clean(spark, suite) if df is None else df,
            suite,
            run=offline_run(),
            ds=tables.DS,
            references=tables.references(spark, suite) if references is None else references,
            days=days,
            settings=quality_settings,
            raise_on_critical=False,
        )

    return run_check


def failed(report: ValidationReport) -> dict[str, tuple[str, tuple[str, ...]]]:
    """label -> (severity, columns) of every failed expectation."""
    return {o.label: (o.severity, o.columns) for o in report.outcomes if not o.success}


def docs_failures(page: Path) -> dict[str, list[str]]:
    """Section title (a column, or 'Table-Level Expectations') -> texts of its failed rows
    in a GX Data Docs validation page."""
    import html
    import re

    text = page.read_text()
    sections: dict[str, list[str]] = {}
    for chunk in re.split(r'<div id="section-\d+"', text)[1:]:
        title = re.search(r"<h\d[^>]*>(.*?)</h\d>", chunk, re.S)
        if title is None:
            continue
        name = html.unescape(re.sub(r"<[^>]+>|\s+", " ", title.group(1))).strip()
        # A row starts at its first cell; nested tables (unexpected values) stay inside it.
        for row in re.split(r'(?=<td id="section-\d+-content-block-\d+-cell-\d+-1")', chunk)[1:]:
            if "fa-times text-danger" in row:
                words = html.unescape(re.sub(r"<[^>]+>|\s+", " ", row))
                sections.setdefault(name, []).append(" ".join(words.split()))
    return sections
