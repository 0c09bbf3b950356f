-- "skipped" outcomes are re-reads of an order already handled at that version (the overlap window, a
-- re-delivered webhook): they are neither attempts nor a status of their own.
WITH ev AS (
  SELECT * FROM {{ ref('staging__sync_events') }} WHERE flow = 'orders' AND status <> 'skipped'
), latest AS (
  SELECT source_id, status, reason
  FROM ev QUALIFY row_number() OVER (PARTITION BY source_id ORDER BY event_at DESC, _loaded_at DESC) = 1
), synced AS (
  SELECT source_id, target_id, event_at, source_updated_at
  FROM ev WHERE status = 'synced'
  QUALIFY row_number() OVER (PARTITION BY source_id ORDER BY event_at ASC, _loaded_at ASC) = 1
), attempts AS (
  SELECT source_id, count(*) AS attempts FROM ev GROUP BY source_id
), lines AS (
  SELECT order_id, count(*) AS line_count, sum(quantity)::BIGINT AS units FROM {{ ref('staging__order_lines') }} GROUP BY ALL
)
SELECT
  o.order_id, o.legacy_id, o.order_number, o.created_at, o.updated_at, o.cancelled_at, o.is_test,
  o.financial_status, o.fulfillment_status, o.currency, o.subtotal_price, o.total_discounts,
  o.total_shipping, o.total_tax, o.total_price, o.location, o.customer_id, o.customer_email, o.ship_country,
  coalesce(lines.line_count, 0) AS line_count,
  coalesce(lines.units, 0) AS units,
  coalesce(latest.status, 'pending') AS sync_status,
  CASE WHEN latest.status IN ('dead_lettered', 'failed') THEN latest.reason END AS sync_error,
  coalesce(attempts.attempts, 0) AS sync_attempts,
  synced.target_id AS netsuite_sales_order_id,
  synced.event_at AS sales_order_written_at,
  epoch(synced.event_at) - epoch(o.created_at) AS latency_seconds
FROM {{ ref('staging__orders') }} o
LEFT JOIN latest ON latest.source_id = o.order_id
LEFT JOIN synced ON synced.source_id = o.order_id
LEFT JOIN attempts ON attempts.source_id = o.order_id
LEFT JOIN lines ON lines.order_id = o.order_id
