SELECT p.item_id, i.sku, p.price_level, p.price_level_name, p.currency, p.currency_id, p.unit_price, p.updated_at
FROM {{ ref('staging__item_prices') }} p
LEFT JOIN {{ ref('staging__items') }} i USING (item_id)
