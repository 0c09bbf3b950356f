"""Dagster glue of the CRM flow (policy entity ``crm``): NetSuite and Shopify customers landed for
``raw.netsuite_customers`` and ``raw.shopify_customers``, one job, the trigger the policy's lane calls for.

Two assets, not one: a storefront that is down does not keep the ERP's customers from landing (the
in-process executor runs the other step), and each shows its own row counts and API spend.
"""

from __future__ import annotations

from dataclasses import replace

import dagster as dg

from sync_assets.defs.lanes import FLOW_TAG, Flow, flow_definitions, lane_group, run_metadata, time_slot_probe
from sync_assets.domain.policy import EntityPolicy
from sync_assets.flows.customers import CrmConfig, run_customers_flow, run_shopify_customers_flow

JOB_NAME = "crm_sync"
RAW_CUSTOMERS = dg.AssetKey(["warehouse", "raw_netsuite_customers"])
RAW_SHOPIFY_CUSTOMERS = dg.AssetKey(["warehouse", "raw_shopify_customers"])
NO_DEAD_LETTERS = "no_customers_dead_lettered"


def definitions(policy: EntityPolicy, config: CrmConfig | None = None) -> dg.Definitions:
    config = config or CrmConfig()
    page = max(1, min(1000, policy.batch_size))

    @dg.asset(
        key=RAW_CUSTOMERS, group_name=lane_group(policy), kinds={"netsuite", "parquet"},
        required_resource_keys={"netsuite", "ledger", "landing"},
        description="Landed for raw.netsuite_customers: NetSuite customers modified since the last run "
                    "(keyset-paged SuiteQL; merged by warehouse_load, new versions only).",
    )  # fmt: skip
    def raw_netsuite_customers(context) -> dg.MaterializeResult:
        r = context.resources
        ledger = r.ledger.get_ledger()
        result = run_customers_flow(r.netsuite.get_client(), ledger, r.landing.get_area(ledger),
                                    run_id=context.run.run_id, config=replace(config, netsuite_page_size=page))
        return dg.MaterializeResult(metadata=run_metadata(**result.numbers(), **{"dagster/row_count": result.customers}))

    @dg.asset(
        key=RAW_SHOPIFY_CUSTOMERS, group_name=lane_group(policy), kinds={"shopify", "parquet"},
        required_resource_keys={"shopify", "ledger", "landing"},
        check_specs=[dg.AssetCheckSpec(NO_DEAD_LETTERS, asset=RAW_SHOPIFY_CUSTOMERS,
                                       description="Every Shopify customer read could be landed (WARN otherwise: "
                                                   "the rest landed, the bad ones are in the dead-letter queue).")],
        description="Landed for raw.shopify_customers: Shopify customers updated since the last run (paged by "
                    "updatedAt; one bulk operation past crm's bulk threshold), merged by warehouse_load.",
    )  # fmt: skip
    def raw_shopify_customers(context):
        r = context.resources
        ledger = r.ledger.get_ledger()
        result = run_shopify_customers_flow(r.shopify.get_client(lane=policy.lane), ledger, r.landing.get_area(ledger),
                                            run_id=context.run.run_id, config=config)
        yield dg.MaterializeResult(metadata=run_metadata(**result.numbers(), **{"dagster/row_count": result.customers}))
        yield dg.AssetCheckResult(
            check_name=NO_DEAD_LETTERS, passed=not result.dead_lettered, severity=dg.AssetCheckSeverity.WARN,
            description="; ".join(reason for _, reason in result.errors[:20]) or None,
            metadata={"dead_lettered": result.dead_lettered},
        )

    job = dg.define_asset_job(
        JOB_NAME, selection=dg.AssetSelection.assets(raw_netsuite_customers, raw_shopify_customers),
        tags={FLOW_TAG: "crm"}, executor_def=dg.in_process_executor,
        description="Customers of NetSuite and Shopify → the warehouse (the CRM mart is built from them).",
    )
    flow = Flow(entity="crm", job=job, probe=time_slot_probe("crm"),
                description="NetSuite + Shopify customers → warehouse")
    return flow_definitions(flow, policy, [raw_netsuite_customers, raw_shopify_customers])
