"""Dagster glue of the inventory flow: one multi-asset step (storefront levels + warehouse snapshots), a
blocking check that no negative available was computed, job ``inventory_sync`` and its trigger.

The work is :func:`sync_assets.flows.inventory.run_inventory_flow`; this module wires resources in and turns
the result into materializations, metadata and a check result.
"""

from __future__ import annotations

import dagster as dg

from sync_assets.defs.lanes import FLOW_TAG, Flow, PendingWork, flow_definitions, lane_group, run_metadata
from sync_assets.domain.policy import EntityPolicy
from sync_assets.flows.inventory import InventoryFlowConfig, InventoryRunResult, find_pending, run_inventory_flow

ENTITY = "inventory"
JOB_NAME = "inventory_sync"
LEVELS = dg.AssetKey(["shopify", "inventory_levels"])
SNAPSHOTS = dg.AssetKey(["warehouse", "inventory_snapshots"])
NON_NEGATIVE_CHECK = "no_negative_available"


def non_negative_check(result: InventoryRunResult) -> dg.AssetCheckResult:
    negative = [r for r in result.snapshots if r["computed"] < 0]
    return dg.AssetCheckResult(
        check_name=NON_NEGATIVE_CHECK, asset_key=LEVELS, severity=dg.AssetCheckSeverity.ERROR,
        passed=not negative and result.negative_refused == 0,
        description="; ".join(f"{r['sku']} @ {r['location']}: {r['computed']}" for r in negative[:20]) or None,
        metadata={"negative_computed": len(negative), "negative_refused": result.negative_refused},
    )  # fmt: skip


def _probe(config: InventoryFlowConfig):
    def probe(context: dg.SensorEvaluationContext, policy: EntityPolicy) -> PendingWork | None:
        r = context.resources
        pending = find_pending(r.shopify.get_client(), r.netsuite.get_client(), r.ledger.get_ledger(), policy,
                               config=config)
        if pending.empty:
            return None
        return PendingWork(pending.fingerprint(), pending.summary(), len(pending.items) + len(pending.orders))

    return probe


def definitions(policy: EntityPolicy, config: InventoryFlowConfig = InventoryFlowConfig()) -> dg.Definitions:
    group = lane_group(policy)

    @dg.multi_asset(
        name="inventory_to_storefront",
        specs=[
            dg.AssetSpec(LEVELS, group_name=group, kinds={"shopify"},
                         description="Storefront available per (SKU, location): NetSuite available − unsynced "
                                     "storefront orders − safety stock, written compare-and-set."),
            dg.AssetSpec(SNAPSHOTS, group_name=group, kinds={"parquet"},
                         description="Landed for raw.inventory_snapshots (every computation, written or not) and "
                                     "raw.netsuite_inventory (the NetSuite balances read) and raw.shopify_locations (the storefront "
                                     "locations by name); merged by warehouse_load."),
        ],  # fmt: skip
        check_specs=[
            dg.AssetCheckSpec(NON_NEGATIVE_CHECK, asset=LEVELS, blocking=True,
                              description="No negative available-to-sell was computed or sent to the storefront."),
        ],  # fmt: skip
        required_resource_keys={"shopify", "netsuite", "ledger", "landing"},
    )
    def inventory_to_storefront(context):  # no annotation: postponed annotations hide the type from Dagster
        r = context.resources
        ledger = r.ledger.get_ledger()
        result = run_inventory_flow(
            r.shopify.get_client(lane=policy.lane), r.netsuite.get_client(), ledger, policy,
            landing=r.landing.get_area(ledger), run_id=context.run.run_id, config=config,
        )  # fmt: skip
        numbers = result.numbers()
        context.log.info("inventory batch: %s", numbers)
        yield dg.MaterializeResult(asset_key=LEVELS, metadata=run_metadata(**numbers))
        yield dg.MaterializeResult(asset_key=SNAPSHOTS, metadata=run_metadata(**{
            "dagster/row_count": len(result.snapshots), "netsuite_balances": len(result.balances),
            "landed_rows": result.landed_rows}))
        yield non_negative_check(result)

    job = dg.define_asset_job(
        JOB_NAME, selection=dg.AssetSelection.assets(inventory_to_storefront), executor_def=dg.in_process_executor,
        tags={FLOW_TAG: ENTITY}, description="Inventory NetSuite → storefront available, changed SKUs only.",
    )  # fmt: skip
    flow = Flow(entity=ENTITY, job=job, probe=_probe(config),
                resource_keys=frozenset({"shopify", "netsuite", "ledger"}),
                description="NetSuite inventory → storefront available")
    return flow_definitions(flow, policy, [inventory_to_storefront])
