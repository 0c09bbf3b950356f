SELECT
  o.order_id,
  l.line_number::INTEGER AS line_number,
  {{ j('id', col='l.line') }} AS line_id,
  {{ j('sku', col='l.line') }} AS sku,
  coalesce({{ j('name', col='l.line') }}, {{ j('title', col='l.line') }}) AS title,
  {{ j('variant.id', col='l.line') }} AS variant_id,
  {{ j('product.id', col='l.line') }} AS product_id,
  {{ j('quantity', 'BIGINT', col='l.line') }} AS quantity,
  {{ j('currentQuantity', 'BIGINT', col='l.line') }} AS current_quantity,
  {{ money('originalUnitPriceSet.shopMoney.amount', col='l.line') }} AS unit_price,
  {{ money('discountedUnitPriceSet.shopMoney.amount', col='l.line') }} AS discounted_unit_price,
  o.currency
FROM {{ ref('staging__orders') }} AS o,
  unnest(CAST({{ shopify_list('lineItems', col='o.payload') }} AS JSON[])) WITH ORDINALITY AS l(line, line_number)
