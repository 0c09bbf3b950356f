"""One row per run for ``raw.flow_runs``: what the run moved and what it cost, success or failure — every
run, whatever job or backfill launched it.

Two mechanisms, applied from the one assembly point (``sync_assets/definitions.py``):

* **Hooks on every asset** (:func:`record_runs`): a success and a failure hook fire after each step, with
  the run's own resources, so the API counters come from the run's Shopify and NetSuite clients (one per run,
  :mod:`sync_assets.defs.resources`) and a run that failed half way still lands what it spent. They sit on
  the assets, not on the jobs, so a run of the implicit asset job (Materialize in the UI, a backfill launched
  from an asset's page) lands its row like a run of the flow's job; op jobs (the replay) get them as job hooks.
  Each step's hook lands the run's totals up to then; ``staging.flow_runs`` keeps the latest per run.
* **A run-failure sensor** (:func:`failed_run_sensor`) for the runs no failure hook recorded: a run whose
  resources failed to start (a bad NetSuite credential), a run worker killed mid-step, a failure hook that
  errored. Its row has the run's outcome, times and records from Dagster's event log; API counters are
  NULL (the run's clients died with it). It lands only for runs with no completed failure hook, so a run's
  failure is never landed twice with different content, and the row it builds is the same at every
  evaluation (times from the run record), so a repeated landing is the same version and the merge adds none.

Landing goes to the landing area, never to DuckDB, so ``warehouse_load`` (pool ``warehouse_writer``, limit 1)
records its own runs without a second claim on the pool; its own rows do not trigger another load
(:func:`sync_assets.defs.warehouse_load` ignores them until other work arrives).

No ``from __future__ import annotations`` here: Dagster reads the sensor's resource annotations.
"""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from sync_assets.defs.lanes import FLOW_TAG, TRIGGER_TAG, lane_of_run
from sync_assets.defs.resources import LandingResource, LedgerResource

TABLE = "raw.flow_runs"
SUCCESS_HOOK = "land_flow_run_on_success"
FAILURE_HOOK = "land_flow_run_on_failure"
SENSOR_NAME = "land_rows_of_failed_runs"
RECORD_KEYS = ("records_examined", "records_synced", "records_failed", "records_dead_lettered")
API_RESOURCES = ("shopify", "netsuite")
LANDING_RESOURCES = frozenset({"ledger", "landing"})
PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
BACKFILL_TAG = "dagster/backfill"


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


def partition_of(tags: Mapping[str, str]) -> str | None:
    """The run's partition, or ``first...last`` for a run over a range (a single-run backfill of months)."""
    if tags.get(PARTITION_TAG):
        return tags[PARTITION_TAG]
    start, end = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    if start and end:
        return start if start == end else f"{start}...{end}"
    return None


