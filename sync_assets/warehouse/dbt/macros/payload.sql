{# A typed field of a JSON payload. TRY_CAST so one odd value becomes NULL instead of failing every query. #}
{% macro j(path, typ='VARCHAR', col='payload') -%}
  {%- if typ == 'VARCHAR' -%}json_extract_string({{ col }}, '$.{{ path }}')
  {%- else -%}TRY_CAST(json_extract_string({{ col }}, '$.{{ path }}') AS {{ typ }}){%- endif -%}
{%- endmacro %}

{% macro money(path, col='payload') -%}{{ j(path, 'DECIMAL(18,4)', col) }}{%- endmacro %}

{# NetSuite sends 'T'/'F'; JSON may hold true/false. #}
{% macro flag(path, col='payload') -%}
  coalesce(lower({{ j(path, 'VARCHAR', col) }}) IN ('t', 'true', '1', 'yes'), false)
{%- endmacro %}

{# The latest version of each natural key. Raw keeps versions (a new row when content changed, and, before
   that, a copy per re-landing): the source's own update time decides, then the landing time. #}
{% macro latest(relation, keys) -%}
  SELECT * FROM {{ relation }}
  QUALIFY row_number() OVER (
    PARTITION BY {{ keys }} ORDER BY source_updated_at DESC NULLS LAST, _loaded_at DESC) = 1
{%- endmacro %}

{# A Shopify list as landed: connections are drained into plain lists by the flows, but accept
   {nodes: [...]} as well so a payload read straight from the API reads the same. #}
{% macro shopify_list(path, col='payload') -%}
  CASE WHEN json_type({{ col }}, '$.{{ path }}') = 'ARRAY' THEN json_extract({{ col }}, '$.{{ path }}')
       ELSE json_extract({{ col }}, '$.{{ path }}.nodes') END
{%- endmacro %}

{# A NetSuite datetime as SuiteQL renders it (`TO_CHAR(..., 'YYYY-MM-DD HH24:MI:SS')`): wall-clock time in the
   integration user's zone (the policy's account.netsuite_timezone, passed by the dbt asset as
   SYNC_ASSETS_NETSUITE_TIMEZONE), made an instant. Read as UTC it would be hours off for most accounts. #}
{% macro netsuite_ts(path, col='payload') -%}
  timezone('{{ env_var("SYNC_ASSETS_NETSUITE_TIMEZONE", "UTC") }}', {{ j(path, 'TIMESTAMP', col) }})
{%- endmacro %}
