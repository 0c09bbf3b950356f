-- Per shop day, document kind and currency: storefront totals against NetSuite totals.
WITH storefront AS (
  SELECT {{ shop_day('created_at') }} AS day, 'sales_order' AS kind, currency, count(*) AS n, sum(total_price) AS amount
  FROM {{ ref('staging__orders') }} GROUP BY ALL
  UNION ALL
  SELECT {{ shop_day('processed_at') }}, CASE WHEN kind = 'REFUND' THEN 'refund' ELSE 'deposit' END, currency,
         count(*), sum(amount)
  FROM {{ ref('staging__transactions') }}
  WHERE status = 'SUCCESS' AND kind IN ('SALE', 'CAPTURE', 'REFUND') GROUP BY ALL
), netsuite AS (
  SELECT tran_date AS day, transaction_type AS kind, currency, count(*) AS n, sum(total) AS amount
  FROM {{ ref('staging__netsuite_transactions') }}
  WHERE NOT is_voided AND (transaction_type <> 'sales_order' OR external_id LIKE 'shopify-order-%')
  GROUP BY ALL
)
SELECT
  coalesce(s.day, n.day) AS day,
  coalesce(s.kind, n.kind) AS kind,
  coalesce(s.currency, n.currency) AS currency,
  coalesce(s.n, 0) AS storefront_count,
  coalesce(s.amount, 0) AS storefront_amount,
  coalesce(n.n, 0) AS netsuite_count,
  coalesce(n.amount, 0) AS netsuite_amount,
  coalesce(s.amount, 0) - coalesce(n.amount, 0) AS difference,
  coalesce(s.n, 0) = coalesce(n.n, 0) AND coalesce(s.amount, 0) = coalesce(n.amount, 0) AS ties_out
FROM storefront s
FULL OUTER JOIN netsuite n ON n.day = s.day AND n.kind = s.kind AND n.currency = s.currency
