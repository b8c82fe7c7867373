-- Top creatives: which creatives of each campaign work best?
--
-- Answers: impressions, clicks, conversions, spend and revenue of each creative, with CTR,
-- CVR and ROAS, ranked within its campaign by conversions, then clicks, then impressions
-- (then creative_id, so that ties have a stable order), keeping the top_n of each campaign.
-- Every event is counted on its own UTC event date, as in adtech.campaign_daily, and
-- belongs to the creative of its impression: a click to that of the clicked impression, a
-- conversion to that of the credited impression (clicked or viewed), even when that
-- impression was served before from_date. With top_n at least the number of creatives,
-- the rows of a campaign add up to its campaign_daily totals of the range.
-- Money is in micros of USD.
-- Grain: one row per (campaign, creative), at most top_n per campaign.
-- Reads: adtech.ad_funnel (the range, plus the days of the impressions that clicks and
-- conversions of the range point to), adtech.clicks, adtech.conversions (the range),
-- adtech.dim_campaign.
-- Parameters:
--   from_date    first UTC event date, YYYY-MM-DD (required)
--   to_date      last UTC event date, YYYY-MM-DD, included (required)
--   campaign_id  one campaign id, or empty or unset for every campaign (optional)
--   top_n        creatives kept per campaign, a whole number (optional, default 10)
-- Usage:
--   beeline -u jdbc:hive2://127.0.0.1:10000/default --hivevar from_date=2026-03-01 --hivevar to_date=2026-03-31 --hivevar campaign_id= --hivevar top_n=5 -f hive/reports/top_creatives.sql
WITH impressions_in_range AS (
  SELECT campaign_id, creative_id, win_price_micros
  FROM adtech.ad_funnel
  WHERE dt BETWEEN DATE '${hivevar:from_date}' AND DATE '${hivevar:to_date}'
    AND ('${hivevar:campaign_id}' = '' OR campaign_id = '${hivevar:campaign_id}')
),
clicks_in_range AS (
  SELECT campaign_id, impression_id, CAST(impression_ts AS DATE) AS impression_dt
  FROM adtech.clicks
  WHERE dt BETWEEN DATE '${hivevar:from_date}' AND DATE '${hivevar:to_date}'
    AND ('${hivevar:campaign_id}' = '' OR campaign_id = '${hivevar:campaign_id}')
),
attributed_in_range AS (
  SELECT
    campaign_id, value_micros, attribution, attributed_click_id, attributed_impression_id,
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
    v.campaign_id,
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
  SELECT impression_id, dt, creative_id
  FROM adtech.ad_funnel
  WHERE dt BETWEEN (SELECT MIN(impression_dt) FROM touched_days) AND DATE '${hivevar:to_date}'
    AND ('${hivevar:campaign_id}' = '' OR campaign_id = '${hivevar:campaign_id}')
),
events AS (
  SELECT
    campaign_id, creative_id,
    1 AS impressions, 0 AS clicks, 0 AS conversions,
    win_price_micros AS spend_micros, 0 AS revenue_micros
  FROM impressions_in_range
  UNION ALL
  SELECT c.campaign_id, i.creative_id, 0, 1, 0, 0, 0
  FROM clicks_in_range c
  LEFT JOIN touched_impressions i ON i.impression_id = c.impression_id AND i.dt = c.impression_dt
  UNION ALL
  SELECT v.campaign_id, i.creative_id, 0, 0, 1, 0, v.value_micros
  FROM conversions_in_range v
  LEFT JOIN touched_impressions i ON i.impression_id = v.impression_id AND i.dt = v.impression_dt
),
by_creative AS (
  SELECT
    campaign_id,
    COALESCE(creative_id, 'unknown') AS creative_id,
    SUM(impressions)    AS impressions,
    SUM(clicks)         AS clicks,
    SUM(conversions)    AS conversions,
    SUM(spend_micros)   AS spend_micros,
    SUM(revenue_micros) AS revenue_micros
  FROM events
  GROUP BY campaign_id, COALESCE(creative_id, 'unknown')
),
ranked AS (
  SELECT
    *,
    ROW_NUMBER() OVER (
      PARTITION BY campaign_id
      ORDER BY conversions DESC, clicks DESC, impressions DESC, creative_id
    ) AS creative_rank
  FROM by_creative
)
SELECT
  r.campaign_id,
  c.campaign_name,
  r.creative_rank,
  r.creative_id,
  r.impressions,
  r.clicks,
  r.conversions,
  r.spend_micros,
  r.revenue_micros,
  r.clicks / NULLIF(r.impressions, 0)            AS ctr,
  r.conversions / NULLIF(r.clicks, 0)            AS cvr,
  r.revenue_micros / NULLIF(r.spend_micros, 0)   AS roas
FROM ranked r
LEFT JOIN adtech.dim_campaign c ON c.campaign_id = r.campaign_id
WHERE r.creative_rank <= COALESCE(CAST(NULLIF('${hivevar:top_n}', '') AS INT), 10)
ORDER BY r.campaign_id, r.creative_rank
;
