-- adtech.dim_campaign: one row per campaign (the advertiser's campaign settings).
--
-- Loaded by spark_jobs/load_dimensions from the campaign dimension file; each load replaces
-- the whole table (a few thousand rows at most: not partitioned, not bucketed, broadcast in
-- every join).
CREATE TABLE IF NOT EXISTS adtech.dim_campaign (
  campaign_id      STRING  COMMENT 'Campaign id',
  campaign_name    STRING  COMMENT 'Campaign name',
  advertiser_id    STRING  COMMENT 'Advertiser id',
  advertiser_name  STRING  COMMENT 'Advertiser name',
  pricing_model    STRING  COMMENT 'CPM, CPC or CPA',
  budget_micros    BIGINT  COMMENT 'Budget over the flight, micros of USD',
  flight_start     DATE    COMMENT 'First day of the flight (inclusive)',
  flight_end       DATE    COMMENT 'Last day of the flight (inclusive)',
  bid_cpm_micros   BIGINT  COMMENT 'Base bid, CPM, micros of USD'
)
USING parquet
COMMENT 'Campaigns';
