-- Per flow and UTC hour: what moved, how late, and what failed, from every outcome the flows landed.
-- Re-reads that changed nothing (skipped) are not counted: a busy overlap window is not work done.
SELECT
  flow,
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
