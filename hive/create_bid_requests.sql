-- adtech.bid_requests: clean OpenRTB bid requests flattened to one row per offered imp.
--
-- Written by spark_jobs/clean_bid_requests from the landed Kafka topic bid_requests
-- (Confluent wire format + Avro). Partitioned by the UTC event date `dt` of the request;
-- the daily run for D replaces exactly dt=D (semantic 2). Not bucketed: the only join is
-- impression -> bid by (request_id, imp_id) in the funnel job, a key no other table is
-- bucketed by. Personal data is pseudonymised (user_id, device_ifa) or truncated (ip).
CREATE TABLE IF NOT EXISTS adtech.bid_requests (
  request_id           STRING    COMMENT 'BidRequest.id (dedup key of the request)',
  imp_id               STRING    COMMENT 'BidRequest.imp[].id, unique within the request',
  event_ts             TIMESTAMP COMMENT 'When the RTB gateway received the request, UTC',
  bidfloor_cpm_micros  BIGINT    COMMENT 'Minimum bid for this imp, CPM, micros of bidfloor_currency',
  bidfloor_currency    STRING    COMMENT 'ISO-4217 currency of the floor',
  tagid                STRING    COMMENT 'Placement tag id',
  banner_w             INT       COMMENT 'Banner width, pixels',
  banner_h             INT       COMMENT 'Banner height, pixels',
  banner_pos           INT       COMMENT 'Ad position, OpenRTB list 5.4',
  inventory_type       STRING    COMMENT 'site (web) or app (in-app)',
  site_id              STRING    COMMENT 'Site id for web inventory',
  site_domain          STRING    COMMENT 'Site domain for web inventory',
  app_id               STRING    COMMENT 'App id for in-app inventory',
  app_bundle           STRING    COMMENT 'App bundle for in-app inventory',
  publisher_id         STRING    COMMENT 'Publisher of the site or app',
  device_type          STRING    COMMENT 'desktop, mobile, tablet, ctv or other (from OpenRTB list 5.21)',
  device_os            STRING    COMMENT 'Operating system',
  device_ifa           STRING    COMMENT 'Pseudonymised device advertising id (HMAC-SHA256)',
  ip_truncated         STRING    COMMENT 'Device IPv4 (/24) or else IPv6 (/48) with the host part zeroed',
  country              STRING    COMMENT 'ISO-3166-1 alpha-2, upper case (OpenRTB sends alpha-3)',
  region               STRING    COMMENT 'Region',
  city                 STRING    COMMENT 'City',
  user_id              STRING    COMMENT 'Pseudonymised platform user id (HMAC-SHA256)',
  user_yob             INT       COMMENT 'User year of birth',
  user_gender          STRING    COMMENT 'M, F or O; null when unknown',
  gdpr                 INT       COMMENT 'Regs.gdpr flag (1 = GDPR applies)',
  coppa                INT       COMMENT 'Regs.coppa flag (1 = COPPA applies)',
  tmax_ms              INT       COMMENT 'Auction time limit, milliseconds',
  imp_count            INT       COMMENT 'Number of imps in the whole request',
  arrival_ts           TIMESTAMP COMMENT 'Kafka record timestamp: when the record arrived, UTC',
  kafka_partition      INT       COMMENT 'Kafka partition of the landed record (lineage)',
  kafka_offset         BIGINT    COMMENT 'Kafka offset of the landed record (lineage)',
  dt                   DATE      COMMENT 'UTC event date of event_ts (partition)'
)
USING parquet
PARTITIONED BY (dt)
COMMENT 'Clean bid requests, one row per offered imp, by event date';
