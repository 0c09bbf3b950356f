-- Gaps and islands: a stock-out is a run of consecutive computations (per SKU and location) after which the
-- storefront showed 0; it ends at the first later computation after which it showed more than 0.
WITH shown AS (
  SELECT sku, location, location_id, computed_at,
         CASE WHEN written THEN computed_available ELSE previous_storefront END AS storefront_available
  FROM {{ ref('analytics__inventory_snapshots') }}
), flagged AS (
  SELECT *, storefront_available = 0 AS is_out,
         lag(storefront_available = 0, 1, false) OVER w AS was_out,
         max(computed_at) OVER (PARTITION BY sku, location_id) AS last_seen_at
  FROM shown
  WINDOW w AS (PARTITION BY sku, location_id ORDER BY computed_at)
), edges AS (
  SELECT *, sum(CASE WHEN is_out AND NOT was_out THEN 1 ELSE 0 END)
              OVER (PARTITION BY sku, location_id ORDER BY computed_at) AS episode
  FROM flagged
  WHERE is_out <> was_out OR is_out
), episodes AS (
  SELECT sku, location, location_id, episode,
         min(computed_at) FILTER (WHERE is_out) AS started_at,
         min(computed_at) FILTER (WHERE NOT is_out) AS ended_at,
         count(*) FILTER (WHERE is_out) AS computations_at_zero,
         any_value(last_seen_at) AS last_seen_at
  FROM edges
  WHERE episode > 0
  GROUP BY ALL
)
SELECT sku, location, location_id, started_at, ended_at, ended_at IS NULL AS ongoing,
       (epoch(coalesce(ended_at, last_seen_at)) - epoch(started_at)) / 60.0 AS minutes_out,
       computations_at_zero
FROM episodes
