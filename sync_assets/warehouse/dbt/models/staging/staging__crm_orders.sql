-- Orders as the CRM counts them — not test, not cancelled, with a customer or an email — each with the
-- person it belongs to: its Shopify customer, else (a guest checkout) the Shopify customer with that
-- email, else one person per trimmed, lower-cased email.
WITH se AS ({{ crm_person_by_email() }})
SELECT
  CASE WHEN o.customer_id IS NOT NULL THEN 'shopify:' || regexp_extract(o.customer_id, '([0-9]+)$', 1)
       WHEN se.person_key IS NOT NULL THEN se.person_key
       ELSE 'email:' || lower(trim(o.customer_email)) END AS person_key,
  o.order_id, o.order_number, o.created_at, o.currency, o.total_price,
  o.customer_id, o.customer_email, o.customer_first_name, o.customer_last_name
FROM {{ ref('staging__orders') }} o
LEFT JOIN se ON se.email_key = nullif(lower(trim(o.customer_email)), '')
WHERE NOT o.is_test AND o.cancelled_at IS NULL
  AND (o.customer_id IS NOT NULL OR nullif(trim(o.customer_email), '') IS NOT NULL)
