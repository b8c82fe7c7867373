-- Peer of spark_jobs/clean_tracking: the tracking CSV files of the run's arrival hours
-- (view landed_tracking: filename, content) -> curated clicks (correlated with the curated
-- impressions, view recent_impressions) and conversions (last click over this run's clicks
-- and recent_clicks, else last view) of getvariable('ds'); quarantine and outcome counts.
-- A line ends at \r\n, \n or a bare \r; its fields follow RFC 4180 (contract 1.3).

-- The fields of a line split on its quotes (p): odd pieces lie outside quotes, their commas
-- separate fields and an empty one between two quoted pieces is an escaped ""; even pieces
-- are quoted text. NULL when the quotes break the RFC. chr(1) || chr(3) separates the
-- fields: every chr(1) of the line was first written as chr(1) || chr(2).
CREATE OR REPLACE TEMP MACRO csv_quoted(p) AS CASE
  WHEN len(p) % 2 = 1 AND list_bool_and(list_transform(p, lambda s, i:
      i % 2 = 0 OR s = ''
      OR ((i = 1 OR starts_with(s, ',')) AND (i = len(p) OR ends_with(s, ',')))))
  THEN list_transform(
    string_split(
      array_to_string(list_transform(p, lambda s, i: CASE
        WHEN i % 2 = 0 THEN s
        WHEN s = '' AND i > 1 AND i < len(p) THEN '"'
        ELSE replace(s, ',', chr(1) || chr(3)) END), ''),
      chr(1) || chr(3)),
    lambda f: replace(f, chr(1) || chr(2), chr(1)))
END;
CREATE OR REPLACE TEMP MACRO csv_fields(line) AS CASE
  WHEN NOT contains(line, '"') THEN string_split(line, ',')
  ELSE csv_quoted(string_split(replace(line, chr(1), chr(1) || chr(2)), '"'))
END;

CREATE OR REPLACE TEMP TABLE tracking_lines AS
WITH files AS (
  SELECT
    parse_filename(filename) AS file_name,
    -- BLOB -> VARCHAR writes control bytes and bytes above 0x7f as \xNN (a line end is
    -- \x0A, a quote \x22, a backslash \x5C), so a file with invalid UTF-8 still splits;
    -- each line is turned back into bytes and checked on its own below.
    regexp_split_to_array(content::VARCHAR, '\\x0D\\x0A|\\x0A|\\x0D') AS lines
  FROM landed_tracking
),
numbered AS (
  SELECT file_name, unnest(lines) AS escaped, generate_subscripts(lines, 1) AS line_number
  FROM files
)
SELECT
  file_name,
  line_number,
  epoch_us(strptime(substr(file_name, 10, 11), '%Y%m%d_%H')) AS arrival_hour_us,
  try(decode(escaped::BLOB)) AS line,
  escaped::BLOB AS payload
FROM numbered
WHERE line_number > 1 AND escaped <> '';

