-- adtech.quarantine: every raw record that could not be curated, with the reason
-- (semantics 1 and 7; reasons are adplatform.contracts.Reason).
--
-- Partitioned by (dt, source): dt is the owner day of the record (docs/data-contracts.md
-- section 2: its event date when valid and in time, else its arrival date) and each source
-- is quarantined by exactly one job (bid_requests: clean_bid_requests, impressions:
-- clean_impressions, tracking: clean_tracking, dim_campaign and dim_user: load_dimensions),
-- so a re-run replaces exactly its own (dt, source) partitions and nothing else.
-- The payload is kept byte for byte (binary): a record that is not UTF-8 must survive, and a
-- record set aside by a bug is replayed once the bug is fixed. It holds clear IPs, user and
-- device ids, so it is stored sealed (semantic 8): one byte naming the key version, then
-- AES-256-GCM (12-byte IV, ciphertext, 16-byte tag) under that version's payload key
-- (adplatform/keyring.py). `adplatform quarantine show|replay` opens it with the key;
-- `hex(substring(raw_payload, 1, 1))` gives the key version of a row. Owner days older than
-- quarantine_retention_days (30) are dropped by the source's clean job.
CREATE TABLE IF NOT EXISTS adtech.quarantine (
  reason        STRING    COMMENT 'Why the record was set aside (adplatform.contracts.Reason)',
  detail        STRING    COMMENT 'Which field or check, in words',
  raw_payload   BINARY    COMMENT 'The raw record (Kafka value or CSV line) sealed: key version byte + AES-256-GCM',
  raw_key       BINARY    COMMENT 'Kafka record key, when there was one',
  origin        STRING    COMMENT 'Where the record came from: topic/partition/offset or file:line',
  event_ts      TIMESTAMP COMMENT 'Event time when it could be read, UTC',
  arrival_ts    TIMESTAMP COMMENT 'When the record arrived, UTC',
  load_ts       TIMESTAMP COMMENT 'When this run wrote the row, UTC',
  job           STRING    COMMENT 'Job that quarantined the record',
  run_id        STRING    COMMENT 'Airflow run id of that job',
  dt            DATE      COMMENT 'Owner day of the record (partition)',
  source        STRING    COMMENT 'Source: bid_requests, impressions, tracking, dim_campaign, dim_user (partition)'
)
USING parquet
PARTITIONED BY (dt, source)
COMMENT 'Records set aside with a reason; nothing is dropped silently';
