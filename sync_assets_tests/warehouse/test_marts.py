"""The marts on what the flows really land: catalog, orders (twice: the second run re-reads the same
orders), fulfillments, inventory and reconciliation run against the sandbox into one DuckDB file, then
`dbt build` (its tests included) — once per module; every assertion below is an exact value.

Also: the analysts' recipe queries (docs/analyst_recipes.md) on that warehouse, newer and older raw
versions, the generated data dictionary, the column schema Dagster shows, and a planted bad row whose
failing blocking dbt check stops the snapshot.
"""

from __future__ import annotations

import re
import shutil
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource

from sync_assets.defs import warehouse_export, warehouse_models
from sync_assets.domain.policy import load_policy
from sync_assets.warehouse import dictionary
from sync_assets_tests.warehouse.landed import land_sandbox
from sync_assets_tests.warehouse.test_finance_marts import FINANCE_RECIPES  # tested on finance data there

RECIPES = Path(__file__).resolve().parents[2] / "docs" / "analyst_recipes.md"


@pytest.fixture(scope="module")
def built(sandbox_server, tmp_path_factory):
    from sync_assets.sandbox.control_client import SandboxControl
    from sync_assets_tests.conftest import SandboxHandle

    handle = SandboxHandle(sandbox_server.url, SandboxControl(sandbox_server.url), sandbox_server.data_dir)
    landed = land_sandbox(handle, tmp_path_factory.mktemp("landed"))
    warehouse_models.run_dbt(landed.path, "build")  # raises if any dbt test fails
    return landed


def rows(landed, sql, *params):
    with landed.connect() as conn:
        return conn.execute(sql, list(params)).fetchall()


D = Decimal


def test_orders_mart_counts_attempts_not_re_reads(built):
    got = rows(built, "SELECT order_id, order_number, total_price, units, sync_status, sync_attempts, "
                      "netsuite_sales_order_id IS NOT NULL, currency FROM analytics.orders ORDER BY order_number")
    placed = [(gid, f"#{1001 + n}", D(f"{10 + n}.50") * (1 + n % 2), 1 + n % 2, "synced", 1, True, "USD")
              for n, gid in enumerate(built.order_gids)]
    assert got == placed + [(built.dead_letter_gid, "#1005", D("5.00"), 1, "dead_lettered", 1, False, "USD")]
    # the second run re-read every order: raw has the skipped outcomes, the mart does not count them
    assert rows(built, "SELECT count(*) FROM raw.sync_events WHERE flow = 'orders' AND status = 'skipped'") == [(5,)]


def test_order_lines_and_daily_sales_read_line_items_as_landed(built):
    lines = rows(built, "SELECT order_number, line_number, sku, quantity, unit_price, line_total "
                        "FROM analytics.order_lines ORDER BY order_number")
    expected = [(f"#{1001 + n}", 1, built.skus[n % len(built.skus)], 1 + n % 2, D(f"{10 + n}.50"),
                 D(f"{10 + n}.50") * (1 + n % 2)) for n in range(4)]
    assert lines == expected + [("#1005", 1, "NO-SUCH-SKU", 1, D("5.00"), D("5.00"))]
    assert rows(built, "SELECT currency, location, orders, units, total FROM analytics.daily_sales") == [
        ("USD", "online", 5, 7, D("78.00"))]


def test_customers_payments_products_and_prices(built):
    # analytics.crm_customers is the one customer mart (analytics.customers was folded into it).
    assert rows(built, "SELECT email, orders, revenue FROM analytics.crm_customers WHERE orders > 0 ORDER BY email") == [
        ("buyer0@example.com", 2, D("37.50")), ("buyer1@example.com", 1, D("23.00")),
        ("buyer2@example.com", 1, D("12.50")), ("nobody@example.com", 1, D("5.00"))]
    assert rows(built, "SELECT order_number, kind, status, net_amount FROM analytics.payments ORDER BY 1") == [
        ("#1001", "SALE", "SUCCESS", D("10.50")), ("#1003", "SALE", "SUCCESS", D("12.50"))]
    # ISO codes, not NetSuite's internal currency id
    assert rows(built, "SELECT DISTINCT currency, currency_id FROM analytics.item_prices") == [("USD", "1")]
    priced = rows(built, "SELECT count(*), count(DISTINCT sku) FROM analytics.products WHERE base_price IS NOT NULL")
    assert priced == [(8, 8)]
    assert rows(built, "SELECT DISTINCT currency FROM analytics.products WHERE base_price IS NOT NULL") == [("USD",)]


