"""The warehouse's one writer: job ``warehouse_load`` merges landed Parquet files into ``raw``.

Every raw table is an asset (``warehouse/raw/<table>``) downstream of the flows' assets that land it, and
upstream of the dbt staging models that read it (:mod:`sync_assets.defs.warehouse_models`): the asset graph
reads landing → raw → staging → marts → analysts' snapshot (and the flows' checked assets sit upstream of
the raw tables their runs land, so their blocking checks guard the marts: :mod:`sync_assets.defs.guards`).
One merge materialises them all.

Sync runs never open the DuckDB file: they land what they saw in the landing area and queue it in the
ledger (:mod:`sync_assets.warehouse.landing_area`). This asset takes everything queued, in pool
``warehouse_writer`` (limit 1, ``dagster_instance.yaml``), and holds the write lock for the merge only.
When someone else holds the lock (an analyst's read-write session), it waits briefly, gives up for now
and says so in its metadata; the files stay queued and the sensor's next tick tries again — no failed run,
no lost row. Triggered by the policy's ``warehouse_load`` entity (real-time: a sensor whose probe is the
ledger's queue), through :mod:`sync_assets.defs.lanes` like every flow.
"""


import dagster as dg

from sync_assets.defs.catalog import RAW_DELETED, RAW_ITEMS, RAW_LOCATIONS, RAW_PRICES
from sync_assets.defs.customers import RAW_CUSTOMERS, RAW_SHOPIFY_CUSTOMERS
from sync_assets.defs.finance import (
    RAW_BALANCE_TRANSACTIONS,
    RAW_PAYOUTS,
    RAW_REFUND_DEPOSITS,
    RAW_TRANSACTIONS,
)
from sync_assets.defs.fulfillments import FULFILLMENTS
from sync_assets.defs.inventory import LEVELS, SNAPSHOTS
from sync_assets.defs.lanes import (
    FLOW_TAG,
    Flow,
    PendingWork,
    flow_definitions,
    run_metadata,
)
from sync_assets.defs.operations import DEAD_LETTERS
from sync_assets.defs.order_history import ORDER_HISTORY
from sync_assets.defs.orders import RAW_ORDERS, SALES_ORDERS
from sync_assets.defs.reconciliation import REPORT
from sync_assets.domain.policy import EntityPolicy
from sync_assets.warehouse.merge import DEFAULT_LOCK_WAIT_S, merge_pending
from sync_assets.warehouse.schema import RAW_TABLES

JOB_NAME = "warehouse_load"
POOL = "warehouse_writer"
GROUP = "warehouse"

# raw table -> the assets whose runs land its files (a table missing here still gets its asset, without deps).
LANDERS: dict[str, tuple[dg.AssetKey, ...]] = {
    # finance lands the orders of its day too, the history backfill its months
    "raw.shopify_orders": (RAW_ORDERS, RAW_TRANSACTIONS, ORDER_HISTORY),
    "raw.shopify_locations": (SNAPSHOTS,),
    "raw.netsuite_items": (RAW_ITEMS,),
    "raw.netsuite_item_prices": (RAW_PRICES,),
    "raw.netsuite_locations": (RAW_LOCATIONS,),
    "raw.netsuite_deleted_items": (RAW_DELETED,),
    "raw.netsuite_inventory": (SNAPSHOTS,),
    "raw.netsuite_customers": (RAW_CUSTOMERS,),
    "raw.shopify_customers": (RAW_SHOPIFY_CUSTOMERS,),
    "raw.netsuite_fulfillments": (FULFILLMENTS,),
    "raw.inventory_snapshots": (SNAPSHOTS, LEVELS),  # LEVELS carries the no-negative-available check
    "raw.reconciliation_findings": (REPORT,),
    "raw.netsuite_transactions": (RAW_TRANSACTIONS,),
    "raw.netsuite_refund_deposits": (RAW_REFUND_DEPOSITS,),
    "raw.shopify_balance_transactions": (RAW_BALANCE_TRANSACTIONS,),
    "raw.shopify_payouts": (RAW_PAYOUTS,),
    "raw.sync_events": (RAW_ORDERS, SALES_ORDERS, FULFILLMENTS, DEAD_LETTERS),  # SALES_ORDERS: the totals check
    # every run lands its row (defs/run_record.py); these are the API-spending flows' assets
    "raw.flow_runs": (SALES_ORDERS, LEVELS, FULFILLMENTS, RAW_ITEMS, RAW_CUSTOMERS, RAW_SHOPIFY_CUSTOMERS,
                      RAW_TRANSACTIONS, REPORT, ORDER_HISTORY),
}


