SELECT
  item_id,
  {{ j('name') }} AS item_name,
  source_updated_at AS deleted_at,
  _loaded_at
FROM ({{ latest(source('raw', 'netsuite_deleted_items'), 'item_id') }})
