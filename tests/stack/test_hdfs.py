"""HDFS: a Spark application writes Parquet to hdfs:// and reads it back."""

from __future__ import annotations

import getpass
import subprocess
from pathlib import Path

import pytest
import requests

from adplatform.spark_config import spark_submit_command

pytestmark = pytest.mark.stack

APPS = Path(__file__).parent / "apps"


def test_spark_writes_and_reads_parquet_on_hdfs(hdfs_settings):
    path = f"{hdfs_settings.hdfs_uri}/tests/roundtrip"
    result = subprocess.run(
        spark_submit_command(hdfs_settings, str(APPS / "hdfs_roundtrip.py"), path, "1000"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "RESULT rows=1000 sum=999000" in result.stdout

    # The files are in HDFS, as the NameNode lists them.
    listing = requests.get(
        f"http://{hdfs_settings.host}:{hdfs_settings.hdfs_namenode_http_port}"
        "/webhdfs/v1/tests/roundtrip",
        params={"op": "LISTSTATUS"},
        timeout=10,
    ).json()["FileStatuses"]["FileStatus"]
    parquet = [f for f in listing if f["pathSuffix"].endswith(".parquet")]
    assert len(parquet) == 3
    assert {f["pathSuffix"] for f in listing} >= {"_SUCCESS"}


def test_lake_root_is_private_to_the_platform_user(hdfs_settings):
    lake_path = hdfs_settings.lake[len(hdfs_settings.hdfs_uri) :]
    status = requests.get(
        f"http://{hdfs_settings.host}:{hdfs_settings.hdfs_namenode_http_port}/webhdfs/v1{lake_path}",
        params={"op": "GETFILESTATUS"},
        timeout=10,
    ).json()["FileStatus"]
    assert status["permission"] == "700"
    assert status["owner"] == getpass.getuser()
