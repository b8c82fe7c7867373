-- adtech.ad_funnel: one row per curated impression, with its bid, its clicks, the
-- conversions credited to it, and campaign and user attributes.
--
-- Written by spark_jobs/build_ad_funnel.
-- Partitioned by (dt, campaign_id): dt is the UTC event date of the impression, and nearly
--   every query filters on a date range and often on one campaign, so both prune folders.
--   Conversions arrive up to click window + last-click look-back after the impression, so
--   the run for D rebuilds the partitions of the last days of that horizon from the curated
--   tables (docs/batch-jobs.md, "ad_funnel restatement"); a partition is final once the run
--   of its date + horizon has run.
-- Bucketed by user_id into 8 buckets: audience queries and the join with adtech.dim_user
--   (bucketed the same way, same count) read bucket i of both sides in one task, without a
--   shuffle. 8 because (a) files per day = campaigns x buckets must stay large enough: at
--   20M impressions/day and ~20 active campaigns a bucket file is ~10 MB, more buckets would
--   shrink it below what HDFS and Parquet read well; (b) a bucketed scan runs one task per
--   bucket, so 8 keeps the two cores of the reference machine busy (and is a power of two,
--   so a bigger cluster can move to 16/32 and still join dim_user with bucket coalescing).
--   The job writes one file per bucket per partition (it repartitions by dt, campaign_id
--   and the bucket expression before the write).
-- Parquet (columnar): reports read a few columns of many rows.
CREATE TABLE IF NOT EXISTS adtech.ad_funnel (
  impression_id                      STRING    COMMENT 'The impression (adtech.impressions.impression_id)',
  request_id                         STRING    COMMENT 'Bid request the impression won',
  imp_id                             STRING    COMMENT 'Imp of that bid request',
  event_ts                           TIMESTAMP COMMENT 'When the ad was served, UTC',
  user_id                            STRING    COMMENT 'Pseudonymised user id (HMAC-SHA256); bucket column',
  creative_id                        STRING    COMMENT 'Creative of the served ad',
  inventory_type                     STRING    COMMENT 'site or app',
  site_domain                        STRING    COMMENT 'Site domain for web inventory',
  app_bundle                         STRING    COMMENT 'App bundle for in-app inventory',
  publisher_id                       STRING    COMMENT 'Publisher of the site or app',
  device_type                        STRING    COMMENT 'desktop, mobile, tablet, ctv or other',
  device_os                          STRING    COMMENT 'Operating system',
  device_ifa                         STRING    COMMENT 'Pseudonymised device advertising id (HMAC-SHA256)',
  country                            STRING    COMMENT 'ISO-3166-1 alpha-2 of the impression geo',
  ip_truncated                       STRING    COMMENT 'Client IP with the host part zeroed',
  has_bid                            BOOLEAN   COMMENT 'True when the curated bid request imp was found',
  bid_ts                             TIMESTAMP COMMENT 'When the bid request was received, UTC',
  bidfloor_cpm_micros                BIGINT    COMMENT 'Floor of the imp, CPM, micros',
  win_price_micros                   BIGINT    COMMENT 'Price paid for the impression, micros of USD',
  click_count                        INT       COMMENT 'Curated clicks on this impression (0 when none)',
  clicked                            BOOLEAN   COMMENT 'True when click_count > 0',
  first_click_ts                     TIMESTAMP COMMENT 'Earliest curated click, UTC',
  last_click_ts                      TIMESTAMP COMMENT 'Latest curated click, UTC',
  last_click_conversions             INT       COMMENT 'Conversions credited last-click to a click on this impression',
  last_click_conversion_value_micros BIGINT    COMMENT 'Their value, micros of USD',
  last_view_conversions              INT       COMMENT 'Conversions credited last-view to this impression',
  last_view_conversion_value_micros  BIGINT    COMMENT 'Their value, micros of USD',
  conversions                        INT       COMMENT 'last_click_conversions + last_view_conversions',
  conversion_value_micros            BIGINT    COMMENT 'Value of all credited conversions, micros of USD',
  campaign_name                      STRING    COMMENT 'From adtech.dim_campaign',
  advertiser_id                      STRING    COMMENT 'From adtech.dim_campaign',
  advertiser_name                    STRING    COMMENT 'From adtech.dim_campaign',
  pricing_model                      STRING    COMMENT 'CPM, CPC or CPA, from adtech.dim_campaign',
  age_band                           STRING    COMMENT 'From adtech.dim_user',
  gender                             STRING    COMMENT 'M, F, O or U, from adtech.dim_user',
  user_country                       STRING    COMMENT 'Home country of the user (alpha-2), from adtech.dim_user',
  segment                            STRING    COMMENT 'Audience segment, from adtech.dim_user',
  dt                                 DATE      COMMENT 'UTC event date of the impression (partition)',
  campaign_id                        STRING    COMMENT 'Campaign of the impression (partition)'
)
USING parquet
PARTITIONED BY (dt, campaign_id)
CLUSTERED BY (user_id) INTO 8 BUCKETS
COMMENT 'Impression funnel: bid, impression, clicks, credited conversions, one row per impression';
