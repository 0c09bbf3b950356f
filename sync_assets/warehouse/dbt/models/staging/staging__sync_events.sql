-- Re-landing a batch must not double-count, so identical events collapse to one. entity: the policy entity
-- whose runs land them (refunds and the customers and payments of orders are the orders entity's).
SELECT flow, {{ entity_of('flow') }} AS entity, source_id, target_id, status, reason, event_at, source_updated_at,
  min(_loaded_at) AS _loaded_at
FROM {{ source('raw', 'sync_events') }}
GROUP BY ALL
