"""Blocking checks across runs: what a failing guard upstream stops.

Dagster stops an asset's downstream *within one run* when a blocking check fails. The checks that guard
the warehouse's data run elsewhere, in the flows' own runs: sales-order totals (``orders_sync``), no
negative available (``inventory_sync``), one storefront fulfillment per NetSuite fulfillment
(``fulfillments_sync``), each day's reconciliation verdict (``reconciliation``, one evaluation per day
partition) and each day's finance tie-out (``finance``, likewise); the export job builds the marts in a run of its own. So the marts' build asks the instance for
the latest evaluation of each of these guards (all upstream of the marts in the asset graph) — of a
partitioned check, the latest evaluation of every partition — and refuses to go on while one of them
failed: the marts are not rebuilt and the snapshot keeps its current version until a later run of that
flow (of that day) passes the check.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from dagster._core.event_api import PartitionKeyFilter
from dagster._core.storage.asset_check_execution_record import (
    AssetCheckExecutionRecord,
    AssetCheckExecutionRecordStatus,
)

from sync_assets.domain.healing import Verdict


def _guards() -> list[dg.AssetCheckKey]:
    # Imported here: the flows' modules import this one's users. A test keeps the list true to the graph
    # (each is a blocking check on an asset upstream of the marts), so a new guard is one line here.
    from sync_assets.defs import finance, fulfillments, inventory, orders, reconciliation

    return [dg.AssetCheckKey(orders.SALES_ORDERS, orders.TOTALS_CHECK),
            dg.AssetCheckKey(inventory.LEVELS, inventory.NON_NEGATIVE_CHECK),
            dg.AssetCheckKey(fulfillments.FULFILLMENTS, fulfillments.ONCE_CHECK),
            dg.AssetCheckKey(reconciliation.REPORT, reconciliation.RECONCILES),
            dg.AssetCheckKey(finance.RAW_TRANSACTIONS, finance.TIES_OUT)]


FAILED = AssetCheckExecutionRecordStatus.FAILED
# On a guard's job: a failing verdict is a finding, not a crash, so run retries must not repeat it.
RETRY_ON_FAILURE_TAG = "dagster/retry_on_asset_or_op_failure"


def _latest_records(storage, check: dg.AssetCheckKey, record: AssetCheckExecutionRecord):
    """``(partition, record)`` of the check's latest evaluation — of every partition's, when it is partitioned
    (only the failed ones: the caller keeps failures only)."""
    evaluation = record.event.asset_check_evaluation if record.event is not None else None
    if evaluation is None or evaluation.partition is None:
        yield None, record
        return
    for info in storage.get_asset_check_partition_info([check]):
        if info.partition_key is not None and info.latest_execution_status is FAILED:
            latest = storage.get_latest_asset_check_execution_by_key(
                [check], partition_filter=PartitionKeyFilter(key=info.partition_key))  # fmt: skip
            if check in latest:
                yield info.partition_key, latest[check]


def failing_upstream_checks(instance: dg.DagsterInstance) -> list[str]:
    """The guards whose latest evaluation (of any partition) failed with ERROR severity, named with their
    partition, run and reason."""
    storage = instance.event_log_storage
    failing = []
    for check, latest in sorted(storage.get_latest_asset_check_execution_by_key(_guards()).items(),
                                key=lambda item: item[0].to_user_string()):  # fmt: skip
        for partition, record in _latest_records(storage, check, latest):
            evaluation = record.event.asset_check_evaluation if record.event is not None else None
            if record.status is not FAILED or evaluation is None or evaluation.severity == dg.AssetCheckSeverity.WARN:
                continue
            where = f" for {partition}" if partition else ""
            detail = f": {evaluation.description}" if evaluation.description else ""
            failing.append(f"{check.to_user_string()} failed{where} in run {record.run_id or '(reported)'}{detail}")
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


def verdict_check_result(check_name: str, verdict: Verdict, *, metadata: dict[str, Any], blocking: str,
                         healing: str, asset_key: dg.AssetKey | None = None) -> dg.AssetCheckResult:
    """A day's verdict (:mod:`sync_assets.domain.healing`) as a guard's evaluation: passes when nothing is
    open; fails with ERROR (holds the marts, see :func:`failing_upstream_checks`) while something blocks,
    with WARN (holds nothing) while all that is open is being healed. ``blocking`` / ``healing`` describe
    the two failing cases."""
    return dg.AssetCheckResult(
        asset_key=asset_key, check_name=check_name, passed=verdict.clean,
        severity=dg.AssetCheckSeverity.ERROR if verdict.holds else dg.AssetCheckSeverity.WARN,
        metadata={"blocking": len(verdict.blocking), "healing": len(verdict.healing), **metadata},
        description=blocking if verdict.holds else healing if verdict.healing else None,
    )  # fmt: skip
