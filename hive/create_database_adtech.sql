-- Database `adtech`: every table of the platform.
--
-- All tables are Spark datasource tables (`USING parquet`), managed, inside the database
-- folder on the lake (`<lake>/warehouse/adtech.db/<table>`). Why datasource tables and not
-- Hive-format ones (`STORED AS PARQUET`): the SQL endpoint is the Spark Thrift Server, and
-- only datasource tables give Spark bucketed joins without a shuffle (docs/batch-jobs.md,
-- "Table format and bucketing").
--
-- Parameter (substituted by `adplatform hive init`, or by beeline):
--   adtech_location   the database folder, e.g. hdfs://127.0.0.1:8020/adtech/warehouse/adtech.db
-- Usage:
--   beeline -u jdbc:hive2://127.0.0.1:10000 --hivevar adtech_location=<folder> -f hive/create_database_adtech.sql
CREATE DATABASE IF NOT EXISTS adtech
COMMENT 'AdvertiseX ad-tech platform: curated events, funnel, campaign reports, quarantine'
LOCATION '${hivevar:adtech_location}';