def test_fulfillments_dead_letters_sync_health_and_reconciliation(built):
    assert rows(built, "SELECT count(*), sum(units), count(order_number) FROM analytics.fulfillments") == [(4, 6, 4)]
    assert rows(built, "SELECT flow, count(*) FROM analytics.dead_letters GROUP BY ALL ORDER BY 1") == [
        ("fulfillments", 4), ("orders", 1)]
    assert rows(built, "SELECT records, synced, dead_lettered, failing FROM analytics.sync_health "
                       "WHERE flow = 'orders'") == [(5, 4, 1, 0)]
    # The dead-lettered order stays missing (an operator owns it); the total changed in NetSuite and put
    # back is healed. Three runs of the day, one row per finding.
    assert rows(built, "SELECT kind, order_id, status, is_open, storefront_total, difference, requeued, "
                       "healed_at IS NOT NULL FROM analytics.reconciliation_findings ORDER BY kind") == [
        ("mismatched_total", built.order_gids[0], "healed", False, D("10.50"), D("-5.00"), False, True),
        ("missing", built.dead_letter_gid, "open", True, D("5.00"), None, False, False)]


def test_inventory_position_names_storefront_and_netsuite_locations(built):
    named = rows(built, "SELECT DISTINCT location_id, location, netsuite_location FROM analytics.inventory_position")
    ns_names = dict(rows(built, "SELECT location_id, name FROM analytics.locations"))
    mapped = dict(rows(built, "SELECT location_id, netsuite_location_id FROM staging.storefront_locations"))
    assert named and {gid: name for gid, name, _ in named} == {gid: built.storefront_locations[gid] for gid, *_ in named}
    assert all(ns == ns_names[mapped[gid]] for gid, _, ns in named)  # e.g. the storefront's and NetSuite's name
    assert not any(name.startswith("gid://") for _, name, _ in named)
    # NetSuite's own balance at the mapped location, for every SKU NetSuite stocks there
    [(with_balance, unbalanced_stock)] = rows(
        built, "SELECT count(netsuite_on_hand), count(*) FILTER (WHERE netsuite_on_hand IS NULL AND netsuite_available <> 0) "
               "FROM analytics.inventory_position")
    assert with_balance > 0 and unbalanced_stock == 0  # no balance row there means nothing NetSuite could sell
    assert rows(built, "SELECT count(*) FROM analytics.inventory_snapshots WHERE location LIKE 'gid://%'") == [(0,)]


def test_inventory_position_one_row_per_sku_and_location_never_negative(built):
    [(n, keys, negative)] = rows(built, "SELECT count(*), count(DISTINCT (sku, location_id)), "
                                        "count(*) FILTER (WHERE computed_available < 0) FROM analytics.inventory_position")
    assert n == keys == rows(built, "SELECT count(DISTINCT (sku, location)) FROM raw.inventory_snapshots")[0][0] > 0
    assert negative == 0
    sold = dict(rows(built, "SELECT sku, max(units_sold_7d) FROM analytics.inventory_position GROUP BY sku"))
    assert {built.skus[n]: sold.get(built.skus[n]) for n in range(4)} == {built.skus[n]: 1 + n % 2 for n in range(4)}


def _recipes() -> dict[str, str]:
    text = RECIPES.read_text(encoding="utf-8")
    return dict(re.findall(r"<!-- query: (\w+) -->\n```sql\n(.*?)```", text, flags=re.S))


