-- adtech.clicks: curated clicks, one row per distinct click event_id that joined its
-- impression within the click window (docs/data-contracts.md section 5).
--
-- Written by spark_jobs/clean_tracking from the landed tracking CSV files. Partitioned by
-- the UTC event date `dt` of the click (not of its impression); the daily run for D
-- replaces exactly dt=D. Orphan clicks, clicks before their impression, outside the window
-- or naming another user or campaign are in adtech.quarantine, not here.
CREATE TABLE IF NOT EXISTS adtech.clicks (
  event_id             STRING    COMMENT 'Unique id of the click (dedup key)',
  event_ts             TIMESTAMP COMMENT 'When the click happened, UTC',
  user_id              STRING    COMMENT 'Pseudonymised user id (HMAC-SHA256)',
  campaign_id          STRING    COMMENT 'Campaign of the clicked ad',
  impression_id        STRING    COMMENT 'The clicked impression (adtech.impressions.impression_id)',
  impression_ts        TIMESTAMP COMMENT 'event_ts of the clicked impression, UTC',
  seconds_after_impression BIGINT COMMENT 'event_ts - impression_ts, seconds (0 ... click window)',
  arrival_ts           TIMESTAMP COMMENT 'End of the hour of the file the row arrived in, UTC',
  source_file          STRING    COMMENT 'Name of the tracking CSV file (lineage)',
  source_line          BIGINT    COMMENT 'Line number in that file, header = 1 (lineage)',
  dt                   DATE      COMMENT 'UTC event date of the click (partition)'
)
USING parquet
PARTITIONED BY (dt)
COMMENT 'Curated clicks correlated with their impression, by event date';
