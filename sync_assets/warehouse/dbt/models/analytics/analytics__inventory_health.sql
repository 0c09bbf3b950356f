-- One row per SKU and storefront location: stock-outs, oversell incidents, days of cover and drift, from the
-- inventory flow's every computation (staging.inventory_snapshots) and the position now (inventory_position).
WITH snaps AS (
  SELECT sku, location, computed, netsuite_available, unsynced_qty, previous_storefront, written, computed_at,
         lag(computed) OVER w AS prior_computed,
         -- A run of computations not written since the last write: where drift can have started.
         count(*) FILTER (WHERE written) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS writes_so_far
  FROM {{ ref('staging__inventory_snapshots') }}
  WINDOW w AS (PARTITION BY sku, location ORDER BY computed_at, _loaded_at)
), marked AS (
  SELECT *,
         computed <= 0 AND (prior_computed IS NULL OR prior_computed > 0) AS starts_stock_out,
         netsuite_available < unsynced_qty AS oversold,
         NOT written AND previous_storefront IS DISTINCT FROM computed AS drifting
  FROM snaps
), latest_run AS (
  -- Computations since the latest write (or all, if none was written).
  SELECT * FROM marked
  QUALIFY writes_so_far = max(writes_so_far) OVER (PARTITION BY sku, location)
), per_key AS (
  SELECT sku, location,
         count(*) FILTER (WHERE starts_stock_out) AS stock_outs,
         max(computed_at) FILTER (WHERE starts_stock_out) AS last_stock_out_at,
         count(*) FILTER (WHERE oversold) AS oversell_incidents,
         max(computed_at) FILTER (WHERE oversold) AS last_oversell_at,
         max(unsynced_qty - netsuite_available) FILTER (WHERE oversold) AS max_units_oversold
  FROM marked GROUP BY ALL
), current_stock_out AS (
  -- When the stock-out the SKU is in now began (NULL when it is in stock).
  SELECT sku, location, max(computed_at) FILTER (WHERE starts_stock_out) AS stocked_out_since
  FROM marked GROUP BY ALL
), current_drift AS (
  SELECT sku, location, min(computed_at) FILTER (WHERE drifting) AS drifting_since
  FROM latest_run GROUP BY ALL
)
SELECT
  p.sku,
  p.location,
  p.location_id,
  p.storefront_available,
  p.computed_available,
  p.netsuite_available,
  p.computed_available <= 0 AS stocked_out,
  CASE WHEN p.computed_available <= 0 THEN cs.stocked_out_since END AS stocked_out_since,
  k.stock_outs,
  k.last_stock_out_at,
  k.oversell_incidents,
  k.last_oversell_at,
  coalesce(k.max_units_oversold, 0) AS max_units_oversold,
  p.units_sold_7d,
  round(p.units_sold_7d / 7.0, 2) AS avg_daily_units_7d,
  CASE WHEN p.units_sold_7d > 0 THEN round(p.storefront_available / (p.units_sold_7d / 7.0), 1) END AS days_of_cover,
  p.storefront_drift,
  CASE WHEN p.storefront_drift <> 0 THEN d.drifting_since END AS drifting_since,
  p.computed_at
FROM {{ ref('analytics__inventory_position') }} p
JOIN per_key k ON k.sku = p.sku AND k.location = p.location_id
LEFT JOIN current_stock_out cs ON cs.sku = p.sku AND cs.location = p.location_id
LEFT JOIN current_drift d ON d.sku = p.sku AND d.location = p.location_id
