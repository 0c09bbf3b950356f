-- Every storefront location the warehouse has seen: where orders were placed and where stock is kept.
WITH seen AS (
  SELECT location, 'sales' AS role, min(created_at) AS first_seen_at FROM {{ ref('staging__orders') }} GROUP BY ALL
  UNION ALL
  SELECT location, 'stock' AS role, min(computed_at) FROM {{ ref('staging__inventory_snapshots') }} GROUP BY ALL
)
SELECT location, bool_or(role = 'sales') AS has_sales, bool_or(role = 'stock') AS has_stock,
       min(first_seen_at) AS first_seen_at
FROM seen
GROUP BY location
