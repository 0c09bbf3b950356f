SELECT DISTINCT run_id, checked_at, kind, order_id, order_name, external_id, netsuite_ids, storefront_total,
       netsuite_total, requeued, detail
FROM {{ source('raw', 'reconciliation_findings') }}
