-- Helpers shared by every stage of the DuckDB peer (docs/performance.md).
-- Times are BIGINT microseconds since the epoch (UTC), as in the contract's reference.

-- A contract timestamp (docs/data-contracts.md 1.2) in microseconds, NULL when it breaks
-- the grammar or is not a real calendar instant (make_timestamp would roll 24:00 over).
CREATE OR REPLACE MACRO contract_ts_us(ts) AS (
  CASE
    WHEN NOT regexp_full_match(
      ts, '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})'
    ) THEN NULL
    WHEN substr(ts, 12, 2)::INTEGER > 23 OR substr(ts, 15, 2)::INTEGER > 59
      OR substr(ts, 18, 2)::INTEGER > 59 THEN NULL
    WHEN try(make_date(substr(ts, 1, 4)::INTEGER, substr(ts, 6, 2)::INTEGER,
                       substr(ts, 9, 2)::INTEGER)) IS NULL THEN NULL
    WHEN right(ts, 1) <> 'Z' AND (substr(right(ts, 6), 2, 2)::INTEGER > 23
                                  OR substr(right(ts, 6), 5, 2)::INTEGER > 59) THEN NULL
    ELSE epoch_us(make_timestamp(
        substr(ts, 1, 4)::BIGINT, substr(ts, 6, 2)::BIGINT, substr(ts, 9, 2)::BIGINT,
        substr(ts, 12, 2)::BIGINT, substr(ts, 15, 2)::BIGINT, substr(ts, 18, 2)::DOUBLE))
      + coalesce(nullif(rpad(regexp_extract(ts, '\.([0-9]{1,6})', 1), 6, '0'), '')::BIGINT, 0)
      - CASE WHEN right(ts, 1) = 'Z' THEN 0
             ELSE (CASE WHEN substr(right(ts, 6), 1, 1) = '+' THEN 1 ELSE -1 END)
                  * (substr(right(ts, 6), 2, 2)::BIGINT * 60 + substr(right(ts, 6), 5, 2)::BIGINT)
                  * 60000000
        END
  END
);

-- Contract §3: a number that is not finite or lies outside its range is impossible_value;
-- NULL (an absent optional field) passes.
CREATE OR REPLACE MACRO outside(x, low, high) AS (
  isnan(x::DOUBLE) OR isinf(x::DOUBLE) OR x NOT BETWEEN low AND high
);

CREATE OR REPLACE MACRO us_date(us) AS (DATE '1970-01-01' + CAST(us // 86400000000 AS INTEGER));
CREATE OR REPLACE MACRO hour_us(us) AS (us - us % 3600000000);

-- Contract §2: in time = arrival hour before event date + 1 day + grace;
-- future = event after the end of the arrival hour plus the clock-skew tolerance.
CREATE OR REPLACE MACRO is_future(event_us, arrival_hour_us) AS (
  event_us > arrival_hour_us + 3600000000 + getvariable('future_us')
);
CREATE OR REPLACE MACRO in_time(event_us, arrival_hour_us) AS (
  arrival_hour_us < event_us - event_us % 86400000000 + 86400000000 + getvariable('grace_us')
);
CREATE OR REPLACE MACRO owner_day(event_us, arrival_hour_us) AS (
  CASE WHEN event_us IS NOT NULL AND NOT is_future(event_us, arrival_hour_us)
            AND in_time(event_us, arrival_hour_us) THEN us_date(event_us)
       ELSE us_date(arrival_hour_us) END
);

-- Semantic 8: hex HMAC-SHA256 under the platform key (RFC 2104; the padded key blocks
-- are computed once by the runner), as the Spark jobs pseudonymise ids.
CREATE OR REPLACE MACRO pseudonym(id) AS (
  CASE WHEN id IS NOT NULL THEN sha256(getvariable('hmac_opad')
    || unhex(sha256(getvariable('hmac_ipad') || encode(id)))) END
);
