SELECT
  location_id,
  {{ j('legacyResourceId') }} AS legacy_id,
  {{ j('name') }} AS name,
  coalesce({{ j('isActive', 'BOOLEAN') }}, true) AS is_active,
  coalesce({{ j('fulfillsOnlineOrders', 'BOOLEAN') }}, false) AS fulfills_online_orders,
  {{ j('address.city') }} AS city,
  {{ j('address.countryCode') }} AS country_code,
  {{ j('netsuite_location_id') }} AS netsuite_location_id,
  _loaded_at
FROM ({{ latest(source('raw', 'shopify_locations'), 'location_id') }})
