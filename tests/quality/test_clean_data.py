"""Every suite passes on clean data: no expectation fails, critical or warning.

The rows are hand-written to the DDL and the data contracts (tests/quality/tables.py); the
suites' own run on a simulator run through the real clean job is in test_batch_job_output.
"""

from __future__ import annotations

import json

import pytest

from adplatform.quality.suites import RAW_SUITES, TABLE_SUITES

from .conftest import RUN_ID, failed


@pytest.mark.parametrize("suite", [*RAW_SUITES, *TABLE_SUITES])
def test_suite_passes_on_clean_data(check, suite):
    report = check(suite)

    assert failed(report) == {}
    assert report.success
    assert len(report.outcomes) == len(json.loads(report.result_file.read_text())["results"])
    summary = json.loads(report.summary_file.read_text())
    assert (summary["suite"], summary["run_id"], summary["success"]) == (suite, RUN_ID, True)
    assert report.data_docs.is_file()
    assert report.data_docs_page is not None and report.data_docs_page.is_file()
