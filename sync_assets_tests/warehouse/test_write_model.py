"""The write model end to end: sync runs land files, one writer merges them, raw keeps versions not copies,
and a warehouse lock held elsewhere for minutes fails no run and loses no row."""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource

from sync_assets.defs import warehouse_load
from sync_assets.defs.resources import LedgerResource
from sync_assets.domain.policy import parse_policy
from sync_assets.flows.catalog import run_catalog_flow
from sync_assets.flows.orders import SYNCED, run_orders_flow
from sync_assets.state.ledger import Ledger
from sync_assets.warehouse.landing_area import LandingArea
from sync_assets.warehouse.load import WarehouseLoadError
from sync_assets.warehouse.merge import merge_pending
from sync_assets.warehouse.schema import RAW_TABLES
from sync_assets_tests.flows.orders_support import (
    CONFIG, landing_at, ledger_at, merge_at, netsuite_client, place_orders, policy, shopify_client,
)  # fmt: skip
from sync_assets_tests.flows.test_catalog_flow import CONFIG as CATALOG_CONFIG

from .conftest import orders_frame
from .test_snapshot import _hold_lock

# The case is an analyst's read-write session held for 3 minutes; CI uses a shorter hold that
# spans several loader attempts and several orders runs (the same property). Set it to 180 to see the 3 minutes.
HOLD_SECONDS = float(os.environ.get("SYNC_ASSETS_TEST_LOCK_HOLD_SECONDS", "20"))
LOADER = warehouse_load.definitions(parse_policy("").entity("warehouse_load"))
RAW = next(iter(LOADER.assets))


def _load(tmp_path, lock_wait: float = 1.0) -> dict:
    result = dg.materialize(
        [RAW], resources={"warehouse": DuckDBResource(database=str(tmp_path / "warehouse.duckdb")),
                          "ledger": LedgerResource(path=str(tmp_path / "ledger.sqlite"))},
        run_config={"ops": {"warehouse__raw": {"config": {"lock_wait_seconds": lock_wait}}}},
    )  # fmt: skip
    assert result.success
    return {k: v.value for k, v in result.asset_materializations_for_node("warehouse__raw")[0].metadata.items()}


def _rows(tmp_path, sql: str):
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def test_the_same_rows_landed_twice_add_no_copies_and_a_change_adds_one_version(tmp_path):
    ledger = Ledger(tmp_path / "ledger.sqlite")
    landing = LandingArea(tmp_path / "landing", ledger)
    landing.land({"raw.shopify_orders": orders_frame(ns=[1, 2, 3])}, "r1")
    landing.land({"raw.shopify_orders": orders_frame(ns=[1, 2, 3])}, "r2")  # same batch, two runs, one merge
    first = merge_pending(str(tmp_path / "warehouse.duckdb"), ledger)
    assert (first.files, first.landed_rows, first.appended_rows) == (2, 6, 3)
    landing.land({"raw.shopify_orders": orders_frame(ns=[1, 2, 3])}, "r3")  # a re-run, merged on its own
    landing.land({"raw.shopify_orders": orders_frame(ns=[2], updated=120, total="99.0")}, "r4")  # order 2 changed
    second = merge_pending(str(tmp_path / "warehouse.duckdb"), ledger)
    assert second.appended == {"raw.shopify_orders": 1} and second.duplicate_rows == 3
    versions = dict(_rows(tmp_path, "SELECT order_id, count(*) FROM raw.shopify_orders GROUP BY ALL"))
    assert versions == {"gid://shopify/Order/1": 1, "gid://shopify/Order/2": 2, "gid://shopify/Order/3": 1}
    assert _rows(tmp_path, "SELECT count(*) FROM raw.shopify_orders WHERE _content_hash IS NULL "
                           "OR _landed_at IS NULL OR _run_id NOT IN ('r1', 'r2', 'r4')") == [(0,)]
    assert not list((tmp_path / "landing").rglob("*.parquet"))  # merged files are removed
    assert ledger.landed_summary()["files"] == 0


