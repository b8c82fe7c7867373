-- Pacing: is each campaign spending its budget on schedule over its flight?
--
-- Answers: per campaign and day of the range, the day's spend, the flight spend to date
-- (spend on the days from flight_start to that day, up to flight_end, including days
-- before from_date), the spend planned to date by an even daily split of the budget
-- (budget x flight days elapsed / flight days, in whole micros), the pacing index
-- (spend to date / planned to date: 1.0 on schedule, below 1 behind, above 1 ahead) and
-- the budget left. A day outside the flight on which the campaign still has a row in
-- adtech.campaign_daily is kept (in_flight = false), so spend outside the flight shows up
-- and the spend_micros of the rows add up to the campaign_daily spend of the range.
-- Money is in micros of USD.
-- Grain: one row per (campaign, day of the range) on which the campaign is in flight or
-- has a row in adtech.campaign_daily.
-- Reads: adtech.dim_campaign, adtech.campaign_daily (from the earliest flight start of the
-- campaigns concerned to to_date).
-- Parameters:
--   from_date    first UTC date, YYYY-MM-DD (required)
--   to_date      last UTC date, YYYY-MM-DD, included (required)
--   campaign_id  one campaign id, or empty or unset for every campaign (optional)
-- Usage:
--   beeline -u jdbc:hive2://127.0.0.1:10000/default --hivevar from_date=2026-03-01 --hivevar to_date=2026-03-31 --hivevar campaign_id= -f hive/reports/pacing.sql
WITH days AS (
  SELECT EXPLODE(SEQUENCE(DATE '${hivevar:from_date}', DATE '${hivevar:to_date}', INTERVAL 1 DAY)) AS dt
),
spend_in_range AS (
  SELECT dt, campaign_id, spend_micros
  FROM adtech.campaign_daily
  WHERE dt BETWEEN DATE '${hivevar:from_date}' AND DATE '${hivevar:to_date}'
    AND ('${hivevar:campaign_id}' = '' OR campaign_id = '${hivevar:campaign_id}')
),
campaigns AS (
  SELECT
    campaign_id, campaign_name, budget_micros, flight_start, flight_end,
    DATEDIFF(flight_end, flight_start) + 1 AS flight_days
  FROM adtech.dim_campaign
  WHERE ('${hivevar:campaign_id}' = '' OR campaign_id = '${hivevar:campaign_id}')
    AND (
      (flight_start <= DATE '${hivevar:to_date}' AND flight_end >= DATE '${hivevar:from_date}')
      OR campaign_id IN (SELECT campaign_id FROM spend_in_range)
    )
),
flight_spend AS (
  SELECT d.dt, d.campaign_id, d.spend_micros
  FROM adtech.campaign_daily d
  JOIN campaigns c ON c.campaign_id = d.campaign_id
  WHERE d.dt BETWEEN (SELECT MIN(flight_start) FROM campaigns) AND DATE '${hivevar:to_date}'
    AND d.dt BETWEEN c.flight_start AND c.flight_end
),
campaign_days AS (
  SELECT c.*, d.dt, d.dt BETWEEN c.flight_start AND c.flight_end AS in_flight
  FROM campaigns c
  CROSS JOIN days d
),
rows_kept AS (
  SELECT cd.*, COALESCE(s.spend_micros, 0) AS spend_micros
  FROM campaign_days cd
  LEFT JOIN spend_in_range s ON s.campaign_id = cd.campaign_id AND s.dt = cd.dt
  WHERE cd.in_flight OR s.campaign_id IS NOT NULL
),
to_date_totals AS (
  SELECT r.campaign_id, r.dt, COALESCE(SUM(f.spend_micros), 0) AS flight_spend_to_date_micros
  FROM rows_kept r
  LEFT JOIN flight_spend f ON f.campaign_id = r.campaign_id AND f.dt <= r.dt
  GROUP BY r.campaign_id, r.dt
),
paced AS (
  SELECT
    r.*,
    CASE WHEN r.in_flight THEN DATEDIFF(r.dt, r.flight_start) + 1 END AS flight_day,
    t.flight_spend_to_date_micros,
    r.budget_micros
      * LEAST(GREATEST(DATEDIFF(r.dt, r.flight_start) + 1, 0), r.flight_days)
      DIV r.flight_days AS planned_spend_to_date_micros
  FROM rows_kept r
  JOIN to_date_totals t ON t.campaign_id = r.campaign_id AND t.dt = r.dt
)
SELECT
  campaign_id,
  campaign_name,
  dt,
  in_flight,
  flight_start,
  flight_end,
  flight_day,
  flight_days,
  budget_micros,
  spend_micros,
  flight_spend_to_date_micros,
  planned_spend_to_date_micros,
  flight_spend_to_date_micros / NULLIF(planned_spend_to_date_micros, 0) AS pacing_index,
  budget_micros - flight_spend_to_date_micros AS budget_remaining_micros
FROM paced
ORDER BY campaign_id, dt
;
