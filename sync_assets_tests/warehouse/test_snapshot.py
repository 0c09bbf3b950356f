from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import duckdb
import pandas as pd
import pytest

from sync_assets.warehouse import WarehouseLockedError, append_frame, ensure_schema, export_snapshot

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


def test_snapshot_is_complete_materialised_and_has_parquet(conn, wh_path, tmp_path):
    _load(conn, [1, 2, 3], "r1")
    for table, df in netsuite_frames().items():
        append_frame(conn, table, df, "r1")
    conn.close()
    target = tmp_path / "snap" / "warehouse.duckdb"
    result = export_snapshot(wh_path, target)
    assert result.row_counts["staging.orders"] == 3 and result.row_counts["analytics.item_prices"] == 3
    with duckdb.connect(str(target), read_only=True) as snap:
        kinds = dict(snap.execute(
            "SELECT table_schema || '.' || table_name, table_type FROM information_schema.tables").fetchall())
        assert kinds["analytics.orders"] == kinds["staging.orders"] == "BASE TABLE"
        assert snap.execute("SELECT count(*) FROM snapshot_info").fetchall() == [(1,)]
        for name, file in result.parquet_files.items():
            assert file.parent == target.parent / "parquet"
            from_parquet = snap.execute(f"SELECT * FROM read_parquet('{file}') ORDER BY ALL").fetchall()
            assert from_parquet == snap.execute(f"SELECT * FROM {name} ORDER BY ALL").fetchall()
    assert sorted(p.name for p in target.parent.iterdir()) == ["parquet", "warehouse.duckdb"]  # no temp left


def test_raw_tables_a_flow_creates_itself_are_exported_too(conn, wh_path, tmp_path):
    from sync_assets.flows.reconciliation import REPORT_DDL, REPORT_TABLE

    _load(conn, [1], "r1")
    conn.execute(REPORT_DDL)
    conn.execute(f"INSERT INTO {REPORT_TABLE} (run_id, checked_at, kind, order_id, requeued) "
                 "VALUES ('r1', now(), 'missing', 'gid://shopify/Order/1', true)")  # fmt: skip
    conn.close()
    result = export_snapshot(wh_path, tmp_path / "snap.duckdb")
    assert result.row_counts[REPORT_TABLE] == 1
    with duckdb.connect(str(tmp_path / "snap.duckdb"), read_only=True) as snap:
        assert snap.execute(f"SELECT kind, requeued FROM {REPORT_TABLE}").fetchall() == [("missing", True)]


def test_locked_live_file_retries_then_fails_clearly_leaving_old_snapshot(conn, wh_path, tmp_path):
    _load(conn, [1], "r1")
    conn.close()
    target = tmp_path / "snap.duckdb"
    export_snapshot(wh_path, target)
    holder = _hold_lock(wh_path, 30)
    try:
        started = time.monotonic()
        with pytest.raises(WarehouseLockedError, match="stayed locked by another process.*previous one is still in place"):
            export_snapshot(wh_path, target, lock_timeout_s=1.0)
        assert 1.0 <= time.monotonic() - started < 5
    finally:
        holder.kill()
        holder.wait()
    with duckdb.connect(str(target), read_only=True) as snap:
        assert snap.execute("SELECT count(*) FROM analytics.orders").fetchall() == [(1,)]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_lock_released_within_the_window_is_waited_out(conn, wh_path, tmp_path):
    _load(conn, [1, 2], "r1")
    conn.close()
    holder = _hold_lock(wh_path, 1.0)
    try:
        result = export_snapshot(wh_path, tmp_path / "snap.duckdb", lock_timeout_s=20)
    finally:
        holder.wait()
    assert result.lock_wait_seconds > 0.3
    assert result.row_counts["analytics.orders"] == 2


READER = textwrap.dedent(
    """
    import duckdb, json, os, sys, time
    target, stop = sys.argv[1], sys.argv[2]
    queries, errors, seen = 0, [], set()
    while not os.path.exists(stop):
        try:
            with duckdb.connect(target, read_only=True) as c:
                raw = c.execute("SELECT count(DISTINCT order_id) FROM raw.shopify_orders").fetchall()[0][0]
                staged = c.execute("SELECT count(*) FROM staging.orders").fetchall()[0][0]
                mart = c.execute("SELECT count(*) FROM analytics.orders").fetchall()[0][0]
                if not raw == staged == mart:
                    errors.append(f"inconsistent snapshot: raw={raw} staged={staged} mart={mart}")
                seen.add(mart)
                queries += 1
        except Exception as exc:
            errors.append(repr(exc))
    print(json.dumps({"queries": queries, "errors": errors[:5], "n_errors": len(errors), "seen": sorted(seen)}))
    """
)


def test_reader_of_the_snapshot_never_sees_an_error_or_a_partial_file(conn, wh_path, tmp_path):
    target = tmp_path / "snapshot" / "warehouse.duckdb"
    stop = tmp_path / "stop"
    _load(conn, [0], "r0")
    export_snapshot(wh_path, target, conn=conn)
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(target), str(stop)], stdout=subprocess.PIPE, text=True
    )
    try:
        for i in range(1, 7):
            _load(conn, range(i * 10, i * 10 + 10), f"r{i}")
            if i % 2 == 0:  # also the path analysts' cron uses: the writer closed, live file attached read-only
                conn.close()
                export_snapshot(wh_path, target)
                conn = duckdb.connect(str(wh_path))
                ensure_schema(conn)
            else:
                export_snapshot(wh_path, target, conn=conn)
            time.sleep(0.05)
    finally:
        stop.touch()
        out, _ = reader.communicate(timeout=60)
        conn.close()
    report = json.loads(out)
    assert report["n_errors"] == 0, report["errors"]
    assert report["queries"] > 5
    assert len(report["seen"]) > 2  # the reader really did see several swaps
    assert report["seen"][-1] <= 61


def test_refuses_to_snapshot_onto_the_live_file(wh_path):
    with pytest.raises(ValueError, match="is the live file"):
        export_snapshot(wh_path, wh_path)
