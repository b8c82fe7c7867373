-- Daily trend: how did delivery and results move from day to day?
--
-- Answers: impressions, clicks, conversions, spend and revenue per UTC event date, summed
-- over every campaign (or over the one chosen), with CTR, CVR, CPA, eCPM and ROAS of the
-- day. Every day of the range has a row: a day without any activity shows zeros (and NULL
-- ratios), so a chart of the result has no silent gaps. Counts are of events on their own
-- event date (docs/data-contracts.md, section 6), the same as adtech.campaign_daily.
-- Money is in micros of USD.
-- Grain: one row per day from from_date to to_date.
-- Reads: adtech.campaign_daily (only the partitions of the range).
-- Parameters:
--   from_date    first UTC event date, YYYY-MM-DD (required)
--   to_date      last UTC event date, YYYY-MM-DD, included (required)
--   campaign_id  one campaign id, or empty or unset for every campaign (optional)
-- Usage:
--   beeline -u jdbc:hive2://127.0.0.1:10000/default --hivevar from_date=2026-03-01 --hivevar to_date=2026-03-31 --hivevar campaign_id= -f hive/reports/daily_trend.sql
WITH days AS (
  SELECT EXPLODE(SEQUENCE(DATE '${hivevar:from_date}', DATE '${hivevar:to_date}', INTERVAL 1 DAY)) AS dt
),
day_totals AS (
  SELECT
    dt,
    SUM(impressions)    AS impressions,
    SUM(clicks)         AS clicks,
    SUM(conversions)    AS conversions,
    SUM(spend_micros)   AS spend_micros,
    SUM(revenue_micros) AS revenue_micros
  FROM adtech.campaign_daily
  WHERE dt BETWEEN DATE '${hivevar:from_date}' AND DATE '${hivevar:to_date}'
    AND ('${hivevar:campaign_id}' = '' OR campaign_id = '${hivevar:campaign_id}')
  GROUP BY dt
),
filled AS (
  SELECT
    d.dt,
    COALESCE(t.impressions, 0)    AS impressions,
    COALESCE(t.clicks, 0)         AS clicks,
    COALESCE(t.conversions, 0)    AS conversions,
    COALESCE(t.spend_micros, 0)   AS spend_micros,
    COALESCE(t.revenue_micros, 0) AS revenue_micros
  FROM days d
  LEFT JOIN day_totals t ON t.dt = d.dt
)
SELECT
  dt,
  impressions,
  clicks,
  conversions,
  spend_micros,
  revenue_micros,
  clicks / NULLIF(impressions, 0)                              AS ctr,
  conversions / NULLIF(clicks, 0)                              AS cvr,
  spend_micros / NULLIF(conversions, 0)                        AS cpa_micros,
  CAST(spend_micros AS DOUBLE) * 1000 / NULLIF(impressions, 0) AS ecpm_micros,
  revenue_micros / NULLIF(spend_micros, 0)                     AS roas
FROM filled
ORDER BY dt
;
