SELECT run_id, checked_at, kind, order_id, order_name, external_id, netsuite_ids, storefront_total,
       netsuite_total, storefront_total - netsuite_total AS difference, requeued, detail,
       checked_at = max(checked_at) OVER () AS is_latest_run
FROM {{ ref('staging__reconciliation_findings') }}
