{# Relations without the catalog: dbt-duckdb would write "warehouse"."raw"."x" (the file's stem) into each
   view, which breaks the moment the file is attached under another name (the snapshot attaches the live
   file as live_src) or renamed. DuckDB resolves schema.table inside a view from the view's own catalog. #}
{% macro ref() %}
  {% do return(builtins.ref(*varargs, **kwargs).include(database=False)) %}
{% endmacro %}

{% macro source(source_name, table_name) %}
  {% do return(builtins.source(source_name, table_name).include(database=False)) %}
{% endmacro %}
