-- One row per person: Shopify customers, NetSuite customers and guest buyers merged, with order
-- aggregates and RFM scores. Identity, first match wins:
--   1. a NetSuite customer whose external id is `shopify-customer-<n>` (what the orders flow stamps) is
--      Shopify customer <n>, whether or not that Shopify row has landed yet;
--   2. otherwise by email_key (trimmed, lower-cased email) to the Shopify customer with that email;
--   3. otherwise one person per email_key (NetSuite duplicates and guest orders with the same address
--      merge), or per NetSuite customer when it has no email.
-- Orders attach as staging__crm_orders says (their Shopify customer, else by email_key).
-- RFM thresholds are dbt vars (dbt_project.yml, documented in docs/analyst_recipes.md).
WITH s AS (
  SELECT *, 'shopify:' || legacy_id AS person_key FROM {{ ref('staging__shopify_customers') }}
), s_email AS ({{ crm_person_by_email() }}
), n AS (
  SELECT c.*, nullif(lower(trim(c.email)), '') AS email_key,
    regexp_extract(c.external_id, '^shopify-customer-([0-9]+)$', 1) AS shopify_legacy_id
  FROM {{ ref('staging__customers') }} c
), n_keyed AS (
  SELECT n.*,
    CASE WHEN n.shopify_legacy_id <> '' THEN 'shopify:' || n.shopify_legacy_id
         WHEN se.person_key IS NOT NULL THEN se.person_key
         WHEN n.email_key IS NOT NULL THEN 'email:' || n.email_key
         ELSE 'netsuite:' || n.customer_id END AS person_key,
    CASE WHEN n.shopify_legacy_id <> '' THEN 'external_id' WHEN se.person_key IS NOT NULL THEN 'email' END AS matched_by
  FROM n LEFT JOIN s_email se ON se.email_key = n.email_key
), n_best AS (  -- one NetSuite record per person: the external-id match, then an active one, then the newest
  SELECT * FROM n_keyed
  QUALIFY row_number() OVER (PARTITION BY person_key ORDER BY matched_by = 'external_id' DESC NULLS LAST,
                                                              is_inactive, updated_at DESC, customer_id) = 1
), n_count AS (
  SELECT person_key, count(*) AS netsuite_records FROM n_keyed GROUP BY ALL
), o AS (
  SELECT * FROM {{ ref('staging__crm_orders') }}
), guests AS (  -- as their latest order names them: guests, and buyers whose customer record has not landed yet
  SELECT person_key, arg_max(customer_email, created_at) AS email, arg_max(customer_first_name, created_at) AS first_name,
         arg_max(customer_last_name, created_at) AS last_name
  FROM o GROUP BY ALL
), revenue AS (
  SELECT person_key, currency, orders, revenue, last_order_at FROM {{ ref('analytics__crm_revenue_by_currency') }}
), main_currency AS (  -- a person's amounts are in the currency they last bought in
  SELECT person_key, arg_max(currency, last_order_at) AS currency FROM revenue GROUP BY ALL
), agg AS (
  SELECT o.person_key, count(*) AS orders, min(o.created_at) AS first_order_at, max(o.created_at) AS last_order_at,
         count(DISTINCT o.currency) AS currencies
  FROM o GROUP BY ALL
), people AS (
  SELECT person_key FROM s UNION SELECT person_key FROM n_keyed UNION SELECT person_key FROM o
), as_of AS (
  SELECT coalesce(TRY_CAST('{{ var("crm_as_of", "") }}' AS TIMESTAMPTZ), current_timestamp) AS at
), scored AS (
  SELECT p.person_key,
    s.customer_id AS shopify_customer_id,
    n_best.customer_id AS netsuite_customer_id,
    n_best.entity_id AS netsuite_entity_id,
    n_best.matched_by,
    coalesce(n_count.netsuite_records, 0) AS netsuite_records,
    coalesce(s.email, n_best.email, g.email) AS email,
    coalesce(s.email_key, n_best.email_key, nullif(lower(trim(g.email)), '')) AS email_key,
    coalesce(s.first_name, n_best.first_name, g.first_name) AS first_name,
    coalesce(s.last_name, n_best.last_name, g.last_name) AS last_name,
    n_best.company_name,
    s.email_marketing_state,
    coalesce(s.email_marketing_state = 'SUBSCRIBED', false) AS accepts_email_marketing,
    s.account_state,
    s.tags,
    CASE WHEN s.customer_id IS NOT NULL AND n_best.customer_id IS NOT NULL THEN 'both'
         WHEN s.customer_id IS NOT NULL THEN 'shopify'
         WHEN n_best.customer_id IS NOT NULL THEN 'netsuite'
         ELSE 'guest' END AS found_in,
    least(s.created_at, n_best.created_at) AS customer_since,
    coalesce(agg.orders, 0) AS orders,
    agg.first_order_at,
    agg.last_order_at,
    mc.currency,
    r.revenue,
    CAST(r.revenue / r.orders AS DECIMAL(18, 2)) AS average_order_value,
    coalesce(agg.currencies, 0) AS currencies,
    CAST(floor(epoch(as_of.at - agg.last_order_at) / 86400) AS INTEGER) AS days_since_last_order
  FROM people p
  CROSS JOIN as_of
  LEFT JOIN s ON s.person_key = p.person_key
  LEFT JOIN n_best ON n_best.person_key = p.person_key
  LEFT JOIN n_count ON n_count.person_key = p.person_key
  LEFT JOIN guests g ON g.person_key = p.person_key
  LEFT JOIN agg ON agg.person_key = p.person_key
  LEFT JOIN main_currency mc ON mc.person_key = p.person_key
  LEFT JOIN revenue r ON r.person_key = p.person_key AND r.currency = mc.currency
), rfm AS (
  SELECT *,
    {{ rfm_score('days_since_last_order', 'crm_recency_days', lower_is_better=true) }} AS recency_score,
    {{ rfm_score('orders', 'crm_frequency_orders') }} AS frequency_score,
    {{ rfm_score('revenue', 'crm_monetary_revenue') }} AS monetary_score
  FROM scored
)
SELECT *,
  CAST(recency_score AS VARCHAR) || CAST(frequency_score AS VARCHAR) || CAST(monetary_score AS VARCHAR) AS rfm_score,
  CASE WHEN orders = 0 THEN 'prospect'
       WHEN recency_score >= 4 AND frequency_score >= 4 THEN 'champion'
       WHEN recency_score >= 3 AND frequency_score >= 3 THEN 'loyal'
       WHEN recency_score <= 2 AND frequency_score >= 2 THEN 'at_risk'
       WHEN recency_score >= 4 AND frequency_score = 1 THEN 'new'
       WHEN recency_score >= 3 THEN 'promising'
       ELSE 'hibernating' END AS segment
FROM rfm
