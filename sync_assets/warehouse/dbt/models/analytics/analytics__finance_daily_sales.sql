-- Storefront sales per shop day, sales channel, location and currency (test and cancelled orders left out):
-- analytics.daily_sales by the shop's calendar rather than UTC's, split by channel.
SELECT
  {{ shop_day('o.created_at') }} AS day,
  coalesce({{ j('sourceName', col='s.payload') }}, 'unknown') AS channel,
  o.location, o.currency, count(*) AS orders, coalesce(sum(o.units), 0)::BIGINT AS units,
  sum(o.subtotal_price) AS subtotal, sum(o.total_discounts) AS discounts, sum(o.total_shipping) AS shipping,
  sum(o.total_tax) AS tax, sum(o.total_price) AS total
FROM {{ ref('analytics__orders') }} o
JOIN {{ ref('staging__orders') }} s USING (order_id)
WHERE NOT o.is_test AND o.cancelled_at IS NULL AND o.created_at IS NOT NULL
GROUP BY ALL
