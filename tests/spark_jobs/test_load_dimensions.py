"""Dimension files: quoted CSV fields, bad lines quarantined with a reason, first line of a
repeated key kept, user ids pseudonymised."""

from __future__ import annotations

from datetime import date

import pytest

from adplatform.errors import UserError
from spark_jobs.common.landing import TRACKING_FILES_SCHEMA
from spark_jobs.load_dimensions.transforms import (
    CAMPAIGN_COLUMNS,
    USER_COLUMNS,
    parse_campaigns,
    parse_users,
    valid_rows,
)
from tests.spark_jobs.landed import KEY, pseudonym

CAMPAIGNS = (
    ",".join(CAMPAIGN_COLUMNS).encode()
    + b"""
c-1,"Spring, ""big"" sale",adv-1,Acme,CPC,5000000000,2025-03-01,2025-03-31,2500000
c-2,Winter,adv-2,Beta,CPM,100,2025-03-01,2025-03-31,2500000,extra
c-3,Summer,adv-2,Beta,CPM,lots,2025-03-01,2025-03-31,2500000
c-4,Autumn,adv-2,Beta,CPX,100,2025-03-01,2025-03-31,2500000
c-5,Fall,adv-2,Beta,CPA,100,2025-02-30,2025-03-31,2500000
,Nameless,adv-2,Beta,CPA,100,2025-03-01,2025-03-31,2500000
c-1,Again,adv-1,Acme,CPC,1,2025-03-01,2025-03-31,1
"""
)
USERS = b"""user_id,age_band,gender,country,segment
u-1,25-34,F,de,sports
u-2,18-24,M,FR
"""


def _files(spark, name, content):
    return spark.createDataFrame([(name, content)], TRACKING_FILES_SCHEMA)


def test_campaign_file(spark):
    parsed = parse_campaigns(_files(spark, "campaigns.csv", CAMPAIGNS))
    reasons = {r.line_number: r.reason for r in parsed.select("line_number", "reason").collect()}
    assert reasons == {
        2: None,
        3: "bad_column_count",
        4: "unparsable_number",
        5: "impossible_value",
        6: "unparsable_timestamp",
        7: "missing_field",
        8: None,
    }
    rows = [r.asDict() for r in valid_rows(parsed, CAMPAIGN_COLUMNS).collect()]
    assert rows == [
        {
            "campaign_id": "c-1",
            "campaign_name": 'Spring, "big" sale',
            "advertiser_id": "adv-1",
            "advertiser_name": "Acme",
            "pricing_model": "CPC",
            "budget_micros": 5_000_000_000,
            "flight_start": date(2025, 3, 1),
            "flight_end": date(2025, 3, 31),
            "bid_cpm_micros": 2_500_000,
        }
    ]


def test_user_file(spark):
    parsed = parse_users(_files(spark, "users.csv", USERS), KEY)
    assert [r.reason for r in parsed.orderBy("line_number").collect()] == [None, "bad_column_count"]
    rows = [tuple(r) for r in valid_rows(parsed, USER_COLUMNS).collect()]
    assert rows == [(pseudonym("u-1"), "25-34", "F", "DE", "sports")]


def test_a_missing_file_stops_the_job_before_it_replaces_a_table(
    adtech, spark, lake_settings, tmp_path
):
    from spark_jobs.load_dimensions import job

    (tmp_path / "campaigns.csv").write_bytes(CAMPAIGNS)
    (tmp_path / "users.csv").write_bytes(USERS)
    files = ["--campaigns-file", f"file://{tmp_path}/campaigns.csv"]
    users = ["--users-file", f"file://{tmp_path}/users.csv"]
    run_args = ["--ds", "2031-01-01", "--run-id", "dims"]
    job.run(spark, lake_settings, job.arg_parser().parse_args([*run_args, *files, *users]))
    assert spark.table("adtech.dim_campaign").count() == 1  # c-1 (test_campaign_file)
    assert spark.table("adtech.dim_user").count() == 1  # u-1 (test_user_file)

    (tmp_path / "users.csv").unlink()
    args = job.arg_parser().parse_args([*run_args, *files, *users])
    with pytest.raises(UserError, match=rf"dimension file file://{tmp_path}/users\.csv does not"):
        job.run(spark, lake_settings, args)
    assert spark.table("adtech.dim_campaign").count() == 1
    assert spark.table("adtech.dim_user").count() == 1
