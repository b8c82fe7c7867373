-- adtech.campaign_daily: one row per (dt, campaign_id) with at least one curated impression,
-- curated click or attributed conversion on dt (docs/data-contracts.md section 6).
--
-- Written by spark_jobs/aggregate_campaign_daily from the curated tables. Each count is of
-- events on their own event date, so the row of D is final once D has been processed.
-- Partitioned by dt: reports always name a date range. Small (campaigns x days): not
-- bucketed, one file per day.
CREATE TABLE IF NOT EXISTS adtech.campaign_daily (
  campaign_id          STRING  COMMENT 'Campaign',
  impressions          BIGINT  COMMENT 'Curated impressions with event date dt',
  clicks               BIGINT  COMMENT 'Curated clicks with event date dt',
  conversions          BIGINT  COMMENT 'Attributed conversions (last click or last view) with event date dt',
  spend_micros         BIGINT  COMMENT 'Sum of win_price_micros of those impressions, micros of USD',
  revenue_micros       BIGINT  COMMENT 'Sum of value_micros of those conversions, micros of USD',
  unique_users         BIGINT  COMMENT 'Distinct users among those impressions',
  ctr                  DOUBLE  COMMENT 'clicks / impressions; null when impressions = 0',
  cvr                  DOUBLE  COMMENT 'conversions / clicks; null when clicks = 0',
  cpa_micros           DOUBLE  COMMENT 'spend_micros / conversions; null when conversions = 0',
  ecpm_micros          DOUBLE  COMMENT 'spend_micros x 1000 / impressions; null when impressions = 0',
  win_rate             DOUBLE  COMMENT 'Platform win rate of dt (same on every row of dt): won_bid_imps / bid_imps',
  won_bid_imps         BIGINT  COMMENT 'Curated bid-request imps of dt won by a curated impression',
  bid_imps             BIGINT  COMMENT 'Curated bid-request imps of dt',
  dt                   DATE    COMMENT 'UTC event date (partition)'
)
USING parquet
PARTITIONED BY (dt)
COMMENT 'Campaign performance per day';
