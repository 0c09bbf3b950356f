-- Records whose latest outcome is dead_lettered: held back until someone fixes the data or the policy.
SELECT flow, source_id, reason, event_at AS dead_lettered_at, source_updated_at
FROM {{ ref('staging__sync_events') }}
WHERE status <> 'skipped'
QUALIFY row_number() OVER (PARTITION BY flow, source_id ORDER BY event_at DESC, _loaded_at DESC) = 1
    AND status = 'dead_lettered'
