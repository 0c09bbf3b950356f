-- One row per flow. Skipped re-reads are not attempts; latency is from the source's change to our write.
WITH ev AS (
  SELECT * FROM {{ ref('staging__sync_events') }} WHERE status <> 'skipped'
), latest AS (
  SELECT flow, source_id, status FROM ev
  QUALIFY row_number() OVER (PARTITION BY flow, source_id ORDER BY event_at DESC, _loaded_at DESC) = 1
), per_flow AS (
  SELECT flow,
         count(*) AS records,
         count(*) FILTER (WHERE status = 'synced') AS synced,
         count(*) FILTER (WHERE status = 'dead_lettered') AS dead_lettered,
         count(*) FILTER (WHERE status = 'failed') AS failing
  FROM latest GROUP BY flow
), lat AS (
  SELECT flow,
         count(*) FILTER (WHERE status = 'failed') AS failed_attempts,
         quantile_cont(epoch(event_at) - epoch(source_updated_at), 0.5) FILTER (WHERE status = 'synced')
           AS latency_p50_seconds,
         quantile_cont(epoch(event_at) - epoch(source_updated_at), 0.95) FILTER (WHERE status = 'synced')
           AS latency_p95_seconds,
         max(event_at) FILTER (WHERE status = 'synced') AS last_synced_at,
         max(event_at) AS last_event_at
  FROM ev GROUP BY flow
)
SELECT per_flow.*, lat.failed_attempts, lat.latency_p50_seconds, lat.latency_p95_seconds,
       lat.last_synced_at, lat.last_event_at
FROM per_flow JOIN lat USING (flow)
