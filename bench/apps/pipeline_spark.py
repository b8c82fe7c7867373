"""Spark application of bench/pipeline.py: the catalog before a run, the report query after.

    pipeline_spark.py catalog <hive dir>               drop database adtech, create it again
                                                       from the DDL files of <hive dir>
    pipeline_spark.py report <sql file> <day> <out>    a report query (hive/reports/) for that
                                                       day, its rows written to <out> as JSON

Started through spark-submit with the platform's configuration and code zip, as the jobs
are; paths are arguments because the code runs from the zip, away from the repository.
"""

import json
import sys
from pathlib import Path

from adplatform import settings as settings_module
from adplatform.hive_ddl import apply_ddl
from spark_jobs.common.session import job_session


def main(argv: list[str]) -> int:
    settings = settings_module.load()
    spark = job_session(f"bench-pipeline-{argv[0]}", settings)
    try:
        if argv[0] == "catalog":
            spark.sql("DROP DATABASE IF EXISTS adtech CASCADE")
            apply_ddl(spark, settings, Path(argv[1]))
        else:
            text, day, out = Path(argv[1]).read_text(), argv[2], Path(argv[3])
            for name, value in (("from_date", day), ("to_date", day), ("campaign_id", "")):
                text = text.replace(f"${{hivevar:{name}}}", value)
            rows = [r.asDict() for r in spark.sql(text.strip().rstrip(";")).collect()]
            out.write_text(json.dumps(rows, default=str, indent=1))
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
