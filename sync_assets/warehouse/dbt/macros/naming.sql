{# Models are named <schema>__<table> (e.g. analytics__orders) because dbt wants unique model names while
   analysts want staging.orders and analytics.orders: the custom schema is used as is, and the alias drops
   the schema prefix. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
  {{ custom_schema_name if custom_schema_name is not none else target.schema }}
{%- endmacro %}

{% macro generate_alias_name(custom_alias_name=none, node=none) -%}
  {%- if custom_alias_name -%}{{ custom_alias_name }}
  {%- elif '__' in node.name -%}{{ node.name.split('__', 1)[1] }}
  {%- else -%}{{ node.name }}{%- endif -%}
{%- endmacro %}
