"""The analysts' snapshot: a consistent copy of the live warehouse (DuckDB + Parquet), swapped in atomically.

Exported through the run's own warehouse connection, so it never waits on the writer's file lock.
Job ``warehouse_export``, triggered as the policy's lane says (hourly by default).
"""


import dagster as dg

from sync_assets import settings
from sync_assets.defs.lanes import FLOW_TAG, Flow, flow_definitions, lane_group, run_metadata, time_slot_probe
from sync_assets.domain.policy import EntityPolicy
from sync_assets.defs.warehouse_models import mart_keys
from sync_assets.warehouse import export_snapshot

JOB_NAME = "warehouse_export"
SNAPSHOT = dg.AssetKey(["warehouse", "analyst_snapshot"])


class SnapshotConfig(dg.Config):
    target_path: str = ""  # default: <WAREHOUSE_SNAPSHOT_DIR>/warehouse.duckdb


def definitions(policy: EntityPolicy, models: dg.AssetsDefinition) -> dg.Definitions:
    """``models``: the dbt marts (defs/warehouse_models.py); each export builds and tests them first, so a
    failing blocking dbt test stops the export and the previous snapshot stays current."""
    marts = mart_keys(models)

    @dg.asset(
        key=SNAPSHOT, group_name=lane_group(policy), kinds={"duckdb", "parquet"}, deps=marts,
        required_resource_keys={"warehouse"},
        description="Analysts' snapshot of the warehouse (staging + analytics as tables, Parquet per mart).",
    )  # fmt: skip
    def analyst_snapshot(context, config: SnapshotConfig) -> dg.MaterializeResult:
        snapshot_dir = settings.get("WAREHOUSE_SNAPSHOT_DIR")
        target = config.target_path or f"{snapshot_dir}/warehouse.duckdb"
        with context.resources.warehouse.get_connection() as conn:
            source = conn.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0]
            result = export_snapshot(source, target, conn=conn)
        rows = {f"rows_{name.replace('.', '_')}": n for name, n in result.row_counts.items()}
        return dg.MaterializeResult(metadata={
            **run_metadata(lock_wait_seconds=result.lock_wait_seconds, **rows),
            "dagster/uri": dg.MetadataValue.path(str(result.path)),
            "parquet_files": dg.MetadataValue.int(len(result.parquet_files)),
            "exported_at": dg.MetadataValue.timestamp(result.exported_at),
        })  # fmt: skip

    job = dg.define_asset_job(
        JOB_NAME, selection=dg.AssetSelection.assets(analyst_snapshot, models), tags={FLOW_TAG: "warehouse_export"},
        executor_def=dg.in_process_executor, description="Build and test the marts (dbt), then export the analysts' warehouse snapshot.",
    )
    # Real-time export makes little sense; if asked for, export once per sensor interval, at most once a minute.
    flow = Flow(entity="warehouse_export", job=job, probe=time_slot_probe("export"),
                description="warehouse → analyst snapshot")
    return flow_definitions(flow, policy, [analyst_snapshot])