def test_every_recipe_query_answers_on_the_built_warehouse(built):
    q = _recipes()
    assert set(q) - FINANCE_RECIPES - {"lane_cost"} == {"revenue_by_day_and_currency", "top_skus", "stock_running_out",
                                        "inventory_trouble", "orders_latency_per_hour", "dead_letters",
                                        "crm_repeat_customers", "crm_at_risk_customers", "crm_segments"}  # test_crm_mart.py
    [(_, currency, orders, units, revenue)] = rows(built, q["revenue_by_day_and_currency"])
    assert (currency, orders, units, revenue) == ("USD", 5, 7, D("78.00"))
    s = built.skus
    assert [r[:3] for r in rows(built, q["top_skus"])] == [
        (s[3], 2, D("27.00")), (s[1], 2, D("23.00")), (s[2], 1, D("12.50")), (s[0], 1, D("10.50")),
        ("NO-SUCH-SKU", 1, D("5.00"))]
    assert [r[:5] for r in rows(built, q["crm_repeat_customers"])] == [("buyer0@example.com", "Buyer", "N0", 2, D("37.50"))]
    running_out = rows(built, q["stock_running_out"])
    stock = dict(((r[0], r[1]), r[2]) for r in rows(built, "SELECT location, sku, storefront_available, units_sold_7d "
                                                              "FROM analytics.inventory_position "
                                                              "WHERE units_sold_7d > storefront_available"))
    assert {(r[0], r[1]): r[2] for r in running_out} == stock and all(r[4] < 7 for r in running_out)
    trouble = rows(built, q["inventory_trouble"])
    everything = rows(built, "SELECT count(*) FROM analytics.inventory_health")[0][0]
    assert everything > 0 and all(r[2] or r[5] > 0 or r[7] != 0 for r in trouble)  # stocked out, oversold, drifting
    [(_, orders, in_netsuite, held_back, p50, worst)] = rows(built, q["orders_latency_per_hour"])
    assert (orders, in_netsuite, held_back) == (5, 4, 1) and 0 <= p50 <= worst < 600
    assert len(rows(built, q["dead_letters"])) == 5


def test_latest_version_wins_whatever_order_versions_land_in(built, tmp_path):
    path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built.path, path)
    gid = built.order_gids[0]
    with duckdb.connect(str(path)) as conn:
        # a newer version (as tomorrow's content-hash landing appends it), then an older one landing late
        for run, shift, total in (("newer", "1 hour", "99.00"), ("late-old", "-1 hour", "1.00")):
            conn.execute(
                "INSERT INTO raw.shopify_orders (order_id, source_updated_at, payload, _loaded_at, _run_id) "
                f"SELECT order_id, source_updated_at + INTERVAL '{shift}', "
                "json_merge_patch(payload, json_object('totalPriceSet', json_object('shopMoney', "
                "json_object('amount', ?, 'currencyCode', 'USD')))), now(), ? "
                "FROM raw.shopify_orders WHERE order_id = ? LIMIT 1", [total, run, gid])
        got = conn.execute("SELECT total_price, units FROM analytics.orders WHERE order_id = ?", [gid]).fetchall()
        assert got == [(D("99.00"), 1)]
        assert conn.execute("SELECT count(*) FROM analytics.order_lines WHERE order_id = ?", [gid]).fetchall() == [(1,)]


def test_data_dictionary_is_generated_from_the_dbt_yaml_and_covers_every_mart_column(built):
    committed = dictionary.DICTIONARY.read_text(encoding="utf-8")
    assert committed == dictionary.render(), "docs/data_dictionary.md is stale: run `sync-assets data-dictionary`"
    built_columns = rows(built, "SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'analytics'")
    undocumented = [f"analytics.{t}.{c}" for t, c in built_columns if f"| `{c}` |" not in
                    committed.split(f"### `analytics.{t}`", 1)[-1].split("### ", 1)[0]]
    assert undocumented == []


def test_column_descriptions_reach_dagster_as_column_schema():
    models = warehouse_models.build_dbt_assets()
    spec = models.specs_by_key[dg.AssetKey(["warehouse", "analytics", "orders"])]
    schema = spec.metadata["dagster/column_schema"]
    columns = {c.name: c.description for c in schema.columns}
    assert columns["sync_attempts"].startswith("Attempts to write the order")
    blocking = {c.name: c.blocking for c in models.check_specs if c.asset_key == spec.key}
    assert blocking["accepted_values_analytics__orders_sync_status__pending__synced__failed__dead_lettered"] is True


