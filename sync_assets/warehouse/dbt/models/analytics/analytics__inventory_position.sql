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
)
SELECT
  latest.sku,
  latest.location,
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
  coalesce(sold.units_7d, 0) AS units_sold_7d
FROM latest
LEFT JOIN last_write USING (sku, location)
LEFT JOIN sold USING (sku)