CREATE OR REPLACE TEMP TABLE tracking_checked AS
WITH split AS (
  SELECT *, CASE WHEN line IS NOT NULL THEN csv_fields(line) END AS f
  FROM tracking_lines
),
parsed AS (
  SELECT
    *,
    CASE WHEN len(f) = 8 AND f[3] <> '' THEN contract_ts_us(f[3]) END AS event_us,
    CASE WHEN len(f) = 8 AND regexp_full_match(f[8], '-?[0-9]+(\.[0-9]{1,6})?')
      THEN try_cast(try(try_cast(f[8] AS DECIMAL(38, 6)) * 1000000) AS BIGINT) END AS value_micros
  FROM split
)
SELECT
  file_name, line_number, arrival_hour_us, payload, event_us,
  CASE WHEN len(f) = 8 THEN f[1] END AS record_type,
  CASE
    WHEN line IS NULL THEN 'invalid_utf8'
    WHEN f IS NULL OR len(f) <> 8 THEN 'bad_column_count'
    WHEN f[1] = '' THEN 'missing_field'
    WHEN f[1] NOT IN ('click', 'conversion') THEN 'unknown_record_type'
    WHEN f[1] = 'click' AND (f[2] = '' OR f[3] = '' OR f[4] = '' OR f[5] = '' OR f[6] = '')
      THEN 'missing_field'
    WHEN f[1] = 'conversion' AND (f[3] = '' OR f[4] = '' OR f[5] = '' OR f[7] = '' OR f[8] = '')
      THEN 'missing_field'
    WHEN event_us IS NULL THEN 'unparsable_timestamp'
    -- A float literal, NaN or infinity is a number no decimal of micros holds; a value of
    -- the grammar over a BIGINT of micros too.
    WHEN f[1] = 'conversion' AND NOT regexp_full_match(f[8], '-?[0-9]+(\.[0-9]{1,6})?')
      AND NOT regexp_full_match(f[8],
        '[+-]?([nN][aA][nN]|[iI][nN][fF]([iI][nN][iI][tT][yY])?|([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?)')
      THEN 'unparsable_number'
    WHEN f[1] = 'conversion' AND value_micros IS NULL THEN 'impossible_value'
    WHEN f[1] = 'conversion'
      AND (f[7] NOT IN ('purchase', 'signup', 'lead', 'add_to_cart') OR value_micros < 0)
      THEN 'impossible_value'
    WHEN is_future(event_us, arrival_hour_us) THEN 'impossible_value'
    WHEN NOT in_time(event_us, arrival_hour_us) THEN 'too_late'
  END AS reason,
  nullif(f[2], '') AS event_id,
  pseudonym(f[4]) AS user_id,
  f[5] AS campaign_id,
  f[6] AS impression_id,
  f[7] AS conversion_type,
  value_micros
FROM parsed;

-- Dedup (contract §4): first arrival wins (the file hour, then file name and line).
CREATE OR REPLACE TEMP TABLE tracking_owned AS
SELECT
  *,
  CASE
    WHEN reason IS NOT NULL THEN 'quarantined'
    WHEN row_number() OVER (
      PARTITION BY record_type, reason IS NULL,
        coalesce(event_id, concat_ws('|', 'fp', event_us, user_id, campaign_id, conversion_type,
                                     value_micros))
      ORDER BY arrival_hour_us, file_name, line_number) = 1 THEN 'curated'
    ELSE 'duplicate'
  END AS outcome
FROM tracking_checked
WHERE owner_day(event_us, arrival_hour_us) = getvariable('ds');

-- Correlation (contract §5): the impression of the same id whose date is the click's or up
-- to ceil(W) days before, the earliest if several; then the checks in the contract's order.
CREATE OR REPLACE TEMP TABLE clicks_correlated AS
WITH clicks AS (
  SELECT * FROM tracking_owned WHERE outcome = 'curated' AND record_type = 'click'
),
matched AS (
  SELECT
    c.*,
    arg_min(epoch_us(i.event_ts), epoch_us(i.event_ts)) AS imp_us,
    arg_min(i.user_id, epoch_us(i.event_ts)) AS imp_user_id,
    arg_min(i.campaign_id, epoch_us(i.event_ts)) AS imp_campaign_id
  FROM clicks c
  LEFT JOIN recent_impressions i
    ON i.impression_id = c.impression_id
   AND i.dt BETWEEN us_date(c.event_us) - getvariable('window_days') AND us_date(c.event_us)
  GROUP BY ALL
)
SELECT
  * EXCLUDE (reason, outcome),
  CASE
    WHEN imp_us IS NULL THEN 'orphan_click'
    WHEN event_us < imp_us THEN 'click_before_impression'
    WHEN event_us > imp_us + getvariable('window_us') THEN 'click_outside_window'
    WHEN user_id <> imp_user_id OR campaign_id <> imp_campaign_id THEN 'click_impression_mismatch'
  END AS reason
FROM matched;

CREATE OR REPLACE TEMP TABLE out_clicks AS
SELECT
  event_id AS click_id, make_timestamp(event_us) AS event_ts, user_id, campaign_id,
  impression_id, make_timestamp(imp_us) AS impression_ts,
  (event_us - imp_us) // 1000 AS latency_ms,
  getvariable('ds') AS dt
