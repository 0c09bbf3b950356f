-- Storefront customers as their orders carry them; an order without a customer record (a guest
-- checkout) is keyed by its email.
WITH o AS (
  SELECT *, coalesce(customer_id, 'email:' || lower(customer_email)) AS customer_key
  FROM {{ ref('staging__orders') }}
  WHERE NOT is_test AND (customer_id IS NOT NULL OR customer_email IS NOT NULL)
)
SELECT
  customer_key,
  any_value(customer_id) AS customer_id,
  arg_max(customer_email, updated_at) AS email,
  arg_max(customer_first_name, updated_at) AS first_name,
  arg_max(customer_last_name, updated_at) AS last_name,
  count(*) AS orders,
  count(*) FILTER (WHERE cancelled_at IS NULL) AS orders_not_cancelled,
  sum(total_price) FILTER (WHERE cancelled_at IS NULL) AS total_spent,
  arg_max(currency, created_at) AS currency,
  min(created_at) AS first_order_at,
  max(created_at) AS last_order_at,
  count(*) FILTER (WHERE cancelled_at IS NULL) > 1 AS is_repeat
FROM o
GROUP BY customer_key
