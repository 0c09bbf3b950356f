"""Dagster glue of the CRM flow: NetSuite customers landed for ``raw.netsuite_customers`` (policy entity ``crm``)."""

from __future__ import annotations

import dagster as dg

from sync_assets.defs.lanes import FLOW_TAG, Flow, flow_definitions, lane_group, run_metadata, time_slot_probe
from sync_assets.domain.policy import EntityPolicy
from sync_assets.flows.customers import run_customers_flow

JOB_NAME = "crm_sync"
RAW_CUSTOMERS = dg.AssetKey(["warehouse", "raw_netsuite_customers"])


def definitions(policy: EntityPolicy) -> dg.Definitions:
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
                                    run_id=context.run.run_id, page_size=max(1, min(1000, policy.batch_size)))
        return dg.MaterializeResult(metadata=run_metadata(**result.numbers(), **{"dagster/row_count": result.customers}))

    job = dg.define_asset_job(
        JOB_NAME, selection=dg.AssetSelection.assets(raw_netsuite_customers), tags={FLOW_TAG: "crm"},
        executor_def=dg.in_process_executor, description="NetSuite customers → the warehouse.",
    )
    flow = Flow(entity="crm", job=job, probe=time_slot_probe("crm"), description="NetSuite customers → warehouse")
    return flow_definitions(flow, policy, [raw_netsuite_customers])
