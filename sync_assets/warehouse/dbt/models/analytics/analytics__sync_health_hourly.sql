-- Per policy entity and UTC hour: what moved, how late, and what failed, from every outcome the flows landed,
-- and what the entity's runs that ended in the hour spent (staging.flow_runs), on one row: events under the
-- entity their runs belong to (staging.sync_events.entity), runs under the entity whose job ran. Re-reads
-- that changed nothing (skipped) are not counted: a busy overlap window is not work done. An hour with
-- events but no run, or runs but no events, has zeros for the other side (lag stays NULL when nothing was
-- synced).
WITH events AS (
  SELECT
    entity,
    date_trunc('hour', event_at) AS hour_utc,
    count(*) FILTER (WHERE status = 'synced') AS records_synced,
    count(DISTINCT source_id) FILTER (WHERE status = 'synced') AS distinct_records_synced,
    count(*) FILTER (WHERE status = 'failed') AS failed_attempts,
    count(*) FILTER (WHERE status = 'dead_lettered') AS dead_lettered,
    round(quantile_cont(epoch(event_at) - epoch(source_updated_at), 0.5) FILTER (WHERE status = 'synced'), 2)
      AS lag_p50_seconds,
    round(quantile_cont(epoch(event_at) - epoch(source_updated_at), 0.95) FILTER (WHERE status = 'synced'), 2)
      AS lag_p95_seconds,
    round(max(epoch(event_at) - epoch(source_updated_at)) FILTER (WHERE status = 'synced'), 2) AS lag_max_seconds
  FROM {{ ref('staging__sync_events') }}
  WHERE status <> 'skipped'
  GROUP BY ALL
),
runs AS (
  SELECT
    flow AS entity,
    date_trunc('hour', ended_at) AS hour_utc,
    count(*) AS runs,
    count(*) FILTER (WHERE outcome = 'failure') AS failed_runs,
    coalesce(sum(shopify_calls), 0) AS shopify_calls,
    coalesce(sum(shopify_cost_points), 0) AS shopify_cost_points,
    coalesce(sum(shopify_throttled), 0) AS shopify_throttled,
    coalesce(sum(netsuite_calls), 0) AS netsuite_calls
  FROM {{ ref('staging__flow_runs') }}
  WHERE flow IS NOT NULL
  GROUP BY ALL
)
SELECT
  coalesce(e.entity, r.entity) AS entity,
  coalesce(e.hour_utc, r.hour_utc) AS hour_utc,
  coalesce(e.records_synced, 0) AS records_synced,
  coalesce(e.distinct_records_synced, 0) AS distinct_records_synced,
  coalesce(e.failed_attempts, 0) AS failed_attempts,
  coalesce(e.dead_lettered, 0) AS dead_lettered,
  e.lag_p50_seconds,
  e.lag_p95_seconds,
  e.lag_max_seconds,
  coalesce(r.runs, 0) AS runs,
  coalesce(r.failed_runs, 0) AS failed_runs,
  coalesce(r.shopify_calls, 0) AS shopify_calls,
  coalesce(r.shopify_cost_points, 0) AS shopify_cost_points,
  coalesce(r.shopify_throttled, 0) AS shopify_throttled,
  coalesce(r.netsuite_calls, 0) AS netsuite_calls
FROM events AS e
FULL JOIN runs AS r ON r.entity = e.entity AND r.hour_utc = e.hour_utc
