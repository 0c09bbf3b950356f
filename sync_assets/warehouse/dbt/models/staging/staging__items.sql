SELECT
  item_id,
  {{ j('itemid') }} AS sku,
  {{ j('displayname') }} AS display_name,
  {{ j('itemtype') }} AS item_type,
  {{ flag('isinactive') }} AS is_inactive,
  {{ j('upccode') }} AS upc,
  {{ j('externalid') }} AS external_id,
  {{ j('description') }} AS description,
  source_updated_at AS updated_at,
  _loaded_at
FROM ({{ latest(source('raw', 'netsuite_items'), 'item_id') }})
