-- One row per finding (day, kind, order): its latest landed version is its current state. A re-run that
-- changes nothing lands no new version (run_id and checked_at are left out of the content hash).
SELECT
  partition_date, kind, order_id, status, order_name, external_id, netsuite_ids, storefront_total,
  netsuite_total, requeued, detail, first_seen_at, opened_at, healed_at, checked_at, run_id, _loaded_at
FROM {{ source('raw', 'reconciliation_findings') }}
WHERE partition_date IS NOT NULL  -- rows from before daily partitions carry no open/healed state
QUALIFY row_number() OVER (
  PARTITION BY partition_date, kind, order_id ORDER BY _landed_at DESC NULLS LAST, _loaded_at DESC) = 1
