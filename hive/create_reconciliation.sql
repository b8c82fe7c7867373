-- adtech.reconciliation: one row per (job, source, owner day) and run, proving
-- in = curated + quarantined + duplicates (semantic 1).
--
-- Partitioned by (dt, job): each job writes its own rows for the day it runs, so a re-run
-- replaces exactly the rows of its previous try (a failed try's row included). The history
-- of every try stays in the Airflow logs and in the pushed metrics.
CREATE TABLE IF NOT EXISTS adtech.reconciliation (
  run_id              STRING             COMMENT 'Airflow run id',
  rows_in             BIGINT             COMMENT 'Raw records the run owns (Kafka records, non-blank CSV data lines) or input rows',
  curated             BIGINT             COMMENT 'Rows written to the curated table(s)',
  quarantined         BIGINT             COMMENT 'Rows written to adtech.quarantine',
  duplicates          BIGINT             COMMENT 'Duplicates counted and dropped',
  quarantined_by_reason MAP<STRING, BIGINT> COMMENT 'quarantined, split by reason',
  ok                  BOOLEAN            COMMENT 'rows_in = curated + quarantined + duplicates',
  checked_at          TIMESTAMP          COMMENT 'When the run checked it, UTC',
  source              STRING             COMMENT 'Source the counts are of',
  dt                  DATE               COMMENT 'Owner day the counts are of (partition)',
  job                 STRING             COMMENT 'Job that wrote the row (partition)'
)
USING parquet
PARTITIONED BY (dt, job)
COMMENT 'Per-run proof that nothing was lost';
