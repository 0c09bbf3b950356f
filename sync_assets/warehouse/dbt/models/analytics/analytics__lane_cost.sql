-- Per entity and lane observed: what its runs cost in API budget and lag, and what moving it to the other
-- lane would save at its own volume. The difference is only computed where the entity has run in both
-- lanes (the other lane's per-record cost times this lane's records per day); otherwise it is NULL and
-- observed_lanes says which lane was seen. Nothing is estimated from a lane that never ran.
WITH runs AS (
  SELECT * FROM {{ ref('staging__flow_runs') }} WHERE flow IS NOT NULL
),
per_lane AS (
  SELECT
    flow AS entity,
    lane,
    count(*) AS runs,
    count(*) FILTER (WHERE outcome = 'failure') AS failed_runs,
    coalesce(sum(records_synced), 0) AS records_synced,
    coalesce(sum(shopify_calls), 0) AS shopify_calls,
    coalesce(sum(shopify_cost_points), 0) AS shopify_cost_points,
    coalesce(sum(shopify_throttled), 0) AS shopify_throttled,
    coalesce(sum(netsuite_calls), 0) AS netsuite_calls,
    min(started_at) AS first_run_at,
    max(ended_at) AS last_run_at,
    nullif(epoch(max(ended_at)) - epoch(min(coalesce(started_at, ended_at))), 0) / 3600.0 AS hours_observed
  FROM runs
  GROUP BY ALL
),
-- Lag of what each run synced: its landed events, by the run that landed them (raw keeps _run_id).
lags AS (
  SELECT r.flow AS entity, r.lane, epoch(e.event_at) - epoch(e.source_updated_at) AS lag_seconds
  FROM (SELECT DISTINCT flow, source_id, event_at, source_updated_at, _run_id
        FROM {{ source('raw', 'sync_events') }}
        WHERE status = 'synced' AND source_updated_at IS NOT NULL) AS e
  JOIN runs AS r ON r.run_id = e._run_id
),
lag_per_lane AS (
  SELECT entity, lane,
    round(quantile_cont(lag_seconds, 0.5), 2) AS lag_p50_seconds,
    round(quantile_cont(lag_seconds, 0.95), 2) AS lag_p95_seconds
  FROM lags
  GROUP BY ALL
),
costed AS (
  SELECT
    p.*,
    l.lag_p50_seconds,
    l.lag_p95_seconds,
    p.shopify_cost_points / nullif(p.records_synced, 0) AS shopify_points_per_record,
    p.netsuite_calls / nullif(p.records_synced, 0) AS netsuite_calls_per_record,
    p.shopify_cost_points / p.hours_observed AS shopify_points_per_hour,
    p.netsuite_calls / p.hours_observed AS netsuite_calls_per_hour,
    p.records_synced / p.hours_observed * 24 AS records_per_day,
    p.shopify_throttled / nullif(p.shopify_calls, 0) AS shopify_throttled_share
  FROM per_lane AS p
  LEFT JOIN lag_per_lane AS l USING (entity, lane)
)
SELECT
  c.entity,
  c.lane,
  CASE WHEN count(*) OVER (PARTITION BY c.entity) > 1 THEN 'both' ELSE c.lane END AS observed_lanes,
  c.runs,
  c.failed_runs,
  c.records_synced,
  c.shopify_calls,
  c.shopify_cost_points,
  c.netsuite_calls,
  round(c.hours_observed, 4) AS hours_observed,
  round(c.shopify_points_per_record, 4) AS shopify_points_per_record,
  round(c.netsuite_calls_per_record, 4) AS netsuite_calls_per_record,
  round(c.shopify_points_per_hour, 4) AS shopify_points_per_hour,
  round(c.netsuite_calls_per_hour, 4) AS netsuite_calls_per_hour,
  round(c.records_per_day, 2) AS records_per_day,
  c.lag_p50_seconds,
  c.lag_p95_seconds,
  round(c.shopify_throttled_share, 4) AS shopify_throttled_share,
  o.lane AS other_lane,
  round((c.shopify_points_per_record - o.shopify_points_per_record) * c.records_per_day, 2)
    AS shopify_points_per_day_saved_in_other_lane,
  round((c.netsuite_calls_per_record - o.netsuite_calls_per_record) * c.records_per_day, 2)
    AS netsuite_calls_per_day_saved_in_other_lane
FROM costed AS c
LEFT JOIN costed AS o ON o.entity = c.entity AND o.lane <> c.lane
