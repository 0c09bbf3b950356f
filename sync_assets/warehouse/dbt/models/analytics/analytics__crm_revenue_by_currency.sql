-- A person's orders and revenue in each currency they bought in (analytics__crm_customers shows the
-- currency they last bought in).
SELECT person_key, currency, count(*) AS orders, sum(total_price) AS revenue,
       CAST(sum(total_price) / count(*) AS DECIMAL(18, 2)) AS average_order_value,
       min(created_at) AS first_order_at, max(created_at) AS last_order_at
FROM {{ ref('staging__crm_orders') }}
GROUP BY ALL
