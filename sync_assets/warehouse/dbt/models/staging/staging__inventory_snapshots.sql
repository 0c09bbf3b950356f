SELECT sku, location, netsuite_available, unsynced_qty, safety_stock, computed, previous_storefront, written,
       computed_at, min(_loaded_at) AS _loaded_at
FROM {{ source('raw', 'inventory_snapshots') }}
GROUP BY ALL
