-- One row per Shopify Payments payout: what it pays out and how much of it NetSuite has booked.
SELECT
  p.payout_id,
  p.legacy_id,
  p.issued_at,
  p.status,
  p.currency,
  p.net,
  p.charges_gross,
  p.charges_fee,
  p.refunds_gross,
  count(t.balance_transaction_id) AS transactions,
  count(t.balance_transaction_id) FILTER (WHERE t.match_status = 'matched') AS matched,
  count(t.balance_transaction_id) FILTER (WHERE t.match_status <> 'matched') AS unmatched,
  coalesce(sum(t.net), 0) AS transactions_net,
  coalesce(sum(CASE WHEN t.netsuite_transaction_type = 'deposit' THEN t.netsuite_amount
                    WHEN t.netsuite_transaction_type = 'refund' THEN -t.netsuite_amount END), 0) AS netsuite_booked
FROM {{ ref('staging__shopify_payouts') }} p
LEFT JOIN {{ ref('analytics__payout_transactions') }} t USING (payout_id)
GROUP BY ALL
