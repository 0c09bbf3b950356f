SELECT sku, location, netsuite_available, unsynced_qty, safety_stock, computed AS computed_available,
       previous_storefront, written, computed_at
FROM {{ ref('staging__inventory_snapshots') }}