def test_a_merge_takes_the_oldest_files_up_to_max_rows_and_the_next_one_the_rest(tmp_path):
    ledger = Ledger(tmp_path / "ledger.sqlite")
    landing = LandingArea(tmp_path / "landing", ledger)
    for run_id, ns in (("r1", [1, 2, 3]), ("r2", [4, 5]), ("r3", [6]), ("r4", [7, 8, 9, 10, 11])):
        landing.land({"raw.shopify_orders": orders_frame(ns=ns)}, run_id)
    merges = [merge_pending(str(tmp_path / "warehouse.duckdb"), ledger, max_rows=4) for _ in range(4)]
    # 3 rows, then 2 + 1, then a file over the bound on its own (never stuck), then nothing left
    assert [(m.files, m.appended_rows, m.pending_after) for m in merges] == [(1, 3, 3), (2, 3, 1), (1, 5, 0), (0, 0, 0)]
    assert _rows(tmp_path, "SELECT count(*), count(DISTINCT order_id) FROM raw.shopify_orders") == [(11, 11)]


def test_the_content_hash_travels_whole_and_files_landed_before_it_did_still_merge(tmp_path):
    """Parquet has no 128-bit integer: landed as UHUGEINT the hash became a DOUBLE (53 bits). As a UUID it
    arrives exactly, equal to what the raw backfill computes from the columns; a queued file of the old kind
    merges in the same batch as new ones."""
    ledger = Ledger(tmp_path / "ledger.sqlite")
    landing = LandingArea(tmp_path / "landing", ledger)
    old = landing.write("raw.shopify_orders", orders_frame(ns=[1, 2]), "old")
    rewritten = tmp_path / "old.parquet"
    with duckdb.connect() as conn:
        conn.execute(f"COPY (SELECT * REPLACE (CAST(CAST(_content_hash AS UHUGEINT) AS DOUBLE) AS _content_hash) "
                     f"FROM read_parquet('{old.path}')) TO '{rewritten}' (FORMAT parquet)")
    os.replace(rewritten, old.path)
    landing.queue([old])
    landing.land({"raw.shopify_orders": orders_frame(ns=[3, 4])}, "new")
    assert merge_pending(str(tmp_path / "warehouse.duckdb"), ledger).appended == {"raw.shopify_orders": 4}
    exact = RAW_TABLES["raw.shopify_orders"].hash_sql()
    assert _rows(tmp_path, f"SELECT _run_id, _content_hash = {exact} FROM raw.shopify_orders ORDER BY order_id") == [
        ("old", False), ("old", False), ("new", True), ("new", True)]
    landing.land({"raw.shopify_orders": orders_frame(ns=[3, 4])}, "again")
    assert merge_pending(str(tmp_path / "warehouse.duckdb"), ledger).appended == {"raw.shopify_orders": 0}


def test_landing_refuses_bad_frames_naming_the_table_and_writes_nothing(tmp_path):
    landing = LandingArea(tmp_path / "landing", Ledger(tmp_path / "ledger.sqlite"))
    frame = orders_frame(ns=[1])
    with pytest.raises(WarehouseLoadError, match=r"landing\(raw.shopify_orders\): frame columns \['colour'\]"):
        landing.land({"raw.shopify_orders": frame.assign(colour="red")}, "r1")
    with pytest.raises(WarehouseLoadError, match=r"rows have a NULL key"):
        landing.land({"raw.shopify_orders": frame.assign(order_id=None)}, "r1")
    assert not list((tmp_path / "landing").rglob("*.parquet"))


def test_a_rerun_and_the_overlap_window_add_no_raw_copies(sandbox, tmp_path):
    gids = place_orders(sandbox, 3)
    ledger = ledger_at(tmp_path)
    shopify, netsuite = shopify_client(sandbox), netsuite_client(sandbox)
    for run in range(3):  # each run re-reads the overlap window behind the watermark: the same versions
        run_orders_flow(shopify, netsuite, ledger, policy(), landing=landing_at(tmp_path), run_id=f"r{run}",
                        config=CONFIG)
        merge_at(tmp_path)
    copies = dict(_rows(tmp_path, "SELECT order_id, count(*) FROM raw.shopify_orders GROUP BY ALL"))
    assert set(gids) <= set(copies) and set(copies.values()) == {1}
    synced = _rows(tmp_path, "SELECT source_id, count(*) FROM raw.sync_events WHERE status = 'synced' GROUP BY ALL")
    assert {g for g, n in synced if n == 1} >= set(gids)

    items_before = _rows(tmp_path, "SELECT count(*) FROM raw.netsuite_items")
    for run in ("c1", "c2"):  # an unchanged nightly catalog adds nothing the second time
        run_catalog_flow(netsuite, None, ledger, landing=landing_at(tmp_path), run_id=run, config=CATALOG_CONFIG,
                         push=False)
        merge_at(tmp_path)
    items = _rows(tmp_path, "SELECT count(*), count(DISTINCT item_id) FROM raw.netsuite_items")[0]
    assert items_before == [(0,)] and items[0] == items[1] > 0


