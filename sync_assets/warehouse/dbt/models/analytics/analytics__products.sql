-- One row per NetSuite inventory item: what the storefront catalog is built from, with its base price.
WITH base AS (
  SELECT * FROM {{ ref('staging__item_prices') }}
  QUALIFY row_number() OVER (PARTITION BY item_id ORDER BY (price_level_name = 'Base Price') DESC,
                             TRY_CAST(price_level AS BIGINT), currency) = 1
)
SELECT
  i.item_id, i.sku, i.display_name, i.item_type, i.is_inactive,
  d.item_id IS NOT NULL AS is_deleted, d.deleted_at,
  i.upc, i.external_id,
  base.unit_price AS base_price, base.currency,
  (SELECT count(*) FROM {{ ref('staging__item_prices') }} p WHERE p.item_id = i.item_id) AS price_count,
  greatest(i.updated_at, base.updated_at) AS updated_at
FROM {{ ref('staging__items') }} i
LEFT JOIN base USING (item_id)
LEFT JOIN {{ ref('staging__deleted_items') }} d USING (item_id)
