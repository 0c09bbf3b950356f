SELECT
  item_id,
  location_id,
  {{ j('quantityonhand', 'BIGINT') }} AS quantity_on_hand,
  {{ j('quantityavailable', 'BIGINT') }} AS quantity_available,
  {{ j('quantitycommitted', 'BIGINT') }} AS quantity_committed,
  {{ j('quantitybackordered', 'BIGINT') }} AS quantity_backordered,
  {{ j('quantityintransit', 'BIGINT') }} AS quantity_in_transit,
  source_updated_at AS updated_at,
  _loaded_at
FROM ({{ latest(source('raw', 'netsuite_inventory'), 'item_id, location_id') }})
