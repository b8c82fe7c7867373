"""Campaign reports: the Hive SQL of ``hive/reports/`` run through the HiveServer2 endpoint.

* ``queries``: the report files, their parameters and the values they take;
* ``runner``: runs a report with pyhive (the same ``--hivevar`` mechanism as beeline);
* ``formats``: text table and CSV output;
* ``charts`` and ``html_page``: the self-contained HTML report with inline SVG charts;
* ``daily``: the HTML report the daily DAG writes for each run;
* ``cli``: ``adplatform report``.

docs/reports.md describes the reports, the parameters and where the daily report goes.
"""