def _stamp(timestamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if timestamp else None


def run_row(instance: dg.DagsterInstance, run: dg.DagsterRun, *, flow: str | None, failed: bool,
            started_at: datetime | None, ended_at: datetime, shopify: Mapping[str, float] | None,
            netsuite: Mapping[str, float] | None) -> dict[str, Any]:
    """The run's row. ``flow``: the run's flow tag wins, then the given name, then the job's name.
    ``shopify``/``netsuite``: the run's client stats; None when not known (NULL counters)."""

    def api(stats: Mapping[str, float] | None, key: str, kind: type) -> Any:
        return None if stats is None else kind(stats.get(key, 0))

    tags = run.tags or {}
    return {
        "run_id": run.run_id, "flow": tags.get(FLOW_TAG) or flow or run.job_name, "lane": lane_of_run(tags),
        "trigger": tags.get(TRIGGER_TAG) or ("backfill" if tags.get(BACKFILL_TAG) else "manual"),
        "partition_key": partition_of(tags), "started_at": started_at, "ended_at": ended_at,
        "outcome": "failure" if failed else "success", **_records(instance, run.run_id),
        "shopify_calls": api(shopify, "calls", int), "shopify_cost_points": api(shopify, "cost", float),
        "shopify_throttled": api(shopify, "throttled", int),
        "shopify_throttle_wait_seconds": api(shopify, "throttle_wait_s", float),
        "netsuite_calls": api(netsuite, "calls", int), "netsuite_throttled": api(netsuite, "throttled", int),
    }  # fmt: skip


def land_row(ledger_resource: LedgerResource, landing_resource: LandingResource, row: Mapping[str, Any]) -> None:
    import pandas as pd

    frame = pd.DataFrame([row])
    for column in ("started_at", "ended_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    ledger = ledger_resource.get_ledger()
    landing_resource.get_area(ledger).land({TABLE: frame}, row["run_id"])


def _client_stats(resources: Any, key: str) -> Mapping[str, float]:
    resource = getattr(resources, key, None)  # None: no asset of this flow uses that system
    return resource.client_stats() if resource is not None else {}


def hook_row(context: dg.HookContext, *, failed: bool, flow: str) -> dict[str, Any]:
    run = context.instance.get_run_by_id(context.run_id)
    assert run is not None  # a hook runs inside its run
    stats = context.instance.get_run_stats(context.run_id)
    return run_row(context.instance, run, flow=flow, failed=failed or _failed_before(context.instance, context.run_id),
                   started_at=_stamp(stats.start_time if stats else None), ended_at=datetime.now(UTC),
                   shopify=_client_stats(context.resources, "shopify"),
                   netsuite=_client_stats(context.resources, "netsuite"))  # fmt: skip


def run_hooks(flow: str, resource_keys: set[str] | frozenset[str]) -> frozenset[dg.HookDefinition]:
    """The two hooks for the assets of ``flow``, asking for the ledger, the landing area and whichever API
    resources those assets use (to read their clients' stats)."""
    keys = set(LANDING_RESOURCES | (set(resource_keys) & set(API_RESOURCES)))

    def land(context: dg.HookContext, failed: bool) -> None:
        # A landing error raises: Dagster records HOOK_ERRORED and the run's outcome stands; a failed run
        # whose failure hook did not complete gets its row from the failure sensor instead.
        land_row(context.resources.ledger, context.resources.landing, hook_row(context, failed=failed, flow=flow))

    @dg.success_hook(name=SUCCESS_HOOK, required_resource_keys=keys)
    def on_success(context: dg.HookContext) -> None:
        land(context, False)

    @dg.failure_hook(name=FAILURE_HOOK, required_resource_keys=keys)
    def on_failure(context: dg.HookContext) -> None:
        land(context, True)

    return frozenset({on_success, on_failure})


def _has_run_hooks(hooks) -> bool:
    return any(h.name == SUCCESS_HOOK for h in hooks or ())


def record_runs(defs: dg.Definitions, flow: str) -> dg.Definitions:
    """``defs`` (one flow's or one area's definitions) with every executable asset and op job landing its
    runs' rows, named ``flow`` unless the run carries a flow tag. Applied once per area at the assembly point."""
    from dagster_shared.record import copy

    assets = list(defs.assets or [])
    jobs = list(defs.jobs or [])
    used = {key for a in assets for key in getattr(a, "required_resource_keys", ())}
    used |= {key for j in jobs if isinstance(j, dg.JobDefinition) for key in j.required_resource_keys}
    hooks = run_hooks(flow, used)

    def hooked(asset):
        if isinstance(asset, dg.AssetsDefinition) and asset.is_executable and not _has_run_hooks(asset.hook_defs):
            return asset.with_hooks(set(hooks))
        return asset

    jobs = [j.with_hooks(set(hooks)) if isinstance(j, dg.JobDefinition) and not _has_run_hooks(j.hook_defs) else j
            for j in jobs]  # fmt: skip
    return copy(defs, assets=[hooked(a) for a in assets], jobs=jobs)


def flows_by_asset(areas: Mapping[str, dg.Definitions]) -> dict[dg.AssetKey, str]:
    """Asset key → the flow (area) it belongs to, for runs that carry no flow tag."""
    return {key: flow for flow, defs in areas.items() for a in defs.assets or []
            if isinstance(a, dg.AssetsDefinition) for key in a.keys}  # fmt: skip


def _failure_recorded(instance: dg.DagsterInstance, run_id: str) -> bool:
    marker = f'"{FAILURE_HOOK}"'  # Dagster's HOOK_COMPLETED message names the hook
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.HOOK_COMPLETED).records
    return any(marker in (r.event_log_entry.dagster_event.message or "") for r in records)


def failed_run_row(instance: dg.DagsterInstance, run: dg.DagsterRun,
                   flows: Mapping[dg.AssetKey, str]) -> dict[str, Any] | None:
    """The row of a failed run no failure hook recorded (None when one did): times from the run record,
    records from its materializations, API counters unknown."""
    if _failure_recorded(instance, run.run_id):
        return None
    record = instance.get_run_record_by_id(run.run_id)
    assert record is not None  # the sensor was told of its failure
    flow = next((flows[k] for k in sorted(run.asset_selection or (), key=str) if k in flows), None)
    ended = _stamp(record.end_time) or record.update_timestamp.astimezone(UTC)
    return run_row(instance, run, flow=flow, failed=True, started_at=_stamp(record.start_time), ended_at=ended,
                   shopify=None, netsuite=None)


def failed_run_sensor(flows: Mapping[dg.AssetKey, str]) -> dg.SensorDefinition:
    @dg.run_failure_sensor(name=SENSOR_NAME, default_status=dg.DefaultSensorStatus.RUNNING,
                           monitor_all_code_locations=False, minimum_interval_seconds=5,
                           description="Lands the raw.flow_runs row of a failed run that no failure hook recorded "
                                       "(resources failed to start, run worker killed); idempotent per run.")
    def land_rows_of_failed_runs(context: dg.RunFailureSensorContext, ledger: LedgerResource, landing: LandingResource):
        row = failed_run_row(context.instance, context.dagster_run, flows)
        if row is not None:
            land_row(ledger, landing, row)

    return land_rows_of_failed_runs
