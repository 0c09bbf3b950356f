-- Storefront payment transactions; net_amount is signed (refunds and voids count against the order).
SELECT
  t.transaction_id, t.order_id, o.order_number, t.kind, t.status, t.gateway, t.is_test, t.processed_at,
  t.amount, t.currency,
  CASE WHEN t.status = 'SUCCESS' AND t.kind IN ('SALE', 'CAPTURE') THEN t.amount
       WHEN t.status = 'SUCCESS' AND t.kind IN ('REFUND', 'CHANGE') THEN -t.amount
       ELSE 0 END AS net_amount,
  t.parent_transaction_id
FROM {{ ref('staging__transactions') }} t
JOIN {{ ref('staging__orders') }} o USING (order_id)
