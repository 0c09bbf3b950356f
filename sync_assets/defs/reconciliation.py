"""Dagster glue of reconciliation: storefront orders vs NetSuite sales orders, a report table in the
warehouse, missing orders re-queued for the orders flow, and a WARN check when anything is off."""

from __future__ import annotations

import dagster as dg

from sync_assets.defs.lanes import FLOW_TAG, Flow, flow_definitions, lane_group, run_metadata, time_slot_probe
from sync_assets.defs.tables import table_metadata
from sync_assets.domain.policy import EntityPolicy
from sync_assets.flows.reconciliation import MISSING, ReconciliationConfig, land_report, reconcile_orders

JOB_NAME = "reconciliation"
REPORT = dg.AssetKey(["warehouse", "reconciliation_findings"])
NOTHING_MISSING = "no_orders_missing_in_netsuite"
FINDING_COLUMNS = [("kind", "string"), ("order", "string"), ("order_id", "string"), ("netsuite_ids", "string"),
                   ("storefront_total", "string"), ("netsuite_total", "string"), ("requeued", "bool"),
                   ("detail", "string")]


def definitions(policy: EntityPolicy, config: ReconciliationConfig = ReconciliationConfig()) -> dg.Definitions:
    @dg.asset(
        key=REPORT, group_name=lane_group(policy), kinds={"parquet"},
        required_resource_keys={"shopify", "netsuite", "ledger", "landing"},
        check_specs=[dg.AssetCheckSpec(NOTHING_MISSING, asset=REPORT,
                                       description="Every storefront order of the window has a NetSuite sales order.")],
        description=f"raw.reconciliation_findings: storefront orders of the last {config.days} days vs NetSuite "
                    "sales orders (missing / duplicated / mismatched totals); missing ones are re-queued.",
    )  # fmt: skip
    def reconciliation_findings(context):
        r = context.resources
        ledger = r.ledger.get_ledger()
        result = reconcile_orders(r.shopify.get_client(lane=policy.lane), r.netsuite.get_client(), ledger,
                                  config=config, run_id=context.run.run_id)
        landed = land_report(r.landing.get_area(ledger), result, context.run.run_id)
        numbers = result.numbers()
        table = table_metadata(FINDING_COLUMNS, ({
            "kind": f.kind, "order": f.order_name, "order_id": f.order_id, "netsuite_ids": ",".join(f.netsuite_ids),
            "storefront_total": f.storefront_total, "netsuite_total": f.netsuite_total, "requeued": f.requeued,
            "detail": f.detail} for f in result.findings))  # fmt: skip
        yield dg.MaterializeResult(metadata={**run_metadata(**numbers, **{"dagster/row_count": landed}),
                                             "findings": table})
        missing = result.count(MISSING)
        yield dg.AssetCheckResult(
            check_name=NOTHING_MISSING, passed=missing == 0, severity=dg.AssetCheckSeverity.WARN,
            metadata={"missing": missing, "requeued": numbers["requeued"]},
            description=f"{missing} order(s) missing in NetSuite" if missing else None,
        )

    job = dg.define_asset_job(JOB_NAME, selection=dg.AssetSelection.assets(reconciliation_findings),
                              tags={FLOW_TAG: "reconciliation"}, executor_def=dg.in_process_executor,
                              description="Storefront vs NetSuite reconciliation; re-queues missing orders.")
    # In the real-time lane reconciliation would otherwise run back to back: once per sensor interval is plenty.
    flow = Flow(entity="reconciliation", job=job, probe=time_slot_probe("reconciliation"),
                description="storefront vs NetSuite")
    return flow_definitions(flow, policy, [reconciliation_findings])
