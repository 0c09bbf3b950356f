{# Rows where the column is below min_value (e.g. a negative available quantity). #}
{% test at_least(model, column_name, min_value) %}
SELECT * FROM {{ model }} WHERE {{ column_name }} < {{ min_value }}
{% endtest %}
