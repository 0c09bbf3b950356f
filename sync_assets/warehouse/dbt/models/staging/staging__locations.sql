SELECT
  location_id,
  {{ j('name') }} AS name,
  {{ j('fullname') }} AS full_name,
  {{ j('externalid') }} AS external_id,
  {{ flag('isinactive') }} AS is_inactive,
  {{ flag('makeinventoryavailable') }} AS makes_inventory_available,
  source_updated_at AS updated_at,
  _loaded_at
FROM ({{ latest(source('raw', 'netsuite_locations'), 'location_id') }})