def test_a_long_warehouse_lock_fails_no_run_loses_no_row_and_rows_appear_after_release(sandbox, tmp_path):
    live = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(live)):
        pass
    ledger = ledger_at(tmp_path)
    shopify, netsuite = shopify_client(sandbox), netsuite_client(sandbox)
    holder = _hold_lock(live, HOLD_SECONDS)  # an analyst's read-write session
    placed, deferred_loads, runs, queued_while_locked = [], 0, 0, 0
    try:
        while holder.poll() is None:
            placed += place_orders(sandbox, 2)
            result = run_orders_flow(shopify, netsuite, ledger, policy(), landing=landing_at(tmp_path),
                                     run_id=f"during-{runs}", config=CONFIG)  # never waits on the lock
            runs += 1
            assert {result.outcomes[g].status for g in placed[-2:]} == {SYNCED}
            if holder.poll() is None:
                queued_while_locked = max(queued_while_locked, ledger.landed_summary()["files"])
                load = _load(tmp_path)  # the loader waits briefly, gives up for now, and does not fail
                deferred_loads += load["deferred"]
                assert load["files_merged"] == 0 or holder.poll() is not None
            time.sleep(0.5)
    finally:
        holder.kill()
        holder.wait()
    assert runs >= 2 and deferred_loads >= 1 and queued_while_locked >= 4  # files waited, runs went on
    after = _load(tmp_path, lock_wait=10)
    assert after["deferred"] == 0 and after["files_pending"] == 0
    in_raw = {r[0] for r in _rows(tmp_path, "SELECT order_id FROM raw.shopify_orders")}
    synced = {r[0] for r in _rows(tmp_path, "SELECT source_id FROM raw.sync_events WHERE status = 'synced'")}
    assert set(placed) <= in_raw and set(placed) <= synced  # everything landed meanwhile is there


# Tokyo (UTC+9) is the case that failed: the flow compared a UTC watermark with NetSuite's local stamps, so
# every second run re-read every customer. UTC keeps the plain case honest.
@pytest.mark.parametrize("zone", ["UTC", "Asia/Tokyo"])
def test_netsuite_customers_land_and_a_second_run_adds_nothing(sandbox, tmp_path, zone):
    from sync_assets.flows.customers import CrmConfig, run_customers_flow

    sandbox.control.configure(netsuite_timezone=zone)
    crm = CrmConfig(netsuite_timezone=zone, netsuite_page_size=7)
    # NetSuite stamps whole seconds and a run re-reads its watermark's second: let the catalog's customers
    # (stamped at reset) fall a second behind the ones the orders flow creates, or all share one second.
    time.sleep(1.1)
    place_orders(sandbox, 2)
    ledger = ledger_at(tmp_path)
    netsuite = netsuite_client(sandbox)
    run_orders_flow(shopify_client(sandbox), netsuite, ledger, policy(), config=CONFIG)  # creates customers
    first = run_customers_flow(netsuite, ledger, landing_at(tmp_path), run_id="crm-1", config=crm)
    assert first.customers > 0 and first.pages >= 1 and first.watermark_after is not None
    merge_at(tmp_path)
    second = run_customers_flow(netsuite, ledger, landing_at(tmp_path), run_id="crm-2", config=crm)
    assert 0 < second.customers <= 2 < first.customers  # from the watermark's second on only
    merge_at(tmp_path)
    rows = _rows(tmp_path, "SELECT count(*), count(DISTINCT customer_id), "
                           "count(*) FILTER (WHERE json_extract_string(payload, '$.externalid') LIKE 'shopify-customer-%') "
                           "FROM raw.netsuite_customers")[0]
    assert rows[0] == rows[1] == first.customers and rows[2] >= 1  # the customers the orders flow created
    newest = _rows(tmp_path, "SELECT max(source_updated_at) FROM raw.netsuite_customers")[0][0]
    assert abs((datetime.now(timezone.utc) - newest).total_seconds()) < 600  # read in the user's zone, kept in UTC
