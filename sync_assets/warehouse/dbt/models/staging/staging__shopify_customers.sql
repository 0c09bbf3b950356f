-- Shopify customers, latest version of each. email_key is the address as the CRM matches it: trimmed and
-- lower-cased (Shopify and NetSuite both keep what was typed, spaces and capitals included).
SELECT
  customer_id,
  {{ j('legacyResourceId') }} AS legacy_id,
  {{ j('defaultEmailAddress.emailAddress') }} AS email,
  nullif(lower(trim({{ j('defaultEmailAddress.emailAddress') }})), '') AS email_key,
  {{ j('defaultEmailAddress.marketingState') }} AS email_marketing_state,
  {{ j('firstName') }} AS first_name,
  {{ j('lastName') }} AS last_name,
  {{ j('state') }} AS account_state,
  CAST(json_extract(payload, '$.tags') AS VARCHAR[]) AS tags,
  {{ j('createdAt', 'TIMESTAMPTZ') }} AS created_at,
  source_updated_at AS updated_at,
  _loaded_at
FROM ({{ latest(source('raw', 'shopify_customers'), 'customer_id') }})
