WITH lines AS (
  SELECT order_id, sum(quantity)::BIGINT AS units FROM {{ ref('staging__order_lines') }} GROUP BY order_id
)
SELECT
  {{ shop_day('o.created_at') }} AS day,
  o.currency,
  o.location,
  count(*) AS orders,
  coalesce(sum(lines.units), 0)::BIGINT AS units,
  sum(o.subtotal_price) AS subtotal,
  sum(o.total_discounts) AS discounts,
  sum(o.total_shipping) AS shipping,
  sum(o.total_tax) AS tax,
  sum(o.total_price) AS total
FROM {{ ref('staging__orders') }} o
LEFT JOIN lines ON lines.order_id = o.order_id
WHERE NOT o.is_test AND o.cancelled_at IS NULL AND o.created_at IS NOT NULL
GROUP BY ALL
