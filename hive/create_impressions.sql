-- adtech.impressions: clean ad impressions, one row per distinct impression_id.
--
-- Written by spark_jobs/clean_impressions from the landed Kafka topic ad_impressions.
-- Partitioned by the UTC event date `dt` (semantic 6: curated tables by event date): the
-- daily run for D replaces exactly the partition dt=D (semantic 2). Not bucketed: the
-- table is read whole per day by the funnel job, and joins on impression_id happen once a
-- day inside that job; a daily partition of a few hundred MB is a handful of files.
-- Personal data is pseudonymised (user_id, device_ifa: HMAC-SHA256) or truncated (ip).
CREATE TABLE IF NOT EXISTS adtech.impressions (
  impression_id     STRING    COMMENT 'Unique id of the impression (dedup key)',
  request_id        STRING    COMMENT 'Id of the bid request this impression won',
  imp_id            STRING    COMMENT 'Id of the imp inside that bid request',
  event_ts          TIMESTAMP COMMENT 'When the ad was served, UTC',
  user_id           STRING    COMMENT 'Pseudonymised user id: hex HMAC-SHA256 under the platform key',
  campaign_id       STRING    COMMENT 'Campaign of the served ad',
  creative_id       STRING    COMMENT 'Creative of the served ad',
  inventory_type    STRING    COMMENT 'site (web) or app (in-app); null when the log names neither',
  site_id           STRING    COMMENT 'Site id for web inventory',
  site_domain       STRING    COMMENT 'Site domain for web inventory',
  app_id            STRING    COMMENT 'App id for in-app inventory',
  app_bundle        STRING    COMMENT 'App bundle for in-app inventory',
  publisher_id      STRING    COMMENT 'Publisher of the site or app',
  device_type       STRING    COMMENT 'desktop, mobile, tablet, ctv or other (normalised, lower case)',
  device_os         STRING    COMMENT 'Operating system as logged',
  device_ifa        STRING    COMMENT 'Pseudonymised device advertising id (HMAC-SHA256)',
  country           STRING    COMMENT 'ISO-3166-1 alpha-2, upper case',
  region            STRING    COMMENT 'Region as logged',
  city              STRING    COMMENT 'City as logged',
  ip_truncated      STRING    COMMENT 'Client IP with the host part zeroed (IPv4 /24, IPv6 /48)',
  win_price_micros  BIGINT    COMMENT 'Price paid for this impression, micros of USD',
  currency          STRING    COMMENT 'Always USD',
  arrival_ts        TIMESTAMP COMMENT 'Kafka record timestamp: when the record arrived, UTC',
  kafka_partition   INT       COMMENT 'Kafka partition of the landed record (lineage)',
  kafka_offset      BIGINT    COMMENT 'Kafka offset of the landed record (lineage)',
  dt                DATE      COMMENT 'UTC event date of event_ts (partition)'
)
USING parquet
PARTITIONED BY (dt)
COMMENT 'Clean ad impressions, one row per impression, by event date';
