{# The CRM's identity rule 2 (analytics__crm_customers): which Shopify customer an email belongs to.
   Shopify keeps one customer per email; the oldest wins if an import broke that. #}
{% macro crm_person_by_email() -%}
  SELECT email_key, arg_min('shopify:' || legacy_id, created_at) AS person_key
  FROM {{ ref('staging__shopify_customers') }} WHERE email_key IS NOT NULL GROUP BY ALL
{%- endmacro %}
