-- Totals that tie out: per shop day and currency, daily_sales holds exactly the orders' money and units
-- (test and cancelled orders left out). Any row returned is a difference.
{{ config(meta={'dagster': {'ref': {'name': 'analytics__daily_sales'}}}) }}
WITH o AS (
  SELECT {{ shop_day('created_at') }} AS day, currency, count(*) AS orders,
         sum(total_price) AS total, sum(units) AS units
  FROM {{ ref('analytics__orders') }}
  WHERE NOT is_test AND cancelled_at IS NULL AND created_at IS NOT NULL
  GROUP BY ALL
), d AS (
  SELECT day, currency, sum(orders) AS orders, sum(total) AS total, sum(units) AS units
  FROM {{ ref('analytics__daily_sales') }} GROUP BY ALL
)
SELECT * FROM o FULL JOIN d USING (day, currency)
WHERE o.orders IS DISTINCT FROM d.orders OR o.total IS DISTINCT FROM d.total OR o.units IS DISTINCT FROM d.units
