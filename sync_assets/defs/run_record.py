"""One row per flow run for ``raw.flow_runs``: what the run moved and what it cost, success or failure.

Every flow's job gets these hooks from :func:`sync_assets.defs.lanes.flow_definitions`, so no flow lands its
own row. A hook fires after each step, failed or not, with the run's own resources: the API counters are
read from the run's Shopify and NetSuite clients (one per run, :mod:`sync_assets.defs.resources`), so a
run that failed half way still lands what it spent. The records come from the run's materializations so
far. Each step's hook lands the run's totals up to then; ``staging.flow_runs`` keeps the latest per run.
Flow jobs use the in-process executor (one client per run across its steps), which this relies on.
A run that dies before any step finishes (killed, resources failed to start) lands nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dagster as dg

from sync_assets.defs.lanes import FLOW_TAG, TRIGGER_TAG, lane_of_run

TABLE = "raw.flow_runs"
RECORD_KEYS = ("records_examined", "records_synced", "records_failed", "records_dead_lettered")


def _client_stats(resource: Any) -> dict[str, float]:
    client = getattr(resource, "_client", None)  # None: the run never talked to that system
    return client.stats.snapshot() if client is not None else {}


def _records(instance: dg.DagsterInstance, run_id: str) -> dict[str, int]:
    totals = dict.fromkeys(RECORD_KEYS, 0)
    for record in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records:
        metadata = record.event_log_entry.asset_materialization.metadata
        for key in RECORD_KEYS:
            value = metadata.get(key)
            if value is not None and isinstance(value.value, (int, float)):
                totals[key] += int(value.value)
    return totals


def _failed_before(instance: dg.DagsterInstance, run_id: str) -> bool:
    return bool(instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records)


def flow_run_row(context: dg.HookContext, *, failed: bool) -> dict[str, Any]:
    run = context.instance.get_run_by_id(context.run_id)
    tags = run.tags if run else {}
    stats = context.instance.get_run_stats(context.run_id)
    shopify = _client_stats(getattr(context.resources, "shopify", None))
    netsuite = _client_stats(getattr(context.resources, "netsuite", None))
    failed = failed or _failed_before(context.instance, context.run_id)
    started = datetime.fromtimestamp(stats.start_time, UTC) if stats and stats.start_time else None
    return {
        "run_id": context.run_id, "flow": tags.get(FLOW_TAG), "lane": lane_of_run(tags),
        "trigger": tags.get(TRIGGER_TAG) or ("backfill" if tags.get("dagster/backfill") else "manual"),
        "partition_key": tags.get("dagster/partition"), "started_at": started, "ended_at": datetime.now(UTC),
        "outcome": "failure" if failed else "success", **_records(context.instance, context.run_id),
        "shopify_calls": int(shopify.get("calls", 0)), "shopify_cost_points": float(shopify.get("cost", 0.0)),
        "shopify_throttled": int(shopify.get("throttled", 0)),
        "shopify_throttle_wait_seconds": float(shopify.get("throttle_wait_s", 0.0)),
        "netsuite_calls": int(netsuite.get("calls", 0)), "netsuite_throttled": int(netsuite.get("throttled", 0)),
    }  # fmt: skip


def land_flow_run(context: dg.HookContext, *, failed: bool) -> None:
    import pandas as pd

    row = flow_run_row(context, failed=failed)
    frame = pd.DataFrame([row])
    for column in ("started_at", "ended_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    ledger = context.resources.ledger.get_ledger()
    try:
        context.resources.landing.get_area(ledger).land({TABLE: frame}, context.run_id)
    except Exception as exc:  # the run's own outcome stands; its row is a report, not its work
        context.log.error(f"{TABLE}: the run's row could not be landed: {exc}")


def hooks_for(resource_keys: set[str]) -> frozenset[dg.HookDefinition]:
    """The hooks for a job whose assets use ``resource_keys``: they ask only for those (a job's hook may not
    require a resource its definitions lack). A job that lands nothing (no ledger or landing area) gets none."""
    keys = frozenset(resource_keys) & {"shopify", "netsuite", "ledger", "landing"}
    if not {"ledger", "landing"} <= keys:
        return frozenset()

    @dg.success_hook(name="land_flow_run_on_success", required_resource_keys=set(keys))
    def on_success(context: dg.HookContext) -> None:
        land_flow_run(context, failed=False)

    @dg.failure_hook(name="land_flow_run_on_failure", required_resource_keys=set(keys))
    def on_failure(context: dg.HookContext) -> None:
        land_flow_run(context, failed=True)

    return frozenset({on_success, on_failure})
