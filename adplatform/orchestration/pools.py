"""Airflow pools of the platform, and the command that creates them.

``spark``: Spark applications running at once. Each ``spark-submit`` of the embedded stack
runs ``local[*]`` on both cores with a 1 GB driver, so two at a time keep the machine busy
without swapping (the three clean jobs of a day run two, then one). On a cluster, raise the
slots to what the cluster takes (``airflow pools set spark <slots> ...``).

A task that needs the landing zone to itself (compaction and retention of landing files,
which no Spark job may read at that moment) takes every slot of the pool: ``pool_slots =
SPARK_POOL_SLOTS``. Keep that equal to the pool's size when the pool is resized.

Airflow does not run a task whose pool does not exist, so the pools must exist before the
first run: ``adplatform stack up`` (and the test fixtures) run ``pool_commands()``.
"""

from __future__ import annotations

SPARK_POOL = "spark"
SPARK_POOL_SLOTS = 2

POOLS: dict[str, tuple[int, str]] = {
    SPARK_POOL: (
        SPARK_POOL_SLOTS,
        "Spark applications at once (each spark-submit takes both cores of the embedded stack)",
    ),
}


def pool_commands(airflow: str = "airflow") -> list[list[str]]:
    """``airflow pools set`` command lines that create or update every pool (idempotent)."""
    return [
        [airflow, "pools", "set", name, str(slots), description]
        for name, (slots, description) in POOLS.items()
    ]
