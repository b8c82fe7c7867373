-- Peer of spark_jobs/clean_bid_requests: the bid_requests records of the run's arrival hours
-- (view landed_bid_requests), decoded by decode_bid_request (Confluent wire format + Avro,
-- a Python function around fastavro: DuckDB has no Avro datum decoder) -> one row per imp
-- of the curated requests of getvariable('ds'), quarantine and outcome counts.
CREATE OR REPLACE TEMP TABLE bid_requests_checked AS
WITH decoded AS (
  SELECT
    value AS payload,
    epoch_us(kafka_ts) AS arrival_us,
    hour_us(epoch_us(kafka_ts)) AS arrival_hour_us,
    "partition",
    "offset",
    decode_bid_request(value) AS r
  FROM landed_bid_requests
)
SELECT
  payload, arrival_us, arrival_hour_us, "partition", "offset",
  r.event_ms * 1000 AS event_us,
  CASE
    WHEN r.reason IS NOT NULL THEN r.reason
    WHEN r.id = '' OR len(r.imp_ids) = 0 OR list_contains(r.imp_ids, '') THEN 'missing_field'
    WHEN list_bool_or(list_transform(r.floors, lambda x: outside(x,
           getvariable('imp_bidfloor_low'), getvariable('imp_bidfloor_high'))))
      OR list_bool_or(list_transform(r.banner_w, lambda x: outside(x,
           getvariable('imp_banner_w_low'), getvariable('imp_banner_w_high'))))
      OR list_bool_or(list_transform(r.banner_h, lambda x: outside(x,
           getvariable('imp_banner_h_low'), getvariable('imp_banner_h_high'))))
      OR list_bool_or(list_transform(r.banner_pos, lambda x: outside(x,
           getvariable('imp_banner_pos_low'), getvariable('imp_banner_pos_high'))))
      OR outside(r.device_type, getvariable('device_devicetype_low'),
                 getvariable('device_devicetype_high'))
      OR outside(r.gdpr, getvariable('regs_gdpr_low'), getvariable('regs_gdpr_high'))
      OR outside(r.coppa, getvariable('regs_coppa_low'), getvariable('regs_coppa_high'))
      OR outside(r.tmax, getvariable('tmax_low'), getvariable('tmax_high'))
      OR r.yob NOT BETWEEN getvariable('min_yob') AND year(make_timestamp(r.event_ms * 1000))
      THEN 'impossible_value'
    WHEN is_future(r.event_ms * 1000, arrival_hour_us) THEN 'impossible_value'
    WHEN NOT in_time(r.event_ms * 1000, arrival_hour_us) THEN 'too_late'
  END AS reason,
  r.id AS request_id, r.imp_ids, r.floors, r.site_id, r.app_id, r.publisher_id,
  r.device_type, r.country, r.user_id
FROM decoded;

CREATE OR REPLACE TEMP TABLE bid_requests_owned AS
SELECT
  *,
  CASE
    WHEN reason IS NOT NULL THEN 'quarantined'
    WHEN row_number() OVER (PARTITION BY request_id, reason IS NULL
                            ORDER BY arrival_us, "partition", "offset") = 1 THEN 'curated'
    ELSE 'duplicate'
  END AS outcome
FROM bid_requests_checked
WHERE owner_day(event_us, arrival_hour_us) = getvariable('ds');

CREATE OR REPLACE TEMP TABLE out_bid_requests AS
SELECT
  request_id,
  unnest(imp_ids) AS imp_id,
  unnest(floors) AS bidfloor,
  make_timestamp(event_us) AS event_ts,
  site_id, app_id, publisher_id, device_type,
  (SELECT c.alpha2 FROM country_codes c WHERE c.code = upper(trim(country))) AS country,
  pseudonym(user_id) AS user_id,
  getvariable('ds') AS dt
FROM bid_requests_owned
WHERE outcome = 'curated';

CREATE OR REPLACE TEMP TABLE out_quarantine AS
SELECT 'bid_requests' AS source, reason, payload, getvariable('ds') AS dt
FROM bid_requests_owned
WHERE outcome = 'quarantined';

CREATE OR REPLACE TEMP TABLE outcome_counts AS
SELECT 'bid_requests' AS source, outcome, reason, count(*) AS records
FROM bid_requests_owned
GROUP BY ALL;
