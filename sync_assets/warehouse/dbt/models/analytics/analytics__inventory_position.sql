WITH latest AS (
  SELECT * FROM {{ ref('staging__inventory_snapshots') }}
  QUALIFY row_number() OVER (PARTITION BY sku, location ORDER BY computed_at DESC, _loaded_at DESC) = 1
), last_write AS (
  SELECT sku, location, max(computed_at) AS last_written_at
  FROM {{ ref('staging__inventory_snapshots') }} WHERE written GROUP BY ALL
), sold AS (
  -- Units sold in the last 7 days of orders (all locations), for days of cover.
  SELECT sku, sum(quantity)::BIGINT AS units_7d
  FROM {{ ref('analytics__order_lines') }}
  WHERE NOT is_excluded_from_sales
    AND created_at >= (SELECT max(created_at) FROM {{ ref('staging__orders') }}) - INTERVAL 7 DAY
  GROUP BY sku
), ns AS (
  -- NetSuite's own balance of the SKU at the location this storefront location maps to.
  SELECT i.sku, inv.location_id AS netsuite_location_id, inv.quantity_on_hand, inv.quantity_committed,
         inv.updated_at
  FROM {{ ref('staging__inventory') }} inv
  JOIN {{ ref('staging__items') }} i USING (item_id)
)
SELECT
  latest.sku,
  coalesce(sl.name, latest.location) AS location,
  latest.location AS location_id,
  nl.name AS netsuite_location,
  latest.netsuite_available,
  latest.unsynced_qty,
  latest.safety_stock,
  latest.computed AS computed_available,
  CASE WHEN latest.written THEN latest.computed ELSE latest.previous_storefront END AS storefront_available,
  CASE WHEN latest.written THEN latest.computed ELSE latest.previous_storefront END - latest.computed
    AS storefront_drift,
  latest.written AS last_computation_written,
  latest.computed_at,
  last_write.last_written_at,
  ns.quantity_on_hand AS netsuite_on_hand,
  ns.quantity_committed AS netsuite_committed,
  ns.updated_at AS netsuite_updated_at,
  coalesce(sold.units_7d, 0) AS units_sold_7d
FROM latest
LEFT JOIN last_write USING (sku, location)
LEFT JOIN sold USING (sku)
LEFT JOIN {{ ref('staging__storefront_locations') }} sl ON sl.location_id = latest.location
LEFT JOIN {{ ref('staging__locations') }} nl ON nl.location_id = sl.netsuite_location_id
LEFT JOIN ns ON ns.sku = latest.sku AND ns.netsuite_location_id = sl.netsuite_location_id
