-- Which customer deposits each customer refund paid out of, and how much from each.
SELECT
  refund_id,
  deposit_id,
  {{ money('amount') }} AS amount,
  _loaded_at
FROM ({{ latest(source('raw', 'netsuite_refund_deposits'), 'refund_id, deposit_id') }})
