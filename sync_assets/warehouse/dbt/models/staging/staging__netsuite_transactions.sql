-- NetSuite sales orders, customer deposits and customer refunds landed by the finance flow, latest version.
SELECT
  transaction_id,
  {{ j('tranid') }} AS document_number,
  CASE {{ j('type') }} WHEN 'SalesOrd' THEN 'sales_order' WHEN 'CustDep' THEN 'deposit'
       WHEN 'CustRfnd' THEN 'refund' END AS transaction_type,
  {{ j('externalid') }} AS external_id,
  {{ j('otherrefnum') }} AS order_number,
  {{ j('entity') }} AS customer_id,
  {{ j('entityname') }} AS customer_name,
  {{ j('status') }} AS status,
  {{ j('trandate', 'DATE') }} AS tran_date,
  {{ money('foreigntotal') }} AS total,
  {{ j('currencyname') }} AS currency,
  coalesce({{ money('taxtotal') }}, 0) AS tax_total,
  coalesce({{ money('discounttotal') }}, 0) AS discount_total,
  coalesce({{ money('shippingtotal') }}, 0) AS shipping_total,
  coalesce({{ money('itemtotal') }}, 0) AS item_total,
  {{ j('createdfrom') }} AS created_from_id,
  {{ j('location') }} AS location_id,
  {{ flag('voided') }} AS is_voided,
  source_updated_at AS updated_at,
  _loaded_at
FROM ({{ latest(source('raw', 'netsuite_transactions'), 'transaction_id') }})
