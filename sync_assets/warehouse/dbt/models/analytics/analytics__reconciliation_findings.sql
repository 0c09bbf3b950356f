SELECT
  partition_date || ':' || kind || ':' || order_id AS finding_id,
  partition_date, kind, status, status = 'open' AS is_open, order_id, order_name, external_id, netsuite_ids,
  storefront_total, netsuite_total, storefront_total - netsuite_total AS difference, requeued, detail,
  first_seen_at, opened_at, healed_at,
  CASE WHEN healed_at IS NOT NULL THEN epoch(healed_at - opened_at) END AS seconds_to_heal,
  checked_at AS last_changed_at
FROM {{ ref('staging__reconciliation_findings') }}
