-- adtech.conversions: curated conversions, one row per distinct conversion (by event_id,
-- or by payload fingerprint when event_id is empty), with their attribution.
--
-- Written by spark_jobs/clean_tracking from the landed tracking CSV files. Partitioned by
-- the UTC event date `dt` of the conversion; the daily run for D replaces exactly dt=D.
-- Attribution (docs/data-contracts.md section 5) is decided when the conversion's day is
-- processed: last click within the look-back, else last view, else unattributed (kept
-- here with attribution = 'none'; it counts in no campaign's conversions or revenue).
CREATE TABLE IF NOT EXISTS adtech.conversions (
  conversion_key             STRING    COMMENT 'Dedup key: event_id, or fp:<sha256 fingerprint> when event_id is empty',
  event_id                   STRING    COMMENT 'Event id from the tracking file; null when it had none',
  event_ts                   TIMESTAMP COMMENT 'When the conversion happened, UTC',
  user_id                    STRING    COMMENT 'Pseudonymised user id (HMAC-SHA256)',
  campaign_id                STRING    COMMENT 'Campaign named by the conversion',
  conversion_type            STRING    COMMENT 'purchase, signup, lead or add_to_cart',
  value_micros               BIGINT    COMMENT 'Value to the advertiser, micros of USD',
  attribution                STRING    COMMENT 'last_click, last_view or none',
  attributed_click_id        STRING    COMMENT 'event_id of the credited click (last_click)',
  attributed_impression_id   STRING    COMMENT 'Credited impression: the clicked one (last_click) or the viewed one (last_view)',
  attributed_touch_ts        TIMESTAMP COMMENT 'event_ts of the credited click or impression, UTC',
  arrival_ts                 TIMESTAMP COMMENT 'End of the hour of the file the row arrived in, UTC',
  source_file                STRING    COMMENT 'Name of the tracking CSV file (lineage)',
  source_line                BIGINT    COMMENT 'Line number in that file, header = 1 (lineage)',
  dt                         DATE      COMMENT 'UTC event date of the conversion (partition)'
)
USING parquet
PARTITIONED BY (dt)
COMMENT 'Curated conversions with last-click / last-view attribution, by event date';
