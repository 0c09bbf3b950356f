"""The analysts' snapshot: a whole, consistent set (DuckDB + Parquet per mart) made current by one switch.

See :mod:`sync_assets.warehouse.snapshot` for the layout. The export holds the live file's lock only
while it copies it (read-only, so it never writes the live warehouse); the marts and Parquet files are
built from the copy, and so is dbt's docs site (``docs/index.html`` in the version folder: its catalog is
the snapshot's own tables and columns), switched with the rest. Job ``warehouse_export``, triggered as the policy's lane says (hourly by default).
"""


import dagster as dg

from sync_assets import settings
from sync_assets.defs.lanes import FLOW_TAG, Flow, flow_definitions, lane_group, run_metadata, time_slot_probe
from sync_assets.domain.policy import EntityPolicy
from sync_assets.defs.warehouse_models import generate_docs, mart_keys
from sync_assets.warehouse import export_snapshot

JOB_NAME = "warehouse_export"
SNAPSHOT = dg.AssetKey(["warehouse", "analyst_snapshot"])


class SnapshotConfig(dg.Config):
    snapshot_dir: str = ""  # default: WAREHOUSE_SNAPSHOT_DIR
    grace_seconds: float = -1  # how long replaced versions stay; default: WAREHOUSE_SNAPSHOT_GRACE_SECONDS
    lock_timeout_seconds: float = 60.0
    docs: bool = True  # build dbt's docs site into the version (about 10-40 s, no lock held)


def definitions(policy: EntityPolicy, models: dg.AssetsDefinition) -> dg.Definitions:
    """``models``: the dbt marts (defs/warehouse_models.py); each export builds and tests them first, so a
    failing blocking dbt test stops the export and the previous snapshot stays current."""
    marts = mart_keys(models)

    @dg.asset(
        key=SNAPSHOT, group_name=lane_group(policy), kinds={"duckdb", "parquet"}, deps=marts,
        required_resource_keys={"warehouse"},
        description="Analysts' snapshot: <WAREHOUSE_SNAPSHOT_DIR>/current → a version folder holding warehouse.duckdb "
                    "(raw, staging and analytics as tables), parquet/analytics.<mart>.parquet, docs/index.html (dbt's docs "
                    "site) and manifest.json.",
    )  # fmt: skip
    def analyst_snapshot(context, config: SnapshotConfig) -> dg.MaterializeResult:
        grace = config.grace_seconds if config.grace_seconds >= 0 else float(
            settings.get_int("WAREHOUSE_SNAPSHOT_GRACE_SECONDS"))
        result = export_snapshot(
            context.resources.warehouse.database, config.snapshot_dir or settings.get("WAREHOUSE_SNAPSHOT_DIR"),
            lock_timeout_s=config.lock_timeout_seconds, grace_seconds=grace,
            build_docs=generate_docs if config.docs else None,
        )  # fmt: skip
        if result.docs_error:  # the analysts still get their data, with the last good docs (snapshot.py)
            kept = f"kept the docs of version {result.docs_version}" if result.docs else "no docs to keep"
            context.log.warning(f"dbt docs for snapshot {result.version} failed, exported without new docs "
                                f"({kept}): {result.docs_error}")
        rows = {f"rows_{name.replace('.', '_')}": n for name, n in result.row_counts.items()}
        return dg.MaterializeResult(metadata={
            **run_metadata(lock_wait_seconds=result.lock_wait_seconds, lock_held_seconds=result.lock_held_seconds,
                           removed_versions=result.removed_versions, parquet_files=len(result.parquet_files),
                           docs_pages=int(result.docs is not None), docs_failed=int(result.docs_error is not None),
                           **rows),
            "dagster/uri": dg.MetadataValue.path(str(result.path)),
            **({"docs": dg.MetadataValue.path(str(result.docs)),
                "docs_version": dg.MetadataValue.text(result.docs_version)} if result.docs else {}),
            **({"docs_error": dg.MetadataValue.text(result.docs_error)} if result.docs_error else {}),
            "version": dg.MetadataValue.text(result.version),
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
