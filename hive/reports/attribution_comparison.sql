-- Attribution comparison: how much of each campaign's conversions and revenue is credited
-- last-click and how much last-view, and how much stays unattributed?
--
-- Answers: per campaign named by the conversions of the range, conversions and their
-- value under each outcome of the attribution rule (docs/data-contracts.md, section 5:
-- last click within the look-back, else last view, else none), each model's share of the
-- attributed conversions and revenue, and the mean time from the credited touch (click or
-- view) to the conversion. Conversions count on their own UTC event date, so
-- last_click + last_view equal the conversions and revenue of adtech.campaign_daily.
-- Unattributed conversions count in no campaign's results and are shown apart.
-- Money is in micros of USD.
-- Grain: one row per campaign with at least one curated conversion in the range.
-- Reads: adtech.conversions (the range), adtech.dim_campaign.
-- Parameters:
--   from_date    first UTC event date, YYYY-MM-DD (required)
--   to_date      last UTC event date, YYYY-MM-DD, included (required)
--   campaign_id  one campaign id, or empty or unset for every campaign (optional)
-- Usage:
--   beeline -u jdbc:hive2://127.0.0.1:10000/default --hivevar from_date=2026-03-01 --hivevar to_date=2026-03-31 --hivevar campaign_id= -f hive/reports/attribution_comparison.sql
WITH by_campaign AS (
  SELECT
    campaign_id,
    SUM(CASE WHEN attribution = 'last_click' THEN 1 ELSE 0 END)            AS last_click_conversions,
    SUM(CASE WHEN attribution = 'last_click' THEN value_micros ELSE 0 END) AS last_click_revenue_micros,
    SUM(CASE WHEN attribution = 'last_view' THEN 1 ELSE 0 END)             AS last_view_conversions,
    SUM(CASE WHEN attribution = 'last_view' THEN value_micros ELSE 0 END)  AS last_view_revenue_micros,
    SUM(CASE WHEN attribution = 'none' THEN 1 ELSE 0 END)                  AS unattributed_conversions,
    SUM(CASE WHEN attribution = 'none' THEN value_micros ELSE 0 END)       AS unattributed_value_micros,
    AVG(CASE WHEN attribution = 'last_click'
      THEN UNIX_SECONDS(event_ts) - UNIX_SECONDS(attributed_touch_ts) END) AS last_click_mean_delay_s,
    AVG(CASE WHEN attribution = 'last_view'
      THEN UNIX_SECONDS(event_ts) - UNIX_SECONDS(attributed_touch_ts) END) AS last_view_mean_delay_s
  FROM adtech.conversions
  WHERE dt BETWEEN DATE '${hivevar:from_date}' AND DATE '${hivevar:to_date}'
    AND ('${hivevar:campaign_id}' = '' OR campaign_id = '${hivevar:campaign_id}')
  GROUP BY campaign_id
)
SELECT
  b.campaign_id,
  c.campaign_name,
  b.last_click_conversions,
  b.last_view_conversions,
  b.last_click_conversions + b.last_view_conversions             AS attributed_conversions,
  b.unattributed_conversions,
  b.last_click_revenue_micros,
  b.last_view_revenue_micros,
  b.last_click_revenue_micros + b.last_view_revenue_micros       AS attributed_revenue_micros,
  b.unattributed_value_micros,
  b.last_click_conversions
    / NULLIF(b.last_click_conversions + b.last_view_conversions, 0)         AS last_click_conversion_share,
  b.last_click_revenue_micros
    / NULLIF(b.last_click_revenue_micros + b.last_view_revenue_micros, 0)   AS last_click_revenue_share,
  b.last_click_mean_delay_s,
  b.last_view_mean_delay_s
FROM by_campaign b
LEFT JOIN adtech.dim_campaign c ON c.campaign_id = b.campaign_id
ORDER BY b.campaign_id
;