FROM clicks_correlated
WHERE reason IS NULL;

-- Attribution: last click (lookback), else last view; ties to the smallest id.
CREATE OR REPLACE TEMP TABLE out_conversions AS
WITH conversions AS (
  SELECT * FROM tracking_owned WHERE outcome = 'curated' AND record_type = 'conversion'
),
touch_clicks AS (
  SELECT click_id, epoch_us(event_ts) AS touch_us, user_id, campaign_id FROM out_clicks
  UNION ALL
  SELECT click_id, epoch_us(event_ts), user_id, campaign_id FROM recent_clicks
),
last_click AS (
  SELECT
    v.file_name, v.line_number, max(k.touch_us) AS touch_us
  FROM conversions v
  JOIN touch_clicks k
    ON k.user_id = v.user_id AND k.campaign_id = v.campaign_id
   AND k.touch_us BETWEEN v.event_us - getvariable('click_lookback_us') AND v.event_us
  GROUP BY ALL
),
last_click_id AS (
  SELECT l.file_name, l.line_number, min(k.click_id) AS click_id
  FROM last_click l
  JOIN conversions v USING (file_name, line_number)
  JOIN touch_clicks k
    ON k.user_id = v.user_id AND k.campaign_id = v.campaign_id AND k.touch_us = l.touch_us
  GROUP BY ALL
),
last_view AS (
  SELECT v.file_name, v.line_number, max(epoch_us(i.event_ts)) AS touch_us
  FROM conversions v
  JOIN recent_impressions i
    ON i.user_id = v.user_id AND i.campaign_id = v.campaign_id
   AND epoch_us(i.event_ts) BETWEEN v.event_us - getvariable('view_lookback_us') AND v.event_us
  GROUP BY ALL
),
last_view_id AS (
  SELECT l.file_name, l.line_number, min(i.impression_id) AS impression_id
  FROM last_view l
  JOIN conversions v USING (file_name, line_number)
  JOIN recent_impressions i
    ON i.user_id = v.user_id AND i.campaign_id = v.campaign_id
   AND epoch_us(i.event_ts) = l.touch_us
  GROUP BY ALL
)
SELECT
  coalesce(v.event_id, concat_ws('|', 'fp', v.event_us, v.user_id, v.campaign_id,
                                 v.conversion_type, v.value_micros)) AS conversion_key,
  v.event_id AS conversion_id,
  make_timestamp(v.event_us) AS event_ts, v.user_id, v.campaign_id, v.conversion_type,
  v.value_micros,
  CASE WHEN c.click_id IS NOT NULL THEN 'last_click'
       WHEN w.impression_id IS NOT NULL THEN 'last_view'
       ELSE 'none' END AS attribution,
  c.click_id AS attributed_click_id,
  CASE WHEN c.click_id IS NULL THEN w.impression_id END AS attributed_impression_id,
  getvariable('ds') AS dt
FROM conversions v
LEFT JOIN last_click_id c USING (file_name, line_number)
LEFT JOIN last_view_id w USING (file_name, line_number);

CREATE OR REPLACE TEMP TABLE out_quarantine AS
SELECT 'tracking' AS source, reason, payload, getvariable('ds') AS dt
FROM tracking_owned WHERE outcome = 'quarantined'
UNION ALL
SELECT 'tracking', reason, payload, getvariable('ds') FROM clicks_correlated
WHERE reason IS NOT NULL;

CREATE OR REPLACE TEMP TABLE outcome_counts AS
SELECT 'tracking' AS source, outcome, reason, count(*) AS records
FROM (
  SELECT outcome, reason FROM tracking_owned WHERE NOT (outcome = 'curated' AND record_type = 'click')
  UNION ALL
  SELECT CASE WHEN reason IS NULL THEN 'curated' ELSE 'quarantined' END, reason
  FROM clicks_correlated
)
GROUP BY ALL;
