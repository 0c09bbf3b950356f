-- NetSuite item fulfillments and what the sync made of them on the storefront.
WITH ev AS (
  SELECT * FROM {{ ref('staging__sync_events') }} WHERE flow = 'fulfillments' AND status <> 'skipped'
), latest AS (
  SELECT source_id, status, reason FROM ev
  QUALIFY row_number() OVER (PARTITION BY source_id ORDER BY event_at DESC, _loaded_at DESC) = 1
), synced AS (
  SELECT source_id, target_id, event_at FROM ev WHERE status = 'synced'
  QUALIFY row_number() OVER (PARTITION BY source_id ORDER BY event_at ASC) = 1
)
SELECT
  f.fulfillment_id, f.document_number, f.sales_order_id, f.order_id, o.order_number, f.status,
  f.tracking_numbers, f.units, f.updated_at,
  coalesce(latest.status, 'pending') AS sync_status,
  CASE WHEN latest.status IN ('dead_lettered', 'failed') THEN latest.reason END AS sync_error,
  synced.target_id AS shopify_fulfillment_id,
  synced.event_at AS storefront_written_at
FROM {{ ref('staging__fulfillments') }} f
LEFT JOIN {{ ref('staging__orders') }} o USING (order_id)
LEFT JOIN latest ON latest.source_id = f.fulfillment_id
LEFT JOIN synced ON synced.source_id = f.fulfillment_id
