SELECT
  l.order_id, o.order_number, o.created_at, l.line_number, l.line_id, l.sku, l.title, l.variant_id,
  l.product_id, l.quantity, l.current_quantity, l.unit_price, l.discounted_unit_price,
  coalesce(l.discounted_unit_price, l.unit_price) * l.quantity AS line_total,
  l.currency,
  o.is_test OR o.cancelled_at IS NOT NULL AS is_excluded_from_sales
FROM {{ ref('staging__order_lines') }} l
JOIN {{ ref('staging__orders') }} o USING (order_id)
