-- adtech.dim_user: one row per user with demographics.
--
-- Loaded by spark_jobs/load_dimensions from the user dimension file; each load replaces the
-- whole table. user_id is pseudonymised with the same keyed hash as the event tables, so it
-- joins them. Bucketed by user_id into 8 buckets, like adtech.ad_funnel: the audience join
-- of the two reads bucket i of both in one task, without a shuffle (docs/batch-jobs.md).
-- Not partitioned: a snapshot.
CREATE TABLE IF NOT EXISTS adtech.dim_user (
  user_id   STRING  COMMENT 'Pseudonymised user id (HMAC-SHA256); bucket column',
  age_band  STRING  COMMENT '18-24, 25-34, 35-44, 45-54, 55-64 or 65+',
  gender    STRING  COMMENT 'M, F, O or U (unknown)',
  country   STRING  COMMENT 'Home country, ISO-3166-1 alpha-2',
  segment   STRING  COMMENT 'Audience segment'
)
USING parquet
CLUSTERED BY (user_id) INTO 8 BUCKETS
COMMENT 'Users and their demographics';
