"""Freshness policies per lane, applied centrally from the sync policy (DOP-style, without its clobbering).

Each flow's job carries ``sync_assets/flow: <entity>``; the assets that job selects get the freshness of
that entity's lane, so moving an entity between lanes moves its freshness with it:

* real-time lane: ``FreshnessPolicy.time_window`` in minutes (warn / fail);
* batch lane: ``FreshnessPolicy.cron`` on the entity's own cron and timezone, ``lower_bound_delta`` = the
  cron's shortest gap. At each tick the asset must have materialized since the previous tick, i.e. the
  previous cycle's run must have succeeded (a run still in progress at its own tick is not yet judged).

Policies an asset declares itself are kept (``overwrite_existing=False``).
"""

from __future__ import annotations

import warnings
from datetime import datetime, timedelta, timezone

import dagster as dg

from sync_assets.defs.lanes import FLOW_TAG
from sync_assets.domain.policy import EntityPolicy, SyncPolicy

REALTIME_WARN = timedelta(minutes=5)
REALTIME_FAIL = timedelta(minutes=15)
OPERATIONS_GROUP = "operations"
OPERATIONS_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(minutes=30), warn_window=timedelta(minutes=15))


def shortest_cron_gap(cron: str, timezone_name: str = "UTC", ticks: int = 400) -> timedelta:
    from dagster._utils.schedules import cron_string_iterator

    start = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()
    it = cron_string_iterator(start, cron, timezone_name)
    times = [next(it) for _ in range(ticks)]
    return min(b - a for a, b in zip(times, times[1:]))


def freshness_for(policy: EntityPolicy) -> dg.FreshnessPolicy:
    if policy.is_realtime:
        return dg.FreshnessPolicy.time_window(fail_window=REALTIME_FAIL, warn_window=REALTIME_WARN)
    assert policy.cron is not None  # the policy parser insists on it for the batch lane
    return dg.FreshnessPolicy.cron(deadline_cron=policy.cron, lower_bound_delta=shortest_cron_gap(policy.cron, policy.timezone),
                                   timezone=policy.timezone)


def keys_by_entity(defs: dg.Definitions, policy: SyncPolicy) -> dict[str, set[dg.AssetKey]]:
    graph = defs.resolve_asset_graph()
    out: dict[str, set[dg.AssetKey]] = {}
    for job in defs.jobs or []:
        entity = (job.tags or {}).get(FLOW_TAG)
        selection = getattr(job, "selection", None)
        if entity in policy.entities and selection is not None:
            out.setdefault(entity, set()).update(selection.resolve(graph))
    return out


def with_lane_freshness(defs: dg.Definitions, policy: SyncPolicy) -> dg.Definitions:
    with warnings.catch_warnings():  # map_resolved_asset_specs is "preview" in 1.13; it is what DOP uses
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return _apply(defs, policy)


def _apply(defs: dg.Definitions, policy: SyncPolicy) -> dg.Definitions:
    for entity, keys in sorted(keys_by_entity(defs, policy).items()):
        fresh = freshness_for(policy.entity(entity))
        defs = defs.map_resolved_asset_specs(
            func=lambda spec, fresh=fresh: dg.apply_freshness_policy(spec, fresh, overwrite_existing=False),
            selection=sorted(keys, key=lambda k: k.to_user_string()),
        )
    return defs.map_resolved_asset_specs(
        func=lambda spec: dg.apply_freshness_policy(spec, OPERATIONS_FRESHNESS, overwrite_existing=False),
        selection=dg.AssetSelection.groups(OPERATIONS_GROUP),
    )
