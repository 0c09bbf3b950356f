SELECT
  item_id,
  price_level,
  {{ j('pricelevelname') }} AS price_level_name,
  currency AS currency_id,
  -- The ISO code (the currency's name, BUILTIN.DF); NetSuite's key column holds its internal id.
  coalesce({{ j('currencyname') }}, currency) AS currency,
  {{ money('unitprice') }} AS unit_price,
  source_updated_at AS updated_at,
  _loaded_at
FROM ({{ latest(source('raw', 'netsuite_item_prices'), 'item_id, price_level, currency') }})