def test_a_failing_blocking_dbt_check_stops_the_snapshot(built, tmp_path):
    live = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built.path, live)
    with duckdb.connect(str(live)) as conn:  # a planted bad row: a negative available-to-sell
        conn.execute("INSERT INTO raw.inventory_snapshots (sku, location, netsuite_available, unsynced_qty, "
                     "safety_stock, computed, previous_storefront, written, computed_at, _loaded_at, _run_id) "
                     "SELECT 'SKU-BAD', 'gid://shopify/Location/1', 0, 3, 0, -3, 0, false, now(), now(), 'planted'")
    models = warehouse_models.build_dbt_assets()
    d = warehouse_export.definitions(load_policy().entity("warehouse_export"), models)
    snapshot = next(a for a in d.assets if warehouse_export.SNAPSHOT in a.keys)
    target = tmp_path / "snap"
    result = dg.materialize(
        [models, snapshot], raise_on_error=False,
        resources={"warehouse": DuckDBResource(database=str(live)), **warehouse_models.definitions(models).resources},
        run_config={"ops": {"warehouse__analyst_snapshot": {"config": {"snapshot_dir": str(target)}}}},
    )  # fmt: skip
    failed = {e.asset_check_key.name for e in result.get_asset_check_evaluations() if not e.passed}
    assert any(name.startswith("at_least_analytics__inventory_position_computed_available") for name in failed), failed
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert warehouse_export.SNAPSHOT not in materialized
    assert not target.exists()


def test_every_raw_table_is_a_dbt_source_read_by_a_staging_model_and_an_asset_with_its_landers():
    import json

    from sync_assets.defs import warehouse_load
    from sync_assets.warehouse.schema import RAW_TABLES

    manifest = json.loads(warehouse_models.prepare().read_text())
    sources = {f"{s['schema']}.{s['name']}": uid for uid, s in manifest["sources"].items()}
    assert set(sources) == set(RAW_TABLES)
    read = {dep for n in manifest["nodes"].values() if n["resource_type"] == "model" and n["name"].startswith("staging__")
            for dep in n["depends_on"]["nodes"]}
    assert sorted(t for t, uid in sources.items() if uid not in read) == []
    models = warehouse_models.build_dbt_assets()
    loader = next(iter(warehouse_load.definitions(load_policy().entity("warehouse_load")).assets))
    for table in RAW_TABLES:
        key = warehouse_load.raw_table_key(table)
        assert key in loader.keys and warehouse_load.LANDERS.get(table), table  # merged, and landed by a flow
        assert any(key in deps for deps in models.asset_deps.values()), table  # read by a staging model


