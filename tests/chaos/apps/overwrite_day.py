"""Child process of tests/chaos/test_atomic_publish.py: replaces one day of a curated table
through the stack's metastore with ``rows`` synthetic rows, as a job's publish does.

    python overwrite_day.py <table> <YYYY-MM-DD> <rows> [<marker file>]

With a marker file, every write task creates it and then stalls, so the parent can kill the
process while the write is under way.
"""

import sys
import time
from datetime import date
from pathlib import Path

from pyspark.sql import functions as F

from adplatform import settings as settings_module
from spark_jobs.common.session import job_session
from spark_jobs.common.tables import overwrite_partition

STALL_S = 300

table, day, rows = sys.argv[1], date.fromisoformat(sys.argv[2]), int(sys.argv[3])
marker = sys.argv[4] if len(sys.argv) > 4 else None
spark = job_session("test-overwrite-day", settings_module.load(), audits=False)


@F.udf("string")
def stalled(value: str) -> str:
    Path(marker).touch()
    time.sleep(STALL_S)
    return value


ids = F.concat(F.lit(f"imp-{day}-"), F.col("id").cast("string"))
columns = {"impression_id": stalled(ids) if marker else ids, "dt": F.lit(day)}
df = spark.range(rows, numPartitions=2).select(
    *(
        columns.get(f.name, F.lit(None).cast(f.dataType)).alias(f.name)
        for f in spark.table(table).schema.fields
    )
)
print(f"RESULT rows={overwrite_partition(df, table, {'dt': day})}", flush=True)
spark.stop()
