SELECT
  o.order_id,
  {{ j('id', col='t.tx') }} AS transaction_id,
  {{ j('kind', col='t.tx') }} AS kind,
  {{ j('status', col='t.tx') }} AS status,
  {{ j('gateway', col='t.tx') }} AS gateway,
  coalesce({{ j('test', 'BOOLEAN', col='t.tx') }}, false) AS is_test,
  {{ j('processedAt', 'TIMESTAMPTZ', col='t.tx') }} AS processed_at,
  {{ money('amountSet.shopMoney.amount', col='t.tx') }} AS amount,
  coalesce({{ j('amountSet.shopMoney.currencyCode', col='t.tx') }}, o.currency) AS currency,
  {{ j('parentTransaction.id', col='t.tx') }} AS parent_transaction_id
FROM {{ ref('staging__orders') }} AS o,
  unnest(CAST({{ shopify_list('transactions', col='o.payload') }} AS JSON[])) AS t(tx)
