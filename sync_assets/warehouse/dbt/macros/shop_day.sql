{# The shop's calendar day of a timestamp: the day in account.order_date_timezone (the zone that dates a
   NetSuite sales order), which the dbt asset passes as SYNC_ASSETS_SHOP_TIMEZONE. #}
{% macro shop_day(col) -%}
  CAST(({{ col }}) AT TIME ZONE '{{ env_var("SYNC_ASSETS_SHOP_TIMEZONE", "UTC") }}' AS DATE)
{%- endmacro %}
