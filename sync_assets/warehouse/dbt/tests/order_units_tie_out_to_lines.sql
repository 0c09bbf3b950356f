-- Each order's units are the sum of its lines.
{{ config(meta={'dagster': {'ref': {'name': 'analytics__orders'}}}) }}
SELECT o.order_id, o.units, sum(l.quantity) AS line_units
FROM {{ ref('analytics__orders') }} o
LEFT JOIN {{ ref('analytics__order_lines') }} l USING (order_id)
GROUP BY ALL
HAVING o.units IS DISTINCT FROM coalesce(sum(l.quantity), 0)
