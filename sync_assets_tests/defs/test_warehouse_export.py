"""The analyst snapshot asset through dg.materialize on real files."""

from __future__ import annotations

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from sync_assets.defs import warehouse_export
from sync_assets.domain.policy import load_policy


def test_snapshot_asset_exports_a_complete_copy_with_parquet(tmp_path):
    d = warehouse_export.definitions(load_policy().entity("warehouse_export"))
    asset = next(iter(d.assets))
    target = tmp_path / "snap" / "warehouse.duckdb"
    result = dg.materialize(
        [asset], resources={"warehouse": DuckDBResource(database=str(tmp_path / "live.duckdb"))},
        run_config={"ops": {"warehouse__analyst_snapshot": {"config": {"target_path": str(target)}}}},
    )  # fmt: skip
    assert result.success
    meta = result.asset_materializations_for_node("warehouse__analyst_snapshot")[0].metadata
    assert meta["parquet_files"].value >= 1
    with duckdb.connect(str(target), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM main.snapshot_info").fetchone()[0] == 1
    assert [s.name for s in d.schedules] == ["warehouse_export_schedule"]
