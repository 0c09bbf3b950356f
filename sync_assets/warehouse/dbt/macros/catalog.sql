{#- dbt-duckdb's catalog queries (dbt/include/duckdb/macros/catalog.sql), with each table's row count added
    as a catalog stat: the docs site each export publishes beside the snapshot then shows how many rows every
    mart holds in that snapshot. Macros of the root project take precedence over the adapter's own. -#}

{% macro duckdb__get_catalog_tables_sql(information_schema) -%}
    select *
    from (
        select
            t.database_name as table_database,
            t.schema_name as table_schema,
            t.table_name as table_name,
            'BASE TABLE' as table_type,
            t.comment as table_comment,
            t.estimated_size as table_rows
        from duckdb_tables() t
        where upper(t.database_name) = upper('{{ information_schema.database }}')

        union all

        select
            v.database_name as table_database,
            v.schema_name as table_schema,
            v.view_name as table_name,
            'VIEW' as table_type,
            v.comment as table_comment,
            null as table_rows
        from duckdb_views() v
        where upper(v.database_name) = upper('{{ information_schema.database }}')
    ) catalog_tables
{%- endmacro %}


{% macro duckdb__get_catalog_results_sql() -%}
    select
        tables.table_database,
        tables.table_schema,
        tables.table_name,
        tables.table_type,
        tables.table_comment,
        columns.column_name,
        columns.column_index,
        columns.column_type,
        columns.column_comment,
        null as table_owner,
        'Rows' as "stats:row_count:label",
        tables.table_rows as "stats:row_count:value",
        'Rows in the table when the docs were generated (DuckDB estimated_size: exact for a fresh snapshot)' as "stats:row_count:description",
        tables.table_rows is not null as "stats:row_count:include"
    from tables
    join columns using (table_database, table_schema, table_name)
    order by table_schema, table_name, column_index
{%- endmacro %}
