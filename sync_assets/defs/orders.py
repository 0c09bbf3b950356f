"""Dagster glue of the orders flow: one multi-asset step, a blocking totals check, job ``orders_sync``
(the webhook receiver launches it by that name) and its trigger from :mod:`sync_assets.defs.lanes`.

The work is :func:`sync_assets.flows.orders.run_orders_flow`; this module only wires resources in and
turns the result into materializations, metadata and a check result.
"""

from __future__ import annotations

from decimal import Decimal

import dagster as dg

from sync_assets.defs.lanes import FLOW_TAG, TRIGGER_TAG, Flow, PendingWork, flow_definitions, lane_group, run_metadata
from sync_assets.domain.policy import EntityPolicy
from sync_assets.flows import reference
from sync_assets.flows.orders import SYNCED, OrdersFlowConfig, OrdersRunResult, drain_orders_flow
from sync_assets.flows.orders_probe import probe_orders

JOB_NAME = "orders_sync"
SALES_ORDERS = dg.AssetKey(["netsuite", "sales_orders"])
CUSTOMERS = dg.AssetKey(["netsuite", "customers"])
DEPOSITS = dg.AssetKey(["netsuite", "customer_deposits"])
RAW_ORDERS = dg.AssetKey(["warehouse", "raw_shopify_orders"])
TOTALS_CHECK = "totals_match_storefront"
TOLERANCE = Decimal("0.01")


def totals_check(netsuite, result: OrdersRunResult) -> dg.AssetCheckResult:
    """NetSuite's sales-order totals, read back through SuiteQL, equal the storefront's for this batch.

    Cancelled orders are left out (their lines are closed, so NetSuite's total is no longer the sale's).
    """
    expected = {o.external_id: o.expected_total for o in result.outcomes.values()
                if o.status == SYNCED and not o.cancelled and o.external_id and o.expected_total is not None}
    actual = reference.sales_order_totals(netsuite, expected) if expected else {}
    mismatches = []
    for eid, want in sorted(expected.items()):
        got = actual.get(eid)
        if got is None or abs(Decimal(got["total"]) - want) > TOLERANCE:
            mismatches.append(f"{eid}: storefront {want}, NetSuite {got['total'] if got else 'missing'}")
    return dg.AssetCheckResult(
        check_name=TOTALS_CHECK,
        asset_key=SALES_ORDERS,
        passed=not mismatches,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(mismatches[:20]) or None,
        metadata={"orders_checked": len(expected), "mismatches": len(mismatches)},
    )


def _probe(policy_config: OrdersFlowConfig):
    def probe(context: dg.SensorEvaluationContext, policy: EntityPolicy) -> PendingWork | None:
        pending = probe_orders(
            context.resources.shopify.get_client(), context.resources.ledger.get_ledger(), policy, config=policy_config
        )
        return None if pending is None else PendingWork(pending.fingerprint, pending.summary, pending.count)

    return probe


def definitions(policy: EntityPolicy, config: OrdersFlowConfig = OrdersFlowConfig()) -> dg.Definitions:
    group = lane_group(policy)

    @dg.multi_asset(
        name="orders_to_netsuite",
        specs=[
            dg.AssetSpec(SALES_ORDERS, group_name=group, kinds={"netsuite"},
                         description="Storefront orders upserted as NetSuite sales orders (external id shopify-order-<id>)."),
            dg.AssetSpec(CUSTOMERS, group_name=group, kinds={"netsuite"},
                         description="NetSuite customers matched or created inline for those orders."),
            dg.AssetSpec(DEPOSITS, group_name=group, kinds={"netsuite"},
                         description="Customer deposits for the orders' successful payments."),
            dg.AssetSpec(RAW_ORDERS, group_name=group, kinds={"parquet"},
                         description="Order payloads and sync outcomes landed as Parquet for raw.shopify_orders and "
                                     "raw.sync_events (merged by warehouse_load)."),
        ],  # fmt: skip
        check_specs=[
            dg.AssetCheckSpec(TOTALS_CHECK, asset=SALES_ORDERS, blocking=True,
                              description="NetSuite sales-order totals equal storefront totals for the batch."),
        ],  # fmt: skip
        required_resource_keys={"shopify", "netsuite", "ledger", "landing"},
    )
    def orders_to_netsuite(context):  # no annotation: postponed annotations hide the type from Dagster
        resources = context.resources
        netsuite, ledger = resources.netsuite.get_client(), resources.ledger.get_ledger()
        result = drain_orders_flow(
            resources.shopify.get_client(lane=policy.lane), netsuite, ledger, policy,
            landing=resources.landing.get_area(ledger), run_id=context.run.run_id, config=config,
            trigger=context.run.tags.get(TRIGGER_TAG),
        )  # fmt: skip
        numbers = result.numbers()
        context.log.info("orders batch: %s", numbers)
        yield dg.MaterializeResult(asset_key=SALES_ORDERS, metadata=run_metadata(**numbers))
        yield dg.MaterializeResult(asset_key=CUSTOMERS, metadata=run_metadata(
            customers_created=result.customers_created, customers_matched=result.customers_matched))
        yield dg.MaterializeResult(asset_key=DEPOSITS, metadata=run_metadata(deposits_written=result.deposits_written))
        yield dg.MaterializeResult(asset_key=RAW_ORDERS, metadata=run_metadata(
            **{"dagster/row_count": result.landed_rows}))
        yield totals_check(netsuite, result)
        if result.netsuite_unavailable:
            # Bookkeeping is done (claims released, watermark held): fail so the UI shows the outage.
            raise dg.Failure(f"NetSuite stopped the batch: {result.netsuite_unavailable}",
                             metadata=run_metadata(**numbers))

    job = dg.define_asset_job(
        JOB_NAME,
        selection=dg.AssetSelection.assets(orders_to_netsuite),
        executor_def=dg.in_process_executor,
        tags={FLOW_TAG: "orders"},
        description="Orders storefront → NetSuite (sales orders, customers, deposits) and their warehouse landing.",
    )
    flow = Flow(entity="orders", job=job, probe=_probe(config), resource_keys=frozenset({"shopify", "ledger"}),
                description="storefront orders → NetSuite sales orders")
    return flow_definitions(flow, policy, [orders_to_netsuite])
