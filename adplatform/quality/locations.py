"""Where data-quality artefacts live: per-run results and Data Docs, and staged partitions.

* ``<ADPLATFORM_HOME>/quality/<suite>/<run>/`` holds what one validation of a suite in one
  Airflow run produced: ``validation_result.json`` (GX's full result), ``summary.json`` (one
  line per expectation: label, severity, success, unexpected count, sample) and
  ``data_docs/index.html`` (GX Data Docs, rendered for that validation only). On the local
  disk of the machine that ran the job, so that a browser opens it as a file. A retry of the
  same run replaces the folder of the previous try.
* ``<lake>/staging/<suite>/<run>/`` holds the Parquet files of a partition that is written
  but not yet audited or published (write-audit-publish). It is deleted once published and
  kept when the audit stops the run, so the rejected rows can be inspected.

``<run>`` is the Airflow run id with every character outside ``[A-Za-z0-9._-]`` replaced by
``_`` (HDFS forbids ``:`` in names, and ``+`` is awkward in URLs).
"""

from __future__ import annotations

import re
from pathlib import Path

from adplatform.settings import Settings

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def run_folder_name(run_id: str) -> str:
    """The run id as a file and folder name."""
    if not run_id:
        raise ValueError("a run id is needed to name the results folder")
    return _UNSAFE.sub("_", run_id)


def quality_dir(settings: Settings) -> Path:
    return settings.home / "quality"


def results_dir(settings: Settings, suite: str, run_id: str) -> Path:
    """Folder of one validation's results and Data Docs."""
    return quality_dir(settings) / suite / run_folder_name(run_id)


def staging_path(settings: Settings, suite: str, run_id: str) -> str:
    """Lake folder of a partition staged for audit before it is published."""
    return f"{settings.lake}/staging/{suite}/{run_folder_name(run_id)}"