def test_inventory_health_counts_stock_outs_oversells_cover_and_drift(built, tmp_path):
    path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built.path, path)
    short, drifting = "gid://shopify/Location/9901", "gid://shopify/Location/9902"
    with duckdb.connect(str(path)) as conn:
        (sku, units), = conn.execute("SELECT sku, units_sold_7d FROM analytics.inventory_position "
                                     "ORDER BY units_sold_7d DESC, sku LIMIT 1").fetchall()
        assert units > 0
        series = [  # location, minute, computed, netsuite available, unsynced, previous storefront, written
            (short, 0, 5, 5, 0, None, True),
            (short, 1, 0, 2, 3, 5, True),  # out of stock, and 3 units of orders against 2 in NetSuite
            (short, 2, 4, 4, 0, 0, True),
            (short, 3, 0, 0, 0, 4, True),  # out again
            (short, 4, 0, 1, 2, 0, False),  # still out (nothing to write), oversold by one
            (drifting, 0, 3, 3, 0, None, True),
            (drifting, 1, 6, 6, 0, 3, False),  # the write did not happen: the storefront still shows 3
            (drifting, 2, 6, 6, 0, 3, False),
        ]
        for location, minute, computed, ns, unsynced, previous, written in series:
            conn.execute(
                "INSERT INTO raw.inventory_snapshots (sku, location, netsuite_available, unsynced_qty, safety_stock, "
                "computed, previous_storefront, written, computed_at, _loaded_at, _run_id) VALUES (?, ?, ?, ?, 0, ?, ?, ?, "
                "TIMESTAMPTZ '2026-12-01 10:00:00+00' + to_minutes(?::BIGINT), now(), 'health-test')",
                [sku, location, ns, unsynced, computed, previous, written, minute])
        got = conn.execute(
            "SELECT location_id, stocked_out, stocked_out_since, stock_outs, oversell_incidents, last_oversell_at, "
            "max_units_oversold, storefront_available, storefront_drift, drifting_since, days_of_cover "
            "FROM analytics.inventory_health WHERE sku = ? AND location_id IN (?, ?) ORDER BY location_id",
            [sku, short, drifting]).fetchall()
    at = [r[2] for r in got]
    minute = lambda m: f"2026-12-01 10:{m:02d}:00+00:00"  # noqa: E731
    assert [(r[0], r[1], str(r[2]) if r[2] else None, *r[3:5], str(r[5]) if r[5] else None, *r[6:9]) for r in got] == [
        (short, True, minute(3), 2, 2, minute(4), 1, 0, 0),
        (drifting, False, None, 0, 0, None, 0, 3, -3),
    ], at
    assert str(got[1][9]) == minute(1) and got[0][9] is None
    assert got[0][10] == 0 and got[1][10] == round(3 / (units / 7.0), 1)  # days of cover: shown ÷ daily sales


def test_sync_health_per_hour_counts_what_moved_failed_and_lagged(built, tmp_path):
    path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built.path, path)
    with duckdb.connect(str(path)) as conn:
        # flow "probe-test": a synced record 2 s and one 10 s after their change, a failure then its success
        # in the next hour, a dead letter, and a skipped re-read (not counted).
        for source, status, at, lag in (("a", "synced", "10:05", 2), ("b", "synced", "10:20", 10),
                                        ("c", "failed", "10:40", None), ("c", "synced", "11:01", 61),
                                        ("d", "dead_lettered", "11:30", None), ("a", "skipped", "11:45", 2)):
            conn.execute(
                "INSERT INTO raw.sync_events (flow, source_id, status, event_at, source_updated_at, _loaded_at, _run_id) "
                "VALUES ('probe-test', ?, ?, ?::TIMESTAMPTZ, ?::TIMESTAMPTZ - to_seconds(?::BIGINT), now(), 'hourly-test')",
                [source, status, f"2026-12-01 {at}:00+00", f"2026-12-01 {at}:00+00", lag or 0])
        got = conn.execute(
            "SELECT hour(hour_utc), records_synced, distinct_records_synced, failed_attempts, dead_lettered, "
            "lag_p50_seconds, lag_p95_seconds, lag_max_seconds FROM analytics.sync_health_hourly "
            "WHERE entity = 'probe-test' ORDER BY hour_utc").fetchall()
    assert got == [(10, 2, 2, 1, 0, 6.0, 9.6, 10.0), (11, 1, 1, 0, 1, 61.0, 61.0, 61.0)]


def test_staging_flow_runs_keeps_each_runs_latest_totals(built, tmp_path):
    path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built.path, path)
    with duckdb.connect(str(path)) as conn:
        # run r1: two steps (the second step's row holds the run's totals and its failure); run r2: one step.
        for run, ended, outcome, synced, points in (("r1", "10:00:05", "success", 2, 10.0),
                                                     ("r1", "10:00:09", "failure", 3, 14.5),
                                                     ("r2", "10:01:02", "success", 1, 2.0)):
            conn.execute(
                "INSERT INTO raw.flow_runs (run_id, flow, lane, \"trigger\", started_at, ended_at, outcome, "
                "records_synced, shopify_cost_points, netsuite_calls, _loaded_at, _run_id) VALUES "
                "(?, 'probe-test', 'batch', 'schedule', '2026-12-01 10:00:00+00', ?::TIMESTAMPTZ, ?, ?, ?, 4, now(), ?)",
                [run, f"2026-12-01 {ended}+00", outcome, synced, points, run])
        got = conn.execute(
            "SELECT run_id, outcome, duration_seconds, records_synced, shopify_cost_points, netsuite_calls "
            "FROM staging.flow_runs WHERE flow = 'probe-test' ORDER BY run_id").fetchall()
    assert got == [("r1", "failure", 9.0, 3, 14.5, 4), ("r2", "success", 62.0, 1, 2.0, 4)]


