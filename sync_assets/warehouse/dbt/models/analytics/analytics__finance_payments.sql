-- Each storefront order against what was paid for it, in the storefront and as booked in NetSuite.
WITH pay AS (
  SELECT order_id,
         sum(amount) FILTER (WHERE status = 'SUCCESS' AND kind IN ('SALE', 'CAPTURE')) AS paid,
         sum(amount) FILTER (WHERE status = 'SUCCESS' AND kind = 'REFUND') AS refunded
  FROM {{ ref('staging__transactions') }} GROUP BY order_id
), ns AS (
  SELECT * FROM {{ ref('staging__netsuite_transactions') }}
), deposits AS (
  SELECT created_from_id AS sales_order_id, count(*) AS deposits, sum(total) AS deposited
  FROM ns WHERE transaction_type = 'deposit' AND NOT is_voided GROUP BY ALL
), refunds AS (
  SELECT d.created_from_id AS sales_order_id, sum(l.amount) AS refunded
  FROM {{ ref('staging__netsuite_refund_deposits') }} l JOIN ns d ON d.transaction_id = l.deposit_id
  GROUP BY ALL
)
SELECT
  o.order_id,
  o.order_number,
  {{ shop_day('o.created_at') }} AS order_day,
  o.currency,
  o.total_price AS order_total,
  coalesce(pay.paid, 0) AS storefront_paid,
  coalesce(pay.refunded, 0) AS storefront_refunded,
  o.total_price - coalesce(pay.paid, 0) AS storefront_unpaid,
  so.transaction_id AS netsuite_sales_order_id,
  so.document_number AS netsuite_document_number,
  so.total AS netsuite_order_total,
  coalesce(deposits.deposits, 0) AS netsuite_deposits,
  coalesce(deposits.deposited, 0) AS netsuite_deposited,
  coalesce(refunds.refunded, 0) AS netsuite_refunded,
  (coalesce(pay.paid, 0) - coalesce(pay.refunded, 0))
    - (coalesce(deposits.deposited, 0) - coalesce(refunds.refunded, 0)) AS unbooked_amount
FROM {{ ref('staging__orders') }} o
LEFT JOIN pay USING (order_id)
LEFT JOIN ns so ON so.transaction_type = 'sales_order' AND so.external_id = 'shopify-order-' || o.legacy_id
LEFT JOIN deposits ON deposits.sales_order_id = so.transaction_id
LEFT JOIN refunds ON refunds.sales_order_id = so.transaction_id
