-- Peer of spark_jobs/aggregate_campaign_daily: one row per campaign with a curated
-- impression, curated click or attributed conversion on getvariable('ds') (contract §6).
CREATE OR REPLACE TEMP TABLE out_campaign_daily AS
WITH by_impressions AS (
  SELECT campaign_id, count(*) AS impressions, sum(win_price_micros) AS spend_micros,
         count(DISTINCT user_id) AS unique_users
  FROM day_impressions GROUP BY campaign_id
),
by_clicks AS (
  SELECT campaign_id, count(*) AS clicks FROM day_clicks GROUP BY campaign_id
),
by_conversions AS (
  SELECT campaign_id, count(*) AS conversions, sum(value_micros) AS revenue_micros
  FROM day_conversions WHERE attribution <> 'none' GROUP BY campaign_id
),
win AS (
  SELECT
    count(*) FILTER (WHERE w.request_id IS NOT NULL) AS won_bid_imps,
    count(*) AS bid_imps
  FROM day_bids b
  LEFT JOIN (SELECT DISTINCT request_id, imp_id FROM day_impressions) w
    ON w.request_id = b.request_id AND w.imp_id = b.imp_id
),
totals AS (
  SELECT
    campaign_id,
    coalesce(i.impressions, 0) AS impressions,
    coalesce(k.clicks, 0) AS clicks,
    coalesce(v.conversions, 0) AS conversions,
    coalesce(i.spend_micros, 0) AS spend_micros,
    coalesce(v.revenue_micros, 0) AS revenue_micros,
    coalesce(i.unique_users, 0) AS unique_users
  FROM by_impressions i
  FULL JOIN by_clicks k USING (campaign_id)
  FULL JOIN by_conversions v USING (campaign_id)
)
SELECT
  t.campaign_id, t.impressions, t.clicks, t.conversions,
  t.spend_micros::BIGINT AS spend_micros, t.revenue_micros::BIGINT AS revenue_micros,
  t.unique_users,
  t.clicks / nullif(t.impressions, 0) AS ctr,
  t.conversions / nullif(t.clicks, 0) AS cvr,
  t.spend_micros / nullif(t.conversions, 0) AS cpa_micros,
  t.spend_micros * 1000 / nullif(t.impressions, 0) AS ecpm_micros,
  w.won_bid_imps / nullif(w.bid_imps, 0) AS win_rate,
  w.won_bid_imps, w.bid_imps,
  getvariable('ds') AS dt
FROM totals t CROSS JOIN win w;