def test_a_runs_spend_and_its_entitys_events_are_on_one_hourly_row_under_the_policy_entity(built, tmp_path):
    path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built.path, path)
    with duckdb.connect(str(path)) as conn:
        # 09:00 hour: an orders run (12 calls, 30 points, 7 NetSuite calls) that synced two orders and dead-
        # lettered a refund (ledger flow "refunds"), and a CRM run whose customer was dead-lettered (flow
        # "crm"); the failure sensor's row for a killed orders run in the same hour (counters unknown).
        for run, flow, ended, outcome, calls, points, ns in (
                ("one-orders", "orders", "09:20", "success", 12, 30.0, 7),
                ("one-crm", "crm", "09:40", "success", 3, 9.0, 2),
                ("one-killed", "orders", "09:50", "failure", None, None, None)):
            conn.execute(
                "INSERT INTO raw.flow_runs (run_id, flow, lane, \"trigger\", started_at, ended_at, outcome, "
                "shopify_calls, shopify_cost_points, netsuite_calls, _loaded_at, _run_id) VALUES "
                "(?, ?, 'batch', 'sensor', '2026-11-30 09:00:00+00', ?::TIMESTAMPTZ, ?, ?, ?, ?, now(), ?)",
                [run, flow, f"2026-11-30 {ended}:00+00", outcome, calls, points, ns, run])
        for flow, source, status, at in (("orders", "gid://o/1", "synced", "09:19"), ("orders", "gid://o/2", "synced", "09:19"),
                                         ("refunds", "gid://r/1", "dead_lettered", "09:19"),
                                         ("crm", "gid://c/1", "dead_lettered", "09:39")):
            conn.execute(
                "INSERT INTO raw.sync_events (flow, source_id, status, event_at, source_updated_at, _loaded_at, _run_id) "
                "VALUES (?, ?, ?, ?::TIMESTAMPTZ, ?::TIMESTAMPTZ - INTERVAL 4 SECOND, now(), 'one-name')",
                [flow, source, status, f"2026-11-30 {at}:00+00", f"2026-11-30 {at}:00+00"])
        got = conn.execute(
            "SELECT entity, records_synced, dead_lettered, lag_p50_seconds, runs, failed_runs, shopify_calls, "
            "shopify_cost_points, netsuite_calls FROM analytics.sync_health_hourly "
            "WHERE hour_utc = '2026-11-30 09:00:00+00' ORDER BY entity").fetchall()
        assert conn.execute("SELECT entity FROM staging.sync_events WHERE flow = 'refunds'").fetchall() == [("orders",)]
    assert got == [("crm", 0, 1, None, 1, 0, 3, 9.0, 2), ("orders", 2, 1, 4.0, 2, 1, 12, 30.0, 7)]


def test_staging_flow_runs_keeps_the_counts_a_hook_saw_when_the_failure_sensor_adds_the_outcome(built, tmp_path):
    path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built.path, path)
    with duckdb.connect(str(path)) as conn:
        # A two-step run: the first step's hook saw 5 calls and 2 records, then the worker was killed; the
        # failure sensor's row (later, counters NULL) carries the failure.
        for ended, outcome, synced, calls in (("10:00:05", "success", 2, 5), ("10:00:30", "failure", 2, None)):
            conn.execute(
                "INSERT INTO raw.flow_runs (run_id, flow, lane, \"trigger\", started_at, ended_at, outcome, "
                "records_synced, shopify_calls, _loaded_at, _run_id) VALUES "
                "('killed', 'probe-kill', 'batch', 'schedule', '2026-12-01 10:00:00+00', ?::TIMESTAMPTZ, ?, ?, ?, now(), 'killed')",
                [f"2026-12-01 {ended}+00", outcome, synced, calls])
        got = conn.execute("SELECT run_id, outcome, duration_seconds, records_synced, shopify_calls FROM staging.flow_runs "
                           "WHERE flow = 'probe-kill'").fetchall()
    assert got == [("killed", "failure", 30.0, 2, 5)]


