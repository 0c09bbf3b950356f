"""The one place the Dagster code location is assembled."""

from __future__ import annotations

import dagster as dg

from sync_assets.defs import (
    catalog,
    fulfillments,
    inventory,
    operations,
    orders,
    reconciliation,
    warehouse_export,
    warehouse_models,
)
from sync_assets.defs.freshness import with_lane_freshness
from sync_assets.defs.resources import build_resources
from sync_assets.domain.policy import load_policy


@dg.definitions
def defs() -> dg.Definitions:
    policy = load_policy()
    models = warehouse_models.build_dbt_assets()
    merged = dg.Definitions.merge(
        dg.Definitions(resources=build_resources()),
        orders.definitions(policy.entity("orders")),
        inventory.definitions(policy.entity("inventory")),
        fulfillments.definitions(policy.entity("fulfillments")),
        catalog.definitions(policy.entity("catalog")),
        warehouse_models.definitions(models),
        warehouse_export.definitions(policy.entity("warehouse_export"), models),
        reconciliation.definitions(policy.entity("reconciliation")),
        operations.definitions(),
    )
    # Freshness per lane from the policy, after merging, so it covers every flow's assets.
    return with_lane_freshness(merged, policy)
