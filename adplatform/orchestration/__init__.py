"""Building blocks shared by the DAGs in ``dags/``, so that each DAG file only wires tasks.

* ``defaults``: start date, schedules, tags and the ``default_args`` every DAG uses
  (retries with exponential backoff, the metric callbacks);
* ``pools``: the Airflow pools the tasks run in, and the command that creates them;
* ``assets``: the Airflow Assets the DAGs produce and wait on;
* ``spark``: ``spark_job()``, a SparkSubmitOperator for one of ``spark_jobs/<job>/job.py``
  over the ``spark_default`` connection, shipping the project's code (``package``);
* ``sensors``: waiting on landing done markers and tracking files, in reschedule mode;
* ``tasks``: the small Python tasks (hour closed, run summary, lake maintenance).

Nothing here does I/O at import time: DAG files import these modules while being parsed.
Docs: ``docs/orchestration.md``.
"""
