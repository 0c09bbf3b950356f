-- Every refund, storefront or NetSuite, matched by external id (shopify-refund-<transaction id>).
WITH storefront AS (
  SELECT t.transaction_id, t.order_id, o.order_number, t.amount, t.currency, t.processed_at,
         'shopify-refund-' || regexp_extract(t.transaction_id, '(\d+)$', 1) AS external_id
  FROM {{ ref('staging__transactions') }} t JOIN {{ ref('staging__orders') }} o USING (order_id)
  WHERE t.kind = 'REFUND' AND t.status = 'SUCCESS'
), netsuite AS (
  SELECT r.transaction_id, r.document_number, r.external_id, r.tran_date, r.total, r.currency,
         string_agg(l.deposit_id, ',' ORDER BY l.deposit_id) AS deposit_ids
  FROM {{ ref('staging__netsuite_transactions') }} r
  LEFT JOIN {{ ref('staging__netsuite_refund_deposits') }} l ON l.refund_id = r.transaction_id
  WHERE r.transaction_type = 'refund'
  GROUP BY ALL
)
SELECT
  coalesce(s.external_id, n.external_id) AS external_id,
  s.transaction_id AS storefront_refund_id,
  s.order_id,
  s.order_number,
  s.processed_at AS refunded_at,
  {{ shop_day('s.processed_at') }} AS refund_day,
  s.amount AS storefront_amount,
  coalesce(s.currency, n.currency) AS currency,
  n.transaction_id AS netsuite_refund_id,
  n.document_number AS netsuite_document_number,
  n.tran_date AS netsuite_date,
  n.total AS netsuite_amount,
  n.deposit_ids AS netsuite_deposit_ids,
  CASE WHEN n.transaction_id IS NULL THEN 'missing_in_netsuite'
       WHEN s.transaction_id IS NULL THEN 'only_in_netsuite'
       WHEN s.amount <> n.total THEN 'amount_differs'
       ELSE 'matched' END AS match_status
FROM storefront s
FULL OUTER JOIN netsuite n ON n.external_id = s.external_id
