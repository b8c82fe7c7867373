"""Entry point of data_quality: the Great Expectations suites of one stage of adtech_daily.

    spark-submit spark_jobs/data_quality/job.py --stage raw|curated|published \\
        --ds 2025-03-01 --run-id <run id> [--job <task id>]

What it does is `adplatform quality validate` (adplatform/quality/cli.py,
docs/data-quality.md); this file is what the DAG's SparkSubmitOperator starts. Exit code 1
when a critical expectation failed, 2 on a user error.
"""

from __future__ import annotations

import sys

from adplatform.quality.cli import main as quality_main


def main(argv: list[str] | None = None) -> int:
    return quality_main(["validate", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
