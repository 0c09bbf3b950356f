{# The CRM's identity rule 2 (analytics__crm_customers): which Shopify customer an email belongs to.
   Shopify keeps one customer per email; the oldest wins if an import broke that. #}
{% macro crm_person_by_email() -%}
  SELECT email_key, arg_min('shopify:' || legacy_id, created_at) AS person_key
  FROM {{ ref('staging__shopify_customers') }} WHERE email_key IS NOT NULL GROUP BY ALL
{%- endmacro %}

{# One RFM score, 5 (best) to 1, from a dbt var of ascending thresholds (dbt_project.yml): with
   lower_is_better (recency, in days) the first threshold not exceeded scores best; otherwise (frequency,
   monetary) the highest threshold reached does. NULL for a person without orders. #}
{% macro rfm_score(value, var_name, lower_is_better=false) -%}
  {%- set thresholds = var(var_name) -%}
  {%- set n = thresholds | length -%}
  CASE WHEN orders = 0 THEN NULL
  {%- for i in range(n) %}
       WHEN {{ value }} {{ '<=' if lower_is_better else '>=' }} {{ thresholds[i] if lower_is_better else thresholds[n - 1 - i] }} THEN {{ n + 1 - i }}
  {%- endfor %}
       ELSE 1 END
{%- endmacro %}
