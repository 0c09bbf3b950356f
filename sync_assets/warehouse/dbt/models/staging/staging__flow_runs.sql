-- Each of a run's steps lands the run's totals so far (a failed step too): the latest row is the run's.
SELECT
  run_id, flow, lane, "trigger", partition_key, started_at, ended_at, outcome,
  date_diff('millisecond', started_at, ended_at) / 1000.0 AS duration_seconds,
  records_examined, records_synced, records_failed, records_dead_lettered,
  shopify_calls, shopify_cost_points, shopify_throttled, shopify_throttle_wait_seconds,
  netsuite_calls, netsuite_throttled
FROM {{ source('raw', 'flow_runs') }}
QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY ended_at DESC, _loaded_at DESC) = 1
