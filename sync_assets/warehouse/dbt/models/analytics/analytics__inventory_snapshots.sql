SELECT s.sku, coalesce(sl.name, s.location) AS location, s.location AS location_id, s.netsuite_available,
       s.unsynced_qty, s.safety_stock, s.computed AS computed_available, s.previous_storefront, s.written,
       s.computed_at
FROM {{ ref('staging__inventory_snapshots') }} s
LEFT JOIN {{ ref('staging__storefront_locations') }} sl ON sl.location_id = s.location
