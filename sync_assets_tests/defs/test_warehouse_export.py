"""The analyst snapshot asset through dg.materialize on real files."""

from __future__ import annotations

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from sync_assets.defs import warehouse_export, warehouse_models
from sync_assets.domain.policy import load_policy


def test_export_builds_the_marts_then_exports_a_complete_copy_of_a_fresh_warehouse(tmp_path):
    models = warehouse_models.build_dbt_assets()
    d = warehouse_export.definitions(load_policy().entity("warehouse_export"), models)
    asset = next(a for a in d.assets if warehouse_export.SNAPSHOT in a.keys)
    target = tmp_path / "snap" / "warehouse.duckdb"
    result = dg.materialize(
        [models, asset], resources={"warehouse": DuckDBResource(database=str(tmp_path / "live.duckdb")),
                                    **warehouse_models.definitions(models).resources},
        run_config={"ops": {"warehouse__analyst_snapshot": {"config": {"target_path": str(target)}}}},
    )  # fmt: skip
    assert result.success
    meta = result.asset_materializations_for_node("warehouse__analyst_snapshot")[0].metadata
    assert meta["parquet_files"].value >= 1
    with duckdb.connect(str(target), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM main.snapshot_info").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM analytics.daily_sales").fetchone()[0] == 0  # empty, complete
    assert [s.name for s in d.schedules] == ["warehouse_export_schedule"]
