"""Stock-out episodes (analytics.inventory_stockouts) on known inventory-flow computations in a real DuckDB
file: closed, ongoing, a second one for the same SKU, and the mart's own dbt tests. The per-SKU health mart
(analytics.inventory_health) is tested in test_marts.py."""

from __future__ import annotations

import duckdb

from sync_assets.defs import warehouse_models

LOC = "gid://shopify/Location/1"


def plant(path, snapshots):
    """``(sku, minute, computed, previous_storefront, written)`` rows, as the inventory flow lands them."""
    with duckdb.connect(str(path)) as conn:
        for sku, minute, computed, previous, written in snapshots:
            conn.execute(
                "INSERT INTO raw.inventory_snapshots (sku, location, netsuite_available, unsynced_qty, safety_stock, "
                "computed, previous_storefront, written, computed_at, _loaded_at, _run_id) "
                "VALUES (?, ?, ?, 0, 0, ?, ?, ?, TIMESTAMP '2026-12-01 00:00:00' + to_minutes(?::BIGINT), now(), 'r')",
                [sku, LOC, computed, computed, previous, written, minute],
            )  # fmt: skip


def built_rows(path, model, sql):
    """Run ``model``'s dbt tests on the planted rows (raises if one fails), then ``sql``'s rows."""
    warehouse_models.run_dbt(path, "test", "--select", model)
    with duckdb.connect(str(path)) as conn:
        return conn.execute(sql).fetchall()


def test_stockout_episodes_start_at_zero_shown_and_end_when_stock_is_back(wh_path):
    plant(wh_path, [
        ("A", 0, 5, 4, True),     # in stock
        ("A", 10, 0, 5, True),    # out from minute 10
        ("A", 20, 0, 0, False),   # still out (nothing to write)
        ("A", 40, 3, 0, True),    # back at minute 40: 30 minutes out
        ("A", 50, 0, 3, True),    # out again, ongoing at the last computation (minute 70)
        ("A", 70, 0, 0, False),
        ("B", 0, 2, 0, False),    # computed 2 but not written: the storefront still shows 0
        ("B", 5, 2, 2, True),     # written: 5 minutes out
        ("C", 0, 1, 1, False),    # never out
    ])  # fmt: skip
    got = built_rows(wh_path, "analytics__inventory_stockouts",
                     "SELECT sku, location, strftime(started_at, '%H:%M'), strftime(ended_at, '%H:%M'), ongoing, "
                     "minutes_out, computations_at_zero FROM analytics.inventory_stockouts ORDER BY sku, started_at")
    assert got == [
        ("A", LOC, "00:10", "00:40", False, 30.0, 2),
        ("A", LOC, "00:50", None, True, 20.0, 2),
        ("B", LOC, "00:00", "00:05", False, 5.0, 1),
    ]
