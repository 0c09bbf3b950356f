-- Shopify Payments payouts, latest version (a payout moves from SCHEDULED to PAID).
SELECT
  payout_id,
  {{ j('legacyResourceId') }} AS legacy_id,
  {{ j('issuedAt', 'TIMESTAMPTZ') }} AS issued_at,
  {{ j('status') }} AS status,
  {{ j('transactionType') }} AS transaction_type,
  {{ money('net.amount') }} AS net,
  {{ j('net.currencyCode') }} AS currency,
  {{ money('summary.chargesGross.amount') }} AS charges_gross,
  {{ money('summary.chargesFee.amount') }} AS charges_fee,
  {{ money('summary.refundsFeeGross.amount') }} AS refunds_gross,
  {{ money('summary.refundsFee.amount') }} AS refunds_fee,
  {{ money('summary.adjustmentsGross.amount') }} AS adjustments_gross,
  _loaded_at
FROM ({{ latest(source('raw', 'shopify_payouts'), 'payout_id') }})