def raw_table_key(table: str) -> dg.AssetKey:
    """``raw.shopify_orders`` -> ``warehouse/raw/shopify_orders``."""
    return dg.AssetKey(["warehouse", *table.split(".", 1)])


def raw_specs() -> list[dg.AssetSpec]:
    return [
        dg.AssetSpec(raw_table_key(table), group_name=GROUP, kinds={"duckdb"}, deps=LANDERS.get(table, ()),
                     description=f"{table}: landed files merged, one row per new version (content hash).")
        for table in RAW_TABLES
    ]  # fmt: skip


class LoadConfig(dg.Config):
    lock_wait_seconds: float = DEFAULT_LOCK_WAIT_S


def _own_recent_runs(instance: dg.DagsterInstance, limit: int = 10) -> list[str]:
    return [r.run_id for r in instance.get_runs(filters=dg.RunsFilter(job_name=JOB_NAME), limit=limit)]


def _probe(context: dg.SensorEvaluationContext, policy: EntityPolicy) -> PendingWork | None:
    # Each load lands its own run's row for raw.flow_runs: that alone is no reason for another load (it
    # would be a load every few seconds forever); it is merged with the next files that are.
    queued = context.resources.ledger.get_ledger().landed_summary(exclude_run_ids=_own_recent_runs(context.instance))
    if not queued["files"]:
        return None
    return PendingWork(str(queued["newest"]), f"{queued['files']} landed file(s), {queued['rows']} row(s) to merge",
                       queued["files"])


def definitions(policy: EntityPolicy) -> dg.Definitions:
    @dg.multi_asset(
        name="warehouse__raw", specs=raw_specs(), pool=POOL, required_resource_keys={"warehouse", "ledger"},
        description="The warehouse's raw schema: landed files merged, one row per new version (content hash).",
    )  # fmt: skip
    def raw(context, config: LoadConfig):
        result = merge_pending(context.resources.warehouse.database, context.resources.ledger.get_ledger(),
                               lock_wait_s=config.lock_wait_seconds)
        if result.deferred:
            context.log.warning("merge deferred, files stay queued for the next run: %s", result.deferred)
        if result.missing:
            context.log.error("landed files gone before the merge (alert recorded): %s", result.missing[:5])
        merge = run_metadata(
            files_merged=result.files, landed_rows=result.landed_rows, appended_rows=result.appended_rows,
            unchanged_rows=result.duplicate_rows, files_missing=len(result.missing), deferred=int(bool(result.deferred)),
            files_pending=result.pending_after, lock_wait_seconds=result.lock_wait_seconds,
            lock_held_seconds=result.merge_seconds,
            **{f"appended_{t.removeprefix('raw.')}": n for t, n in sorted(result.appended.items())},
        )  # fmt: skip
        for table in RAW_TABLES:
            # Every key gets the same numeric keys each run (zero when nothing new), so the UI's plots have no gaps.
            yield dg.MaterializeResult(asset_key=raw_table_key(table), metadata={
                **merge, **run_metadata(new_versions=result.appended.get(table, 0))})

    job = dg.define_asset_job(
        JOB_NAME, selection=dg.AssetSelection.assets(raw), tags={FLOW_TAG: "warehouse_load"},
        executor_def=dg.in_process_executor, description="Merge landed files into the warehouse's raw tables.",
    )
    flow = Flow(entity="warehouse_load", job=job, probe=_probe, resource_keys=frozenset({"ledger"}),
                description="landed files → warehouse raw")
    return flow_definitions(flow, policy, [raw])
