-- Funnel: how much of the auction traffic turns into impressions, clicks and conversions?
--
-- Answers: the number of events at each stage, bid requests -> wins -> impressions ->
-- clicks -> conversions, and the rate from each stage to the next, over a range of days.
-- bid_requests: offered bid-request imps (adtech.bid_requests has one row per imp).
-- wins: those imps that a curated impression won, matched by (request_id, imp_id) as
--   adtech.campaign_daily.won_bid_imps is (the impression is served right after the
--   auction, so on the request's date or the day after).
-- impressions, clicks, conversions (attributed last-click or last-view): curated events,
-- each on its own UTC event date, as in adtech.campaign_daily.
-- A bid request names no campaign: with campaign_id set, bid_requests still counts every
-- offered imp (scope 'all campaigns') and the later stages count that campaign only, so
-- wins / bid_requests is the campaign's share of the auctions.
-- Grain: one row per stage (five rows), in funnel order.
-- Reads: adtech.bid_requests, adtech.clicks, adtech.conversions (the range),
-- adtech.ad_funnel (the range and the day after it).
-- Parameters:
--   from_date    first UTC event date, YYYY-MM-DD (required)
--   to_date      last UTC event date, YYYY-MM-DD, included (required)
--   campaign_id  one campaign id, or empty or unset for every campaign (optional)
-- Usage:
--   beeline -u jdbc:hive2://127.0.0.1:10000/default --hivevar from_date=2026-03-01 --hivevar to_date=2026-03-31 --hivevar campaign_id= -f hive/reports/funnel.sql
WITH bid_imps AS (
  SELECT request_id, imp_id
  FROM adtech.bid_requests
  WHERE dt BETWEEN DATE '${hivevar:from_date}' AND DATE '${hivevar:to_date}'
),
winning_impressions AS (
  SELECT request_id, imp_id
  FROM adtech.ad_funnel
  WHERE dt BETWEEN DATE '${hivevar:from_date}' AND DATE_ADD(DATE '${hivevar:to_date}', 1)
    AND has_bid
    AND ('${hivevar:campaign_id}' = '' OR campaign_id = '${hivevar:campaign_id}')
),
won_bid_imps AS (
  SELECT b.request_id, b.imp_id
  FROM bid_imps b
  LEFT SEMI JOIN winning_impressions w ON w.request_id = b.request_id AND w.imp_id = b.imp_id
),
stages AS (
  SELECT 1 AS stage_order, 'bid_requests' AS stage, COUNT(*) AS events, TRUE AS all_campaigns
  FROM bid_imps
  UNION ALL
  SELECT 2, 'wins', COUNT(*), '${hivevar:campaign_id}' = ''
  FROM won_bid_imps
  UNION ALL
  SELECT 3, 'impressions', COUNT(*), '${hivevar:campaign_id}' = ''
  FROM adtech.ad_funnel
  WHERE dt BETWEEN DATE '${hivevar:from_date}' AND DATE '${hivevar:to_date}'
    AND ('${hivevar:campaign_id}' = '' OR campaign_id = '${hivevar:campaign_id}')
  UNION ALL
  SELECT 4, 'clicks', COUNT(*), '${hivevar:campaign_id}' = ''
  FROM adtech.clicks
  WHERE dt BETWEEN DATE '${hivevar:from_date}' AND DATE '${hivevar:to_date}'
    AND ('${hivevar:campaign_id}' = '' OR campaign_id = '${hivevar:campaign_id}')
  UNION ALL
  SELECT 5, 'conversions', COUNT(*), '${hivevar:campaign_id}' = ''
  FROM adtech.conversions
  WHERE dt BETWEEN DATE '${hivevar:from_date}' AND DATE '${hivevar:to_date}'
    AND attribution IN ('last_click', 'last_view')
    AND ('${hivevar:campaign_id}' = '' OR campaign_id = '${hivevar:campaign_id}')
)
SELECT
  stage_order,
  stage,
  CASE WHEN all_campaigns THEN 'all campaigns' ELSE '${hivevar:campaign_id}' END AS scope,
  events,
  events / NULLIF(LAG(events) OVER (ORDER BY stage_order), 0) AS rate_from_previous
FROM stages
ORDER BY stage_order
;
