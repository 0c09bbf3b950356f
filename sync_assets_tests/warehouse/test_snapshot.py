from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import duckdb
import pytest

from sync_assets.warehouse import WarehouseLockedError, append_frame, export_snapshot, open_current

from .conftest import netsuite_frames, orders_frame


def _load(conn, ns, run_id):
    append_frame(conn, "raw.shopify_orders", orders_frame(ns=ns), run_id)


def _hold_lock(path, seconds):
    """Another process holding the live file read-write, as a run would; returns once the lock is held."""
    code = textwrap.dedent(
        f"""
        import duckdb, sys, time
        c = duckdb.connect({str(path)!r})
        print("locked", flush=True)
        time.sleep({seconds})
        c.close()
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_snapshot_is_a_whole_version_made_current_with_parquet_that_agrees(conn, wh_path, tmp_path):
    _load(conn, [1, 2, 3], "r1")
    for table, df in netsuite_frames().items():
        append_frame(conn, table, df, "r1")
    conn.close()
    root = tmp_path / "snap"
    result = export_snapshot(wh_path, root)
    assert result.row_counts["staging.orders"] == 3 and result.row_counts["analytics.item_prices"] == 3
    folder, manifest = open_current(root)
    assert folder == result.path.parent and manifest["version"] == result.version
    assert manifest["tables"] == result.row_counts
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as snap:  # the stable path
        kinds = dict(snap.execute(
            "SELECT table_schema || '.' || table_name, table_type FROM information_schema.tables").fetchall())
        assert kinds["analytics.orders"] == kinds["staging.orders"] == "BASE TABLE"
        assert snap.execute("SELECT version FROM snapshot_info").fetchall() == [(result.version,)]
        assert set(result.parquet_files) == {n for n in kinds if n.startswith("analytics.")}
        for name, file in result.parquet_files.items():
            assert file.parent == folder / "parquet"
            from_parquet = snap.execute(f"SELECT * FROM read_parquet('{file}') ORDER BY ALL").fetchall()
            assert from_parquet == snap.execute(f"SELECT * FROM {name} ORDER BY ALL").fetchall()
    assert sorted(p.name for p in root.iterdir()) == ["current", "parquet", "versions", "warehouse.duckdb"]


def test_new_models_in_the_live_file_are_exported_without_code_changes(conn, wh_path, tmp_path):
    _load(conn, [1, 2], "r1")
    conn.execute("CREATE VIEW analytics.repeat_customers AS SELECT customer_email, count(*) AS n "
                 "FROM staging.orders GROUP BY ALL")
    conn.execute("CREATE TABLE analytics.top_skus AS SELECT 'SKU-1' AS sku, 3 AS units")
    conn.close()
    result = export_snapshot(wh_path, tmp_path / "snap")
    assert result.row_counts["analytics.repeat_customers"] == 1 and result.row_counts["analytics.top_skus"] == 1
    assert {"analytics.repeat_customers", "analytics.top_skus"} <= set(result.parquet_files)


def test_replaced_versions_stay_for_the_grace_period_then_go(conn, wh_path, tmp_path):
    _load(conn, [1], "r1")
    conn.close()
    root = tmp_path / "snap"
    first = export_snapshot(wh_path, root, grace_seconds=3600, keep_previous=0)
    second = export_snapshot(wh_path, root, grace_seconds=3600, keep_previous=0)
    assert first.path.exists() and second.removed_versions == 0  # within the grace period
    third = export_snapshot(wh_path, root, grace_seconds=0, keep_previous=1)
    assert third.removed_versions == 1 and not first.path.exists() and second.path.exists()
    assert open_current(root)[1]["version"] == third.version


def test_locked_live_file_retries_then_fails_clearly_leaving_old_snapshot(conn, wh_path, tmp_path):
    _load(conn, [1], "r1")
    conn.close()
    root = tmp_path / "snap"
    before = export_snapshot(wh_path, root)
    holder = _hold_lock(wh_path, 30)
    try:
        started = time.monotonic()
        with pytest.raises(WarehouseLockedError, match="stayed locked by another process"):
            export_snapshot(wh_path, root, lock_timeout_s=1.0)
        assert 1.0 <= time.monotonic() - started < 5
    finally:
        holder.kill()
        holder.wait()
    assert open_current(root)[1]["version"] == before.version
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as snap:
        assert snap.execute("SELECT count(*) FROM analytics.orders").fetchall() == [(1,)]
    assert [p.name for p in (root / "versions").iterdir() if p.name.startswith(".")] == []


def test_lock_released_within_the_window_is_waited_out(conn, wh_path, tmp_path):
    _load(conn, [1, 2], "r1")
    conn.close()
    holder = _hold_lock(wh_path, 1.0)
    try:
        result = export_snapshot(wh_path, tmp_path / "snap", lock_timeout_s=20)
    finally:
        holder.wait()
    assert result.lock_wait_seconds > 0.3
    assert result.row_counts["analytics.orders"] == 2


def test_refuses_to_snapshot_onto_the_live_file(wh_path):
    with pytest.raises(ValueError, match="would replace the live file"):
        export_snapshot(wh_path, wh_path.parent)


def test_marts_reading_marts_are_exported_as_tables_whatever_the_catalogs_order(conn, wh_path, tmp_path):
    _load(conn, [1, 2, 3], "r1")
    # Named before what it reads (the catalog lists it first): the export orders the views by what they read.
    conn.execute("CREATE VIEW analytics.z_order_totals AS SELECT order_id, count(*) AS n FROM staging.orders GROUP BY ALL")
    conn.execute("CREATE VIEW analytics.a_big_spenders AS SELECT * FROM analytics.z_order_totals WHERE n > 0")
    conn.close()
    root = tmp_path / "snap"
    result = export_snapshot(wh_path, root, memory_limit="64MB")
    assert result.row_counts["analytics.a_big_spenders"] == result.row_counts["analytics.z_order_totals"] == 3
    with duckdb.connect(str(result.path), read_only=True) as snap:
        kinds = dict(snap.execute("SELECT table_name, table_type FROM information_schema.tables "
                                  "WHERE table_name IN ('a_big_spenders', 'z_order_totals')").fetchall())
    assert kinds == {"a_big_spenders": "BASE TABLE", "z_order_totals": "BASE TABLE"}
    assert [p.name for p in (root / "versions").iterdir()] == [result.version]  # its spill folder is gone too


def test_the_export_spills_beside_the_versions_not_into_the_working_directory(tmp_path):
    from sync_assets.warehouse.snapshot import _bound_memory

    with duckdb.connect() as hub:  # in memory, DuckDB's default is .tmp in the working directory
        _bound_memory(hub, "64MB", tmp_path / "versions" / ".v1.spill")
        settings = hub.execute("SELECT current_setting('temp_directory'), current_setting('memory_limit'), "
                               "current_setting('preserve_insertion_order')").fetchall()[0]
    assert settings == (str(tmp_path / "versions" / ".v1.spill"), "61.0 MiB", False)


def test_views_are_materialised_after_the_views_they_read():
    from sync_assets.warehouse.snapshot import _in_dependency_order

    views = [
        ("analytics", "orders", "SELECT * FROM staging.order_lines JOIN analytics.order_totals USING (order_id)"),
        ("analytics", "order_totals", 'SELECT * FROM "snap"."staging"."orders"'),
        ("staging", "order_lines", "SELECT * FROM staging.orders, unnest(lines)"),
        ("staging", "orders", "SELECT * FROM raw.shopify_orders"),
    ]
    order = _in_dependency_order(views)
    assert order.index(("staging", "orders")) < order.index(("staging", "order_lines")) < order.index(("analytics", "orders"))
    assert order.index(("analytics", "order_totals")) < order.index(("analytics", "orders"))
    # A false reference (here in string literals) that makes a cycle leaves the catalog's order, still correct.
    looped = [("analytics", "a", "SELECT 'analytics.b' AS note"), ("analytics", "b", "SELECT 'analytics.a' AS note")]
    assert _in_dependency_order(looped) == [("analytics", "a"), ("analytics", "b")]


def test_docs_carry_forward_when_their_build_fails_and_the_docs_link_never_dangles(conn, wh_path, tmp_path):
    _load(conn, [1], "r1")
    conn.close()
    root = tmp_path / "snap"

    def build(db_file, folder):
        folder.mkdir()
        (folder / "index.html").write_text(f"docs of {db_file.parent.name}")
        return folder / "index.html"

    def fail(db_file, folder):
        folder.mkdir()
        (folder / "index.html").write_text("half written")
        raise OSError("No space left on device")

    first = export_snapshot(wh_path, root, build_docs=build)
    assert first.docs_version == first.version and first.docs_error is None
    second = export_snapshot(wh_path, root, build_docs=fail)
    third = export_snapshot(wh_path, root, build_docs=fail)  # carried again: still the first version's page
    for result in (second, third):
        assert result.docs_error == "OSError: No space left on device" and result.docs_version == first.version
        assert result.docs == result.path.parent / "docs" / "index.html"
        assert result.docs.read_text() == f"docs of .{first.version}"
    _, manifest = open_current(root)
    assert manifest["version"] == third.version and manifest["docs_version"] == first.version and manifest["docs_error"].startswith("OSError")
    assert (root / "docs" / "index.html").read_text() == f"docs of .{first.version}"
    assert first.docs.read_text() == f"docs of .{first.version}"  # the old version's own page is untouched
    off = export_snapshot(wh_path, root)  # docs switched off: this version has none, and the link goes
    assert off.docs is None and off.docs_version is None and off.docs_error is None
    assert not (root / "docs").is_symlink() and not (root / "docs").exists()
    again = export_snapshot(wh_path, root, build_docs=build)  # and comes back with the next docs
    assert (root / "docs" / "index.html").read_text() == f"docs of .{again.version}"
