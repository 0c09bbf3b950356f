{# The policy entity a flow's outcomes belong to (dbt_project.yml var flow_entities; any other flow is its own
   entity): the one name runs (raw.flow_runs.flow, the entity whose job ran) and events share in the marts. #}
{% macro entity_of(flow) -%}
  CASE {{ flow }}
  {%- for name, entity in var('flow_entities').items() %} WHEN '{{ name }}' THEN '{{ entity }}'{% endfor %}
  ELSE {{ flow }} END
{%- endmacro %}
