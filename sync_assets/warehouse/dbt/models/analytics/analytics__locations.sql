-- NetSuite locations by name, with the stock NetSuite holds there (the inventory flow's latest balances)
-- and the storefront locations that sell from it.
WITH stock AS (
  SELECT location_id, count(*) AS items, sum(quantity_on_hand)::BIGINT AS quantity_on_hand,
         sum(quantity_available)::BIGINT AS quantity_available, max(updated_at) AS stock_updated_at
  FROM {{ ref('staging__inventory') }}
  GROUP BY location_id
), storefront AS (
  SELECT netsuite_location_id AS location_id, string_agg(name, ', ' ORDER BY name) AS storefront_locations
  FROM {{ ref('staging__storefront_locations') }}
  WHERE netsuite_location_id IS NOT NULL
  GROUP BY ALL
)
SELECT
  l.location_id, l.name, l.full_name, l.external_id, l.is_inactive, l.makes_inventory_available,
  storefront.storefront_locations,
  coalesce(stock.items, 0) AS items_stocked,
  coalesce(stock.quantity_on_hand, 0) AS quantity_on_hand,
  coalesce(stock.quantity_available, 0) AS quantity_available,
  stock.stock_updated_at,
  l.updated_at
FROM {{ ref('staging__locations') }} l
LEFT JOIN stock USING (location_id)
LEFT JOIN storefront USING (location_id)
