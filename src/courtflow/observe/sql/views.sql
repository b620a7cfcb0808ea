-- courtflow: PostgreSQL views over the call ledger and the sync state, for dashboards
-- and ad-hoc SQL. Create them with courtflow.observe.views.create_views(engine) or
-- `psql -f views.sql`. Idempotent (CREATE OR REPLACE). Hours are UTC whatever the
-- session TimeZone. Row classes match courtflow.observe.history:
--   ours      = outcome is null or <> 'external'
--   throttled = status 429 or outcome 'throttled'
--   error     = outcome not in ('ok', 'reserved', 'external')
--   retry     = attempt > 1

CREATE OR REPLACE VIEW courtflow_calls_per_hour AS
SELECT budget_key,
       date_trunc('hour', reserved_at AT TIME ZONE 'UTC') AS hour_utc,
       count(*) FILTER (WHERE outcome IS NULL OR outcome <> 'external') AS calls,
       coalesce(sum(weight) FILTER (WHERE outcome = 'external'), 0) AS external_calls,
       count(*) FILTER (WHERE status = 429 OR outcome = 'throttled') AS throttled,
       count(*) FILTER (WHERE attempt > 1) AS retries,
       count(*) FILTER (WHERE outcome NOT IN ('ok', 'reserved', 'external')) AS errors
  FROM api_call_ledger
 GROUP BY budget_key, date_trunc('hour', reserved_at AT TIME ZONE 'UTC');

CREATE OR REPLACE VIEW courtflow_latency_per_hour AS
SELECT budget_key,
       date_trunc('hour', reserved_at AT TIME ZONE 'UTC') AS hour_utc,
       count(*) AS calls,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_ms,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY duration_ms) AS p99_ms
  FROM api_call_ledger
 WHERE duration_ms IS NOT NULL AND outcome NOT IN ('reserved', 'external')
 GROUP BY budget_key, date_trunc('hour', reserved_at AT TIME ZONE 'UTC');

CREATE OR REPLACE VIEW courtflow_errors_per_hour AS
SELECT budget_key,
       date_trunc('hour', reserved_at AT TIME ZONE 'UTC') AS hour_utc,
       coalesce(error_class, outcome) AS error_class,
       count(*) AS errors
  FROM api_call_ledger
 WHERE outcome NOT IN ('ok', 'reserved', 'external')
 GROUP BY budget_key, date_trunc('hour', reserved_at AT TIME ZONE 'UTC'),
          coalesce(error_class, outcome);

CREATE OR REPLACE VIEW courtflow_runs AS
SELECT run_id,
       max(dag_id) AS dag_id,
       min(reserved_at) AS first_call,
       max(reserved_at) AS last_call,
       count(*) AS calls,
       count(*) FILTER (WHERE status = 429 OR outcome = 'throttled') AS throttled,
       count(*) FILTER (WHERE outcome NOT IN ('ok', 'reserved', 'external')) AS errors,
       count(*) FILTER (WHERE attempt > 1) AS retries,
       count(DISTINCT task_id) AS tasks
  FROM api_call_ledger
 WHERE run_id IS NOT NULL AND (outcome IS NULL OR outcome <> 'external')
 GROUP BY run_id;

CREATE OR REPLACE VIEW courtflow_watermark_lag AS
SELECT resource,
       watermark,
       extract(epoch FROM (now() - watermark)) AS lag_seconds,
       updated_at,
       run_id
  FROM sync_watermarks;
