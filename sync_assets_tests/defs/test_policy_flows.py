"""Every entity the policy accepts is backed by a flow: the assembled definitions hold its trigger."""

from __future__ import annotations

from sync_assets.definitions import defs
from sync_assets.domain.policy import ENTITIES, INLINE, load_policy


def test_every_policy_entity_has_a_trigger_in_the_definitions():
    policy, resolved = load_policy(), defs()
    triggers = {s.name for s in resolved.sensors or []} | {s.name for s in resolved.schedules or []}
    for name in ENTITIES:
        owner = INLINE.get(name, name)  # customers / payments ride inside the orders flow
        expected = f"{owner}_sensor" if policy.entity(owner).is_realtime else f"{owner}_schedule"
        assert expected in triggers, f"policy entity {name!r} has no flow trigger {expected!r}"
