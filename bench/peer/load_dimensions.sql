-- Peer of spark_jobs/load_dimensions: the delivered dimension files (views campaigns_csv and
-- users_csv, every column read as text) -> dim_campaign and dim_user, user ids pseudonymised.
CREATE OR REPLACE TEMP TABLE out_dim_campaign AS
SELECT
  campaign_id, campaign_name, advertiser_id, advertiser_name, pricing_model,
  budget_micros::BIGINT AS budget_micros, flight_start::DATE AS flight_start,
  flight_end::DATE AS flight_end, bid_cpm_micros::BIGINT AS bid_cpm_micros
FROM campaigns_csv;

CREATE OR REPLACE TEMP TABLE out_dim_user AS
SELECT pseudonym(user_id) AS user_id, age_band, gender, country, segment
FROM users_csv;
