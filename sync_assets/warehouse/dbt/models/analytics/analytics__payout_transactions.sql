-- Each Shopify Payments balance transaction, in its payout, matched to the NetSuite deposit (a charge) or
-- refund (a refund) of the order transaction behind it.
WITH ns AS (
  SELECT * FROM {{ ref('staging__netsuite_transactions') }} WHERE transaction_type IN ('deposit', 'refund')
)
SELECT
  b.payout_id,
  p.status AS payout_status,
  p.issued_at AS payout_issued_at,
  b.balance_transaction_id,
  b.transaction_type,
  b.is_test,
  b.processed_at,
  b.order_id,
  b.order_number,
  b.order_transaction_id,
  b.currency,
  b.amount,
  b.fee,
  b.net,
  ns.transaction_id AS netsuite_transaction_id,
  ns.transaction_type AS netsuite_transaction_type,
  ns.document_number AS netsuite_document_number,
  ns.total AS netsuite_amount,
  CASE WHEN ns.transaction_id IS NULL THEN 'unmatched'
       WHEN ns.total <> abs(b.amount) THEN 'amount_differs'
       ELSE 'matched' END AS match_status
FROM {{ ref('staging__shopify_balance_transactions') }} b
LEFT JOIN {{ ref('staging__shopify_payouts') }} p USING (payout_id)
LEFT JOIN ns ON ns.external_id = CASE b.transaction_type WHEN 'CHARGE' THEN 'shopify-payment-'
                                                         WHEN 'REFUND' THEN 'shopify-refund-' END
                                 || b.order_transaction_legacy_id
