-- Peer of spark_jobs/build_ad_funnel: one row per curated impression of getvariable('ds')
-- with its bid, clicks and attributed conversions reduced per impression before the join
-- (so two clicks never count an impression twice), campaign and user attributes.
CREATE OR REPLACE TEMP TABLE out_ad_funnel AS
WITH click_totals AS (
  SELECT impression_id, count(*) AS click_count, min(event_ts) AS first_click_ts,
         max(event_ts) AS last_click_ts
  FROM funnel_clicks
  GROUP BY impression_id
),
credited AS (
  SELECT coalesce(k.impression_id, v.attributed_impression_id) AS impression_id,
         v.attribution, v.value_micros
  FROM funnel_conversions v
  LEFT JOIN funnel_clicks k ON k.click_id = v.attributed_click_id
  WHERE v.attribution <> 'none'
),
conversion_totals AS (
  SELECT
    impression_id,
    count(*) FILTER (WHERE attribution = 'last_click') AS last_click_conversions,
    coalesce(sum(value_micros) FILTER (WHERE attribution = 'last_click'), 0)
      AS last_click_conversion_value_micros,
    count(*) FILTER (WHERE attribution = 'last_view') AS last_view_conversions,
    coalesce(sum(value_micros) FILTER (WHERE attribution = 'last_view'), 0)
      AS last_view_conversion_value_micros
  FROM credited
  GROUP BY impression_id
)
SELECT
  i.impression_id, i.request_id, i.imp_id, i.event_ts, i.user_id, i.creative_id,
  CASE WHEN i.site_id IS NOT NULL THEN 'site' WHEN i.app_id IS NOT NULL THEN 'app' END
    AS inventory_type,
  coalesce(i.site_publisher_id, i.app_publisher_id) AS publisher_id,
  i.device_type, i.device_os, i.device_ifa, i.country, i.ip_prefix AS ip_truncated,
  b.request_id IS NOT NULL AS has_bid, b.event_ts AS bid_ts,
  CAST(round(b.bidfloor * 1000000) AS BIGINT) AS bidfloor_cpm_micros,
  i.win_price_micros,
  coalesce(k.click_count, 0) AS click_count,
  coalesce(k.click_count, 0) > 0 AS clicked,
  k.first_click_ts, k.last_click_ts,
  coalesce(v.last_click_conversions, 0) AS last_click_conversions,
  coalesce(v.last_click_conversion_value_micros, 0) AS last_click_conversion_value_micros,
  coalesce(v.last_view_conversions, 0) AS last_view_conversions,
  coalesce(v.last_view_conversion_value_micros, 0) AS last_view_conversion_value_micros,
  coalesce(v.last_click_conversions, 0) + coalesce(v.last_view_conversions, 0) AS conversions,
  coalesce(v.last_click_conversion_value_micros, 0)
    + coalesce(v.last_view_conversion_value_micros, 0) AS conversion_value_micros,
  c.campaign_name, c.advertiser_id, c.advertiser_name, c.pricing_model,
  u.age_band, u.gender, u.country AS user_country, u.segment,
  i.dt, i.campaign_id
FROM funnel_impressions i
LEFT JOIN funnel_bids b ON b.request_id = i.request_id AND b.imp_id = i.imp_id
LEFT JOIN click_totals k ON k.impression_id = i.impression_id
LEFT JOIN conversion_totals v ON v.impression_id = i.impression_id
LEFT JOIN dim_campaign c ON c.campaign_id = i.campaign_id
LEFT JOIN dim_user u ON u.user_id = i.user_id;
