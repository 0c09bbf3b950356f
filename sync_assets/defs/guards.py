"""Blocking checks across runs: what a failing guard upstream stops.

Dagster stops an asset's downstream *within one run* when a blocking check fails. The checks that guard
the warehouse's data run elsewhere, in the flows' own runs: sales-order totals (``orders_sync``), no
negative available (``inventory_sync``), one storefront fulfillment per NetSuite fulfillment
(``fulfillments_sync``); the export job builds the marts in a run of its own. So the marts' build asks the
instance for the latest evaluation of each of these guards (all upstream of the marts in the asset graph)
and refuses to go on while one of them failed: the marts are not rebuilt and the snapshot keeps its
current version until a later run of that flow passes the check.
"""

from __future__ import annotations

import dagster as dg
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus


def _guards() -> list[dg.AssetCheckKey]:
    # Imported here: the flows' modules import this one's users. A test keeps the list true to the graph
    # (each is a blocking check on an asset upstream of the marts), so a new guard is one line here.
    from sync_assets.defs import fulfillments, inventory, orders

    return [dg.AssetCheckKey(orders.SALES_ORDERS, orders.TOTALS_CHECK),
            dg.AssetCheckKey(inventory.LEVELS, inventory.NON_NEGATIVE_CHECK),
            dg.AssetCheckKey(fulfillments.FULFILLMENTS, fulfillments.ONCE_CHECK)]


def failing_upstream_checks(instance: dg.DagsterInstance) -> list[str]:
    """The guards whose latest evaluation failed with ERROR severity, named with their run and reason."""
    failing = []
    for check, record in sorted(instance.event_log_storage.get_latest_asset_check_execution_by_key(_guards()).items(),
                                key=lambda item: item[0].to_user_string()):  # fmt: skip
        evaluation = record.event.asset_check_evaluation if record.event is not None else None
        if record.status is not AssetCheckExecutionRecordStatus.FAILED or evaluation is None:
            continue
        if evaluation.severity == dg.AssetCheckSeverity.WARN:
            continue
        detail = f": {evaluation.description}" if evaluation.description else ""
        failing.append(f"{check.to_user_string()} failed in run {record.run_id or '(reported)'}{detail}")
    return failing


def refuse_if_guards_fail(context: dg.AssetExecutionContext) -> None:
    """Raise ``dg.Failure`` naming every failing upstream blocking check (see the module docstring)."""
    failing = failing_upstream_checks(context.instance)
    if failing:
        raise dg.Failure(
            description="held back while a blocking check upstream fails (the snapshot keeps its current version; "
                        "a later run of that flow that passes the check releases it): " + "; ".join(failing),
            metadata={"failing_checks": dg.MetadataValue.json(failing)},
            allow_retries=False,
        )  # fmt: skip
