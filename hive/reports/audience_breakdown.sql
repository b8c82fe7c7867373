-- Audience breakdown: who saw the ads, who clicked and who converted?
--
-- Answers: impressions, unique users, clicks, conversions, spend and revenue by age band,
-- gender, country and device type, with CTR, CVR and eCPM of each group. Every event is
-- counted on its own UTC event date, as in adtech.campaign_daily, and takes the attributes
-- of the impression it belongs to: a click those of the clicked impression, a conversion
-- those of the credited impression (the clicked one for last-click, the viewed one for
-- last-view), even when that impression was served before from_date. So within each
-- dimension the groups add up to the campaign_daily totals of the range.
-- age_band, gender and country (the user's home country) come from adtech.dim_user through
-- ad_funnel, device_type from the impression. 'unknown' stands for a missing value.
-- Money is in micros of USD.
-- Grain: one row per (dimension, value), where dimension is age_band, gender, country or
-- device_type.
-- Reads: adtech.ad_funnel (the range, plus the days of the impressions that clicks and
-- conversions of the range point to), adtech.clicks and adtech.conversions (the range).
-- Parameters:
--   from_date    first UTC event date, YYYY-MM-DD (required)
--   to_date      last UTC event date, YYYY-MM-DD, included (required)
--   campaign_id  one campaign id, or empty or unset for every campaign (optional)
-- Usage:
--   beeline -u jdbc:hive2://127.0.0.1:10000/default --hivevar from_date=2026-03-01 --hivevar to_date=2026-03-31 --hivevar campaign_id= -f hive/reports/audience_breakdown.sql
WITH impressions_in_range AS (
  SELECT user_id, device_type, age_band, gender, user_country, win_price_micros
  FROM adtech.ad_funnel
  WHERE dt BETWEEN DATE '${hivevar:from_date}' AND DATE '${hivevar:to_date}'
    AND ('${hivevar:campaign_id}' = '' OR campaign_id = '${hivevar:campaign_id}')
),
clicks_in_range AS (
  SELECT impression_id, CAST(impression_ts AS DATE) AS impression_dt
  FROM adtech.clicks
  WHERE dt BETWEEN DATE '${hivevar:from_date}' AND DATE '${hivevar:to_date}'
    AND ('${hivevar:campaign_id}' = '' OR campaign_id = '${hivevar:campaign_id}')
),
attributed_in_range AS (
  SELECT
    value_micros, attribution, attributed_click_id, attributed_impression_id,
    attributed_touch_ts
  FROM adtech.conversions
  WHERE dt BETWEEN DATE '${hivevar:from_date}' AND DATE '${hivevar:to_date}'
    AND attribution IN ('last_click', 'last_view')
    AND ('${hivevar:campaign_id}' = '' OR campaign_id = '${hivevar:campaign_id}')
),
-- The clicks credited by those conversions, read from the days of the touches only.
credited_clicks AS (
  SELECT event_id, dt, impression_ts
  FROM adtech.clicks
  WHERE dt BETWEEN (SELECT MIN(CAST(attributed_touch_ts AS DATE)) FROM attributed_in_range)
    AND DATE '${hivevar:to_date}'
    AND ('${hivevar:campaign_id}' = '' OR campaign_id = '${hivevar:campaign_id}')
),
-- The credited impression's date: a last-view touch is the impression itself, a
-- last-click touch is a click, whose row in adtech.clicks knows its impression's time.
conversions_in_range AS (
  SELECT
    v.value_micros,
    v.attributed_impression_id AS impression_id,
    CASE
      WHEN v.attribution = 'last_view' THEN CAST(v.attributed_touch_ts AS DATE)
      ELSE CAST(k.impression_ts AS DATE)
    END AS impression_dt
  FROM attributed_in_range v
  LEFT JOIN credited_clicks k
    ON v.attribution = 'last_click'
    AND k.event_id = v.attributed_click_id
    AND k.dt = CAST(v.attributed_touch_ts AS DATE)
),
touched_days AS (
  SELECT impression_dt FROM clicks_in_range
  UNION ALL
  SELECT impression_dt FROM conversions_in_range
),
-- Impressions that a click or conversion of the range points to. The bounds keep the scan
-- to the days those impressions were served on (the lower one is evaluated before the
-- scan, so it prunes partitions too).
touched_impressions AS (
  SELECT impression_id, dt, device_type, age_band, gender, user_country
  FROM adtech.ad_funnel
  WHERE dt BETWEEN (SELECT MIN(impression_dt) FROM touched_days) AND DATE '${hivevar:to_date}'
    AND ('${hivevar:campaign_id}' = '' OR campaign_id = '${hivevar:campaign_id}')
),
events AS (
  SELECT
    user_id, device_type, age_band, gender, user_country,
    1 AS impressions, 0 AS clicks, 0 AS conversions,
    win_price_micros AS spend_micros, 0 AS revenue_micros
  FROM impressions_in_range
  UNION ALL
  SELECT
    NULL, i.device_type, i.age_band, i.gender, i.user_country,
    0, 1, 0, 0, 0
  FROM clicks_in_range c
  LEFT JOIN touched_impressions i ON i.impression_id = c.impression_id AND i.dt = c.impression_dt
  UNION ALL
  SELECT
    NULL, i.device_type, i.age_band, i.gender, i.user_country,
    0, 0, 1, 0, v.value_micros
  FROM conversions_in_range v
  LEFT JOIN touched_impressions i ON i.impression_id = v.impression_id AND i.dt = v.impression_dt
),
by_group AS (
  SELECT
    dimension,
    value,
    SUM(impressions)        AS impressions,
    COUNT(DISTINCT user_id) AS unique_users,
    SUM(clicks)             AS clicks,
    SUM(conversions)        AS conversions,
    SUM(spend_micros)       AS spend_micros,
    SUM(revenue_micros)     AS revenue_micros
  FROM events
  LATERAL VIEW STACK(
    4,
    'age_band', COALESCE(age_band, 'unknown'),
    'gender', COALESCE(gender, 'unknown'),
    'country', COALESCE(user_country, 'unknown'),
    'device_type', COALESCE(device_type, 'unknown')
  ) dims AS dimension, value
  GROUP BY dimension, value
)
SELECT
  dimension,
  value,
  impressions,
  unique_users,
  clicks,
  conversions,
  spend_micros,
  revenue_micros,
  clicks / NULLIF(impressions, 0)                              AS ctr,
  conversions / NULLIF(clicks, 0)                              AS cvr,
  CAST(spend_micros AS DOUBLE) * 1000 / NULLIF(impressions, 0) AS ecpm_micros
FROM by_group
ORDER BY
  CASE dimension WHEN 'age_band' THEN 1 WHEN 'gender' THEN 2 WHEN 'country' THEN 3 ELSE 4 END,
  value
;
