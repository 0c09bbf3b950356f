-- Shopify Payments balance transactions (charges with their fees, refunds), latest version.
SELECT
  balance_transaction_id,
  {{ j('type') }} AS transaction_type,
  coalesce({{ j('test', 'BOOLEAN') }}, false) AS is_test,
  {{ j('transactionDate', 'TIMESTAMPTZ') }} AS processed_at,
  {{ money('amount.amount') }} AS amount,
  {{ money('fee.amount') }} AS fee,
  {{ money('net.amount') }} AS net,
  {{ j('amount.currencyCode') }} AS currency,
  {{ j('associatedOrder.id') }} AS order_id,
  {{ j('associatedOrder.name') }} AS order_number,
  {{ j('associatedPayout.id') }} AS payout_id,
  {{ j('associatedPayout.status') }} AS payout_status,
  'gid://shopify/OrderTransaction/' || {{ j('sourceOrderTransactionId') }} AS order_transaction_id,
  {{ j('sourceOrderTransactionId') }} AS order_transaction_legacy_id,
  _loaded_at
FROM ({{ latest(source('raw', 'shopify_balance_transactions'), 'balance_transaction_id') }})
