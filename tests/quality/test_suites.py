"""The suite files themselves, without Spark: one per table, in step with the DDL, every
expectation tagged, every parameter and reference provided; the run-time windows; the CLI."""

from __future__ import annotations

import argparse
import json
from datetime import date, datetime, timedelta

import pytest

from adplatform.contracts import Rules
from adplatform.quality import locations
from adplatform.quality.cli import STAGES, register, suite_days
from adplatform.quality.parameters import run_parameters
from adplatform.quality.suites import (
    RAW_SUITES,
    TABLE_SUITES,
    SuiteError,
    expectation_label,
    load_suite,
    suite_names,
    suite_path,
)
from adplatform.settings import Settings
from tests.quality.tables import ddl_columns

SPARK_TYPE = {
    "STRING": "StringType",
    "TIMESTAMP": "TimestampType",
    "BIGINT": "LongType",
    "INT": "IntegerType",
    "DATE": "DateType",
    "BOOLEAN": "BooleanType",
    "DOUBLE": "DoubleType",
}


def test_one_suite_per_table_and_raw_source_named_after_it():
    assert set(suite_names()) == set(RAW_SUITES) | set(TABLE_SUITES)
    for name in TABLE_SUITES:
        assert load_suite(name).meta["table"] == f"adtech.{name}"


@pytest.mark.parametrize("name", TABLE_SUITES)
def test_table_suite_checks_exactly_the_ddl_columns_and_types(name):
    suite = load_suite(name)
    columns = ddl_columns(name)
    (column_set,) = [
        e for e in suite.expectations if e["type"] == "expect_table_columns_to_match_set"
    ]
    assert column_set["kwargs"] == {"column_set": [c for c, _ in columns], "exact_match": True}
    types = {
        e["kwargs"]["column"]: e["kwargs"]["type_"]
        for e in suite.expectations
        if e["type"] == "expect_column_values_to_be_of_type"
    }
    assert types == {c: SPARK_TYPE[t] for c, t in columns}
    assert all(
        severity == "critical"
        for severity in (column_set["meta"]["severity"], *(
            e["meta"]["severity"]
            for e in suite.expectations
            if e["type"] == "expect_column_values_to_be_of_type"
        ))
    )  # fmt: skip


@pytest.mark.parametrize("name", sorted(set(RAW_SUITES) | set(TABLE_SUITES)))
def test_every_parameter_a_suite_uses_is_provided(name):
    provided = run_parameters(date(2025, 3, 1), Rules())
    assert load_suite(name).parameters() <= set(provided)


def test_the_conventions_are_enforced_on_load(tmp_path):
    good = json.loads(suite_path("clicks").read_text())
    cases = {
        "severity": lambda s: s["expectations"][0]["meta"].update(severity="high"),
        "label": lambda s: s["expectations"].append(s["expectations"][-1]),
        "reference": lambda s: s["meta"]["references"].clear(),
        "name": lambda s: s.update(name="other"),
    }
    for case, breaks in cases.items():
        broken = json.loads(json.dumps(good))
        breaks(broken)
        (tmp_path / "clicks.json").write_text(json.dumps(broken))
        load_suite.cache_clear()
        with pytest.raises(SuiteError) as error:
            load_suite("clicks", tmp_path)
        assert {
            "severity": "meta.severity must be one of critical, warning",
            "label": "label expect_column_values_to_be_between(source_line) repeats",
            "reference": "reads dq_ref_impressions, not in references",
            "name": "its name is 'other'",
        }[case] in str(error.value)
    load_suite.cache_clear()


def test_labels_name_the_check_and_its_columns():
    by_label = {expectation_label(e): e for e in load_suite("clicks").expectations}
    assert "expect_column_values_to_be_unique(event_id)" in by_label
    assert "impression_exists(impression_id)" in by_label
    assert "expect_column_pair_values_a_to_be_greater_than_b(event_ts,impression_ts)" in by_label
    assert "expect_table_columns_to_match_set" in by_label


