"""Dagster glue of the fulfillments flow: one asset step (``shopify/fulfillments``), a blocking check that
no Shopify fulfillment stands for two NetSuite fulfillments, job ``fulfillments_sync`` and its trigger.

The work is :func:`sync_assets.flows.fulfillments.run_fulfillments_flow`.
"""

from __future__ import annotations

from collections import Counter

import dagster as dg

from sync_assets.defs.lanes import FLOW_TAG, Flow, PendingWork, flow_definitions, lane_group, run_metadata
from sync_assets.domain.ids import short_digest
from sync_assets.domain.policy import EntityPolicy
from sync_assets.flows.fulfillments import FLOW, FulfillmentsFlowConfig, find_pending, run_fulfillments_flow

ENTITY = "fulfillments"
JOB_NAME = "fulfillments_sync"
FULFILLMENTS = dg.AssetKey(["shopify", "fulfillments"])
ONCE_CHECK = "one_shopify_fulfillment_per_netsuite_fulfillment"


def once_check(ledger) -> dg.AssetCheckResult:
    targets = Counter(e.target_id for e in ledger.entries(FLOW, "done"))
    shared = sorted(t for t, n in targets.items() if n > 1)
    return dg.AssetCheckResult(
        check_name=ONCE_CHECK, asset_key=FULFILLMENTS, severity=dg.AssetCheckSeverity.ERROR, passed=not shared,
        description=("Shopify fulfillments recorded for several NetSuite fulfillments: " + ", ".join(shared[:20]))
        if shared else None,
        metadata={"fulfillments_recorded": sum(targets.values()), "shared_targets": len(shared)},
    )  # fmt: skip


def _probe(config: FulfillmentsFlowConfig):
    def probe(context: dg.SensorEvaluationContext, policy: EntityPolicy) -> PendingWork | None:
        r = context.resources
        pending = find_pending(r.netsuite.get_client(), r.ledger.get_ledger(), policy, config=config)
        if not pending:
            return None
        ids = ",".join(sorted(f.id for f in pending))
        tracking = sum(1 for f in pending if f.tracking_only)
        summary = f"{len(pending) - tracking} shipped NetSuite fulfillment(s), {tracking} tracking change(s)"
        return PendingWork(short_digest(ids), summary, len(pending))

    return probe


def definitions(policy: EntityPolicy, config: FulfillmentsFlowConfig = FulfillmentsFlowConfig()) -> dg.Definitions:
    @dg.asset(
        key=FULFILLMENTS, group_name=lane_group(policy), kinds={"shopify"},
        description="Shopify fulfillments (with tracking) created once per shipped NetSuite item fulfillment.",
        check_specs=[dg.AssetCheckSpec(ONCE_CHECK, asset=FULFILLMENTS, blocking=True,
                                       description="No Shopify fulfillment is recorded for two NetSuite fulfillments.")],
        required_resource_keys={"shopify", "netsuite", "ledger", "landing"},
    )  # fmt: skip
    def shopify_fulfillments(context):  # no annotation: postponed annotations hide the type from Dagster
        r = context.resources
        ledger = r.ledger.get_ledger()
        result = run_fulfillments_flow(
            r.shopify.get_client(lane=policy.lane), r.netsuite.get_client(), ledger, policy,
            landing=r.landing.get_area(ledger), run_id=context.run.run_id, config=config,
        )  # fmt: skip
        numbers = result.numbers()
        context.log.info("fulfillments batch: %s", numbers)
        yield dg.MaterializeResult(metadata=run_metadata(**numbers, landed_rows=result.landed_rows))
        yield once_check(ledger)

    job = dg.define_asset_job(
        JOB_NAME, selection=dg.AssetSelection.assets(shopify_fulfillments), executor_def=dg.in_process_executor,
        tags={FLOW_TAG: ENTITY}, description="NetSuite item fulfillments + tracking → Shopify fulfillments, once each.",
    )  # fmt: skip
    flow = Flow(entity=ENTITY, job=job, probe=_probe(config), resource_keys=frozenset({"netsuite", "ledger"}),
                description="NetSuite fulfillments → storefront fulfillments")
    return flow_definitions(flow, policy, [shopify_fulfillments])
