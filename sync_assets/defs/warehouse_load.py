"""The warehouse's one writer: job ``warehouse_load`` merges landed Parquet files into ``raw``.

Sync runs never open the DuckDB file: they land what they saw in the landing area and queue it in the
ledger (:mod:`sync_assets.warehouse.landing_area`). This asset takes everything queued, in pool
``warehouse_writer`` (limit 1, ``dagster_instance.yaml``), and holds the write lock for the merge only.
When someone else holds the lock (an analyst's read-write session), it waits briefly, gives up for now
and says so in its metadata; the files stay queued and the sensor's next tick tries again — no failed run,
no lost row. Triggered by the policy's ``warehouse_load`` entity (real-time: a sensor whose probe is the
ledger's queue), through :mod:`sync_assets.defs.lanes` like every flow.
"""


import dagster as dg

from sync_assets.defs.catalog import RAW_ITEMS, RAW_PRICES
from sync_assets.defs.customers import RAW_CUSTOMERS
from sync_assets.defs.fulfillments import FULFILLMENTS
from sync_assets.defs.inventory import SNAPSHOTS
from sync_assets.defs.lanes import FLOW_TAG, Flow, PendingWork, flow_definitions, run_metadata
from sync_assets.defs.operations import DEAD_LETTERS
from sync_assets.defs.orders import RAW_ORDERS
from sync_assets.defs.reconciliation import REPORT
from sync_assets.domain.policy import EntityPolicy
from sync_assets.warehouse.merge import DEFAULT_LOCK_WAIT_S, merge_pending

JOB_NAME = "warehouse_load"
RAW = dg.AssetKey(["warehouse", "raw"])
POOL = "warehouse_writer"
GROUP = "warehouse"
LANDED = [RAW_ORDERS, FULFILLMENTS, SNAPSHOTS, RAW_ITEMS, RAW_PRICES, RAW_CUSTOMERS, REPORT, DEAD_LETTERS]


class LoadConfig(dg.Config):
    lock_wait_seconds: float = DEFAULT_LOCK_WAIT_S


def _probe(context: dg.SensorEvaluationContext, policy: EntityPolicy) -> PendingWork | None:
    queued = context.resources.ledger.get_ledger().landed_summary()
    if not queued["files"]:
        return None
    return PendingWork(str(queued["newest"]), f"{queued['files']} landed file(s), {queued['rows']} row(s) to merge",
                       queued["files"])


def definitions(policy: EntityPolicy) -> dg.Definitions:
    @dg.asset(
        key=RAW, group_name=GROUP, kinds={"duckdb"}, deps=LANDED, pool=POOL,
        required_resource_keys={"warehouse", "ledger"},
        description="The warehouse's raw schema: landed files merged, one row per new version (content hash).",
    )  # fmt: skip
    def raw(context, config: LoadConfig) -> dg.MaterializeResult:
        result = merge_pending(context.resources.warehouse.database, context.resources.ledger.get_ledger(),
                               lock_wait_s=config.lock_wait_seconds)
        if result.deferred:
            context.log.warning("merge deferred, files stay queued for the next run: %s", result.deferred)
        if result.missing:
            context.log.error("landed files gone before the merge (alert recorded): %s", result.missing[:5])
        appended = {f"appended_{t.removeprefix('raw.')}": n for t, n in sorted(result.appended.items())}
        return dg.MaterializeResult(metadata=run_metadata(
            files_merged=result.files, landed_rows=result.landed_rows, appended_rows=result.appended_rows,
            unchanged_rows=result.duplicate_rows, files_missing=len(result.missing), deferred=int(bool(result.deferred)),
            files_pending=result.pending_after, lock_wait_seconds=result.lock_wait_seconds,
            lock_held_seconds=result.merge_seconds, **appended,
        ))  # fmt: skip

    job = dg.define_asset_job(
        JOB_NAME, selection=dg.AssetSelection.assets(raw), tags={FLOW_TAG: "warehouse_load"},
        executor_def=dg.in_process_executor, description="Merge landed files into the warehouse's raw tables.",
    )
    flow = Flow(entity="warehouse_load", job=job, probe=_probe, resource_keys=frozenset({"ledger"}),
                description="landed files → warehouse raw")
    return flow_definitions(flow, policy, [raw])