def test_run_windows_of_a_day():
    p = run_parameters(date(2025, 3, 1), Rules())
    at = datetime.fromisoformat  # naive: the machine's local time zone is UTC in CI
    assert (p["window_start"], p["window_end"]) == (at("2025-03-01"), at("2025-03-02"))
    # Arrival hours 2025-02-28 22:00 ... 2025-03-02 05:00 (grace 6 h, tolerance 1 h).
    assert (p["arrival_start"], p["arrival_end"]) == (
        at("2025-02-28 22:00"),
        at("2025-03-02 06:00"),
    )
    assert p["fresh_event_after"] == at("2025-03-01 21:00")
    assert p["fresh_arrival_after"] == at("2025-03-02 03:00")
    assert p["impression_ts_start"] == at("2025-02-28")
    assert p["touch_ts_start"] == at("2025-02-22")
    assert p["click_window_s"] == 86400
    funnel = run_parameters(date(2025, 3, 9), Rules(), days=(date(2025, 3, 1), date(2025, 3, 9)))
    assert (funnel["window_start"], funnel["window_end"]) == (at("2025-03-01"), at("2025-03-10"))
    assert funnel["fresh_event_after"] == at("2025-03-09 21:00")
    longer = run_parameters(date(2025, 3, 1), Rules(click_window=timedelta(hours=48)))
    assert longer["impression_ts_start"] == at("2025-02-27")


def test_results_and_staging_locations_are_safe_names(tmp_path):
    settings = Settings(home=tmp_path, lake_uri="hdfs://nn:8020/adtech")
    run_id = "scheduled__2025-03-01T00:00:00+00:00"
    assert locations.results_dir(settings, "clicks", run_id) == (
        tmp_path / "quality" / "clicks" / "scheduled__2025-03-01T00_00_00_00_00"
    )
    assert locations.staging_path(settings, "clicks", run_id) == (
        "hdfs://nn:8020/adtech/staging/clicks/scheduled__2025-03-01T00_00_00_00_00"
    )


def test_cli_parses_validate_and_list():
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["quality", "validate", "--table", "ad_funnel", "--ds", "2025-03-09",
         "--first-day", "2025-03-01", "--run-id", "r-1", "--job", "dq_funnel"]
    )  # fmt: skip
    assert (args.table, args.stage, args.ds, args.first_day, args.run_id, args.job) == (
        "ad_funnel",
        None,
        date(2025, 3, 9),
        date(2025, 3, 1),
        "r-1",
        "dq_funnel",
    )
    stage = parser.parse_args(["quality", "validate", "--stage", "raw", "--ds", "2025-03-01"])
    assert (stage.stage, stage.table) == ("raw", None)
    assert parser.parse_args(["quality", "list"]).func.__name__ == "run_list"
    for wrong in (["--table", "nope"], ["--stage", "raw", "--table", "clicks"], []):
        with pytest.raises(SystemExit):
            parser.parse_args(["quality", "validate", "--ds", "2025-03-01", *wrong])


def test_stages_cover_every_suite_once():
    staged = [suite for suites in STAGES.values() for suite in suites]
    assert sorted(staged) == sorted(suite_names())


def test_funnel_is_validated_over_the_days_its_job_rebuilds():
    settings = Settings()
    assert suite_days("clicks", date(2025, 3, 9), settings, None) == (
        date(2025, 3, 9),
        date(2025, 3, 9),
    )
    # click window 1 day + last-click look-back 7 days: the funnel job rebuilds 8 days back.
    assert suite_days("ad_funnel", date(2025, 3, 9), settings, None) == (
        date(2025, 3, 1),
        date(2025, 3, 9),
    )


def test_suites_are_found_from_the_running_script_when_the_package_is_zipped(tmp_path, monkeypatch):
    # As under spark-submit --py-files: the package's own folder has no expectations/.
    from adplatform.quality import suites

    monkeypatch.setattr(suites, "REPO_ROOT", tmp_path / "adplatform-0123.zip")
    checkout = tmp_path / "checkout"
    (checkout / "spark_jobs" / "data_quality").mkdir(parents=True)
    (checkout / "expectations").mkdir()
    monkeypatch.setattr("sys.argv", [str(checkout / "spark_jobs" / "data_quality" / "job.py")])
    assert suites.default_suites_dir() == checkout / "expectations"
    monkeypatch.setattr("sys.argv", [str(tmp_path / "elsewhere.py")])
    with pytest.raises(SuiteError, match="run from a checkout"):
        suites.default_suites_dir()
