-- Campaign performance: how did each campaign do over a range of days?
--
-- Answers: impressions, clicks, conversions, spend and revenue of each campaign, and the
-- ratios built from them: CTR = clicks / impressions, CVR = conversions / clicks,
-- CPA = spend / conversions, eCPM = spend x 1000 / impressions, ROAS = revenue / spend.
-- Every count is of events on their own UTC event date (docs/data-contracts.md, section 6),
-- so the rows add up to the daily trend of the same range. Ratios are taken over the sums of
-- the range, never averaged from daily ratios, and are NULL when their denominator is 0.
-- Money is in micros of USD (1 USD = 1 000 000).
-- Grain: one row per campaign with a row in adtech.campaign_daily in the range.
-- Reads: adtech.campaign_daily (only the partitions of the range), adtech.dim_campaign.
-- Parameters:
--   from_date    first UTC event date, YYYY-MM-DD (required)
--   to_date      last UTC event date, YYYY-MM-DD, included (required)
--   campaign_id  one campaign id, or empty or unset for every campaign (optional)
-- Usage:
--   beeline -u jdbc:hive2://127.0.0.1:10000/default --hivevar from_date=2026-03-01 --hivevar to_date=2026-03-31 --hivevar campaign_id= -f hive/reports/campaign_performance.sql
WITH days_in_range AS (
  SELECT campaign_id, impressions, clicks, conversions, spend_micros, revenue_micros
  FROM adtech.campaign_daily
  WHERE dt BETWEEN DATE '${hivevar:from_date}' AND DATE '${hivevar:to_date}'
    AND ('${hivevar:campaign_id}' = '' OR campaign_id = '${hivevar:campaign_id}')
),
campaign_totals AS (
  SELECT
    campaign_id,
    SUM(impressions)    AS impressions,
    SUM(clicks)         AS clicks,
    SUM(conversions)    AS conversions,
    SUM(spend_micros)   AS spend_micros,
    SUM(revenue_micros) AS revenue_micros
  FROM days_in_range
  GROUP BY campaign_id
)
SELECT
  t.campaign_id,
  c.campaign_name,
  c.advertiser_name,
  c.pricing_model,
  t.impressions,
  t.clicks,
  t.conversions,
  t.spend_micros,
  t.revenue_micros,
  t.clicks / NULLIF(t.impressions, 0)                               AS ctr,
  t.conversions / NULLIF(t.clicks, 0)                               AS cvr,
  t.spend_micros / NULLIF(t.conversions, 0)                         AS cpa_micros,
  CAST(t.spend_micros AS DOUBLE) * 1000 / NULLIF(t.impressions, 0)  AS ecpm_micros,
  t.revenue_micros / NULLIF(t.spend_micros, 0)                      AS roas
FROM campaign_totals t
LEFT JOIN adtech.dim_campaign c ON c.campaign_id = t.campaign_id
ORDER BY t.spend_micros DESC, t.campaign_id
;