# (run, entity, lane, start, end, outcome, synced, shopify calls, throttled, points, netsuite calls)
PLANTED_RUNS = (
    ("r1", "probe-cost", "realtime", "10:00", "10:30", "success", 2, 10, 1, 20.0, 4),
    ("r2", "probe-cost", "realtime", "11:30", "12:00", "failure", 2, 10, 0, 20.0, 4),
    ("r3", "probe-cost", "batch", "13:00", "14:00", "success", 10, 4, 0, 20.0, 5),
    ("r4", "probe-one", "realtime", "10:00", "10:30", "success", 1, 2, 0, 5.0, 0),
)


def _plant_runs(conn) -> None:
    for run, entity, lane, start, end, outcome, synced, calls, throttled, points, ns in PLANTED_RUNS:
        conn.execute(
            "INSERT INTO raw.flow_runs (run_id, flow, lane, \"trigger\", started_at, ended_at, outcome, records_synced, "
            "shopify_calls, shopify_throttled, shopify_cost_points, netsuite_calls, _loaded_at, _run_id) VALUES "
            "(?, ?, ?, 'sensor', ?::TIMESTAMPTZ, ?::TIMESTAMPTZ, ?, ?, ?, ?, ?, ?, now(), ?)",
            [run, entity, lane, f"2026-12-01 {start}:00+00", f"2026-12-01 {end}:00+00", outcome, synced, calls,
             throttled, points, ns, run])
    # What the runs synced, with their lag (seconds from the source's change): realtime 2, 4, 6; batch 3600.
    for run, source, lag in (("r1", "a", 2), ("r1", "b", 4), ("r2", "c", 6), ("r3", "d", 3600)):
        conn.execute(
            "INSERT INTO raw.sync_events (flow, source_id, status, event_at, source_updated_at, _loaded_at, _run_id) "
            "VALUES ('probe-cost', ?, 'synced', '2026-12-01 10:10:00+00', "
            "'2026-12-01 10:10:00+00'::TIMESTAMPTZ - to_seconds(?::BIGINT), now(), ?)", [source, lag, run])


def _query(path, sql):
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def test_lane_cost_compares_lanes_only_where_both_ran_and_hourly_health_has_the_runs_spend(built, tmp_path):
    path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built.path, path)
    with duckdb.connect(str(path)) as conn:
        _plant_runs(conn)
    got = [r for r in _query(path, _recipes()["lane_cost"]) if r[0].startswith("probe-")]
    # realtime: 4 records over 2 h (48 a day) at 10 points and 2 calls each; batch: 10 over 1 h (240 a day) at 2
    # and 0.5. Moving realtime → batch saves (10 − 2) × 48 points and (2 − 0.5) × 48 calls a day.
    assert got == [
        ("probe-cost", "batch", "both", 1, 240.0, 2.0, 0.5, 3600.0, 3600.0, 0.0, "realtime", -1920.0, -360.0),
        ("probe-cost", "realtime", "both", 2, 48.0, 10.0, 2.0, 4.0, 5.8, 0.05, "batch", 384.0, 72.0),
        ("probe-one", "realtime", "realtime", 1, 48.0, 5.0, 0.0, None, None, 0.0, None, None, None),
    ]
    hourly = _query(path, "SELECT hour(hour_utc), records_synced, runs, failed_runs, shopify_calls, shopify_cost_points, "
                             "shopify_throttled, netsuite_calls FROM analytics.sync_health_hourly "
                             "WHERE entity = 'probe-cost' ORDER BY hour_utc")
    assert hourly == [(10, 4, 1, 0, 10, 20.0, 1, 4), (12, 0, 1, 1, 10, 20.0, 0, 4), (14, 0, 1, 0, 4, 20.0, 0, 5)]
