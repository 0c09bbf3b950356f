-- Each of a run's steps lands the run's totals so far (a failed step too), and the failure sensor lands the row
-- of a run that died before a hook could, its API counters NULL (unknown). The latest row has the run's
-- outcome; the counts are the highest any of its rows saw (they only grow within a run).
SELECT
  run_id, flow, lane, "trigger", partition_key, min(started_at) OVER run AS started_at, ended_at, outcome,
  date_diff('millisecond', min(started_at) OVER run, ended_at) / 1000.0 AS duration_seconds,
  max(records_examined) OVER run AS records_examined,
  max(records_synced) OVER run AS records_synced,
  max(records_failed) OVER run AS records_failed,
  max(records_dead_lettered) OVER run AS records_dead_lettered,
  max(shopify_calls) OVER run AS shopify_calls,
  max(shopify_cost_points) OVER run AS shopify_cost_points,
  max(shopify_throttled) OVER run AS shopify_throttled,
  max(shopify_throttle_wait_seconds) OVER run AS shopify_throttle_wait_seconds,
  max(netsuite_calls) OVER run AS netsuite_calls,
  max(netsuite_throttled) OVER run AS netsuite_throttled
FROM {{ source('raw', 'flow_runs') }}
WINDOW run AS (PARTITION BY run_id)
QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY ended_at DESC, _loaded_at DESC) = 1
