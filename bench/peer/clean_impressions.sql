-- Peer of spark_jobs/clean_impressions: the ad_impressions records of the run's arrival
-- hours (view landed_impressions) -> curated impressions of getvariable('ds'), and the
-- quarantine and outcome counts of the records that day owns (contract §2-§4).
CREATE OR REPLACE TEMP TABLE impressions_checked AS
WITH decoded AS (
  SELECT
    value AS payload,
    epoch_us(kafka_ts) AS arrival_us,
    hour_us(epoch_us(kafka_ts)) AS arrival_hour_us,
    "partition",
    "offset",
    try(decode(value)) AS body
  FROM landed_impressions
),
parsed AS (
  -- DuckDB's reader also takes NaN, Infinity and trailing commas, which JSON (RFC 8259)
  -- does not have: such a text is malformed_json (outside strings; the cheap test first).
  SELECT *, CASE WHEN json_valid(body) AND json_type(body) = 'OBJECT'
      AND NOT (regexp_matches(body, '(?i)nan|inf|,[ \t\n\r]*[}\]]')
               AND regexp_matches(body, '^(?:[^"]|"(?:[^"\\]|\\.)*")*?(?:[:,\[][ \t\n\r]*[+-]?(?i:nan|inf)|,[ \t\n\r]*[}\]])'))
    THEN body::JSON END AS doc
  FROM decoded
),
extracted AS (
  SELECT
    *,
    json_extract(doc, ['$.impression_id', '$.request_id', '$.imp_id', '$.event_ts', '$.user_id',
      '$.campaign_id', '$.creative_id', '$.currency', '$.win_price_micros',
      '$.site', '$.app', '$.device', '$.geo', '$.ip']) AS v,
    json_exists(doc, '$.unmatched_line') AS unmatched
  FROM parsed
),
typed AS (
  SELECT
    *,
    list_transform(v, lambda x: json_type(x)) AS t,
    list_transform(v, lambda x: x ->> '$') AS s
  FROM extracted
),
checked AS (
  SELECT
    *,
    CASE WHEN t[4] = 'VARCHAR' THEN contract_ts_us(s[4]) END AS event_us,
    -- A JSON integer literal; one too large for BIGINT reads as UBIGINT or DOUBLE.
    t[9] IN ('BIGINT', 'UBIGINT')
      OR (t[9] = 'DOUBLE' AND regexp_full_match(v[9]::VARCHAR, '-?[0-9]+')) AS price_integer,
    CASE WHEN t[9] IN ('BIGINT', 'UBIGINT') THEN try_cast(s[9] AS BIGINT) END AS price
  FROM typed
)
SELECT
  payload, arrival_us, arrival_hour_us, "partition", "offset", event_us,
  CASE
    WHEN body IS NULL THEN 'invalid_utf8'
    WHEN doc IS NULL OR unmatched THEN 'malformed_json'
    WHEN list_bool_or(list_transform(range(1, 10),
           lambda i: t[i] IS NULL OR t[i] = 'NULL' OR (t[i] = 'VARCHAR' AND s[i] = ''))) THEN 'missing_field'
    WHEN list_bool_or(list_transform(range(1, 9), lambda i: t[i] <> 'VARCHAR'))
      OR NOT price_integer
      OR list_bool_or(list_transform(range(10, 14), lambda i: t[i] NOT IN ('NULL', 'OBJECT')))
      OR t[14] NOT IN ('NULL', 'VARCHAR') THEN 'wrong_type'
    WHEN event_us IS NULL THEN 'unparsable_timestamp'
    WHEN price IS NULL
      OR price NOT BETWEEN getvariable('win_price_micros_low') AND getvariable('win_price_micros_high')
      OR s[8] <> 'USD' THEN 'impossible_value'
    WHEN is_future(event_us, arrival_hour_us) THEN 'impossible_value'
    WHEN NOT in_time(event_us, arrival_hour_us) THEN 'too_late'
  END AS reason,
  s[1] AS impression_id, s[2] AS request_id, s[3] AS imp_id, s[5] AS user_id,
  s[6] AS campaign_id, s[7] AS creative_id, price AS win_price_micros,
  doc ->> '$.site.id' AS site_id, doc ->> '$.site.publisher_id' AS site_publisher_id,
  doc ->> '$.app.id' AS app_id, doc ->> '$.app.publisher_id' AS app_publisher_id,
  doc ->> '$.device.type' AS device_type, doc ->> '$.device.os' AS device_os,
  doc ->> '$.device.ifa' AS device_ifa,
  doc ->> '$.geo.country' AS country, doc ->> '$.geo.region' AS region,
  doc ->> '$.geo.city' AS city, s[14] AS ip
FROM checked;

CREATE OR REPLACE TEMP TABLE impressions_owned AS
SELECT
  *,
  CASE
    WHEN reason IS NOT NULL THEN 'quarantined'
    WHEN row_number() OVER (PARTITION BY impression_id, reason IS NULL
                            ORDER BY arrival_us, "partition", "offset") = 1 THEN 'curated'
    ELSE 'duplicate'
  END AS outcome
FROM impressions_checked
WHERE owner_day(event_us, arrival_hour_us) = getvariable('ds');

CREATE OR REPLACE TEMP TABLE out_impressions AS
SELECT
  impression_id, request_id, imp_id,
  make_timestamp(event_us) AS event_ts,
  pseudonym(user_id) AS user_id,
  campaign_id, creative_id, site_id, site_publisher_id, app_id, app_publisher_id,
  device_type, device_os, pseudonym(device_ifa) AS device_ifa, country, region, city,
  CASE
    WHEN regexp_full_match(ip, '[0-9]{1,3}(\.[0-9]{1,3}){3}')
      THEN regexp_replace(ip, '\.[0-9]+$', '.0')
    WHEN ip LIKE '%:%' THEN array_to_string(string_split(ip, ':')[1:3], ':') || '::'
  END AS ip_prefix,
  win_price_micros,
  'USD' AS currency,
  getvariable('ds') AS dt
FROM impressions_owned
WHERE outcome = 'curated';

CREATE OR REPLACE TEMP TABLE out_quarantine AS
SELECT 'impressions' AS source, reason, payload, getvariable('ds') AS dt
FROM impressions_owned
WHERE outcome = 'quarantined';

CREATE OR REPLACE TEMP TABLE outcome_counts AS
SELECT 'impressions' AS source, outcome, reason, count(*) AS records
FROM impressions_owned
GROUP BY ALL;
