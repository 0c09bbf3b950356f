"""Operators' view through Dagster's own test APIs: dead-letter asset, replay job, run-failure alerts, freshness."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource

from sync_assets.defs import operations, warehouse_load
from sync_assets.defs.freshness import freshness_for, shortest_cron_gap
from sync_assets.defs.resources import LandingResource, LedgerResource
from sync_assets.domain.policy import parse_policy
from sync_assets.state.ledger import Ledger


@pytest.fixture
def ledger_path(tmp_path):
    return str(tmp_path / "ledger.sqlite")


def _resources(tmp_path, ledger_path):
    return {"ledger": LedgerResource(path=ledger_path), "warehouse": DuckDBResource(database=str(tmp_path / "w.duckdb")),
            "landing": LandingResource(path=str(tmp_path / "landing"))}


LOADER = warehouse_load.definitions(parse_policy("").entity("warehouse_load"))
RAW = next(iter(LOADER.assets))


def test_dead_letters_asset_tables_counts_and_lands_them(tmp_path, ledger_path):
    ledger = Ledger(ledger_path)
    ledger.dead_letter("orders", "gid://shopify/Order/1", "unknown SKU 'X|Y'", {"id": 1}, "lineItems.0.sku")
    ledger.dead_letter("orders", "gid://shopify/Order/1", "unknown SKU 'X|Y'", {"id": 1}, "lineItems.0.sku")
    ledger.dead_letter("inventory", "SKU-9", "no location map for L2", {}, "location")

    result = dg.materialize([operations.dead_letters, operations.alerts, RAW], resources=_resources(tmp_path, ledger_path))

    meta = result.asset_materializations_for_node("operations__dead_letters")[0].metadata
    assert meta["open_total"].value == 2 and meta["open_orders"].value == 1 and meta["open_inventory"].value == 1
    rows = {r.data["source_id"]: r.data for r in meta["dead_letters"].value.records}  # a table, sortable in the UI
    assert rows["gid://shopify/Order/1"]["field_path"] == "lineItems.0.sku"
    assert rows["gid://shopify/Order/1"]["reason"] == "unknown SKU 'X|Y'"
    assert rows["gid://shopify/Order/1"]["occurrences"] == 2
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        rows = conn.execute("SELECT flow, status FROM raw.sync_events ORDER BY flow").fetchall()
    assert rows == [("inventory", "dead_lettered"), ("orders", "dead_lettered")]


def test_dead_letters_land_again_and_again_into_the_same_file(tmp_path, ledger_path):
    """operations_refresh runs every 5 minutes into one warehouse file: the second landing must work too."""
    ledger = Ledger(ledger_path)
    ledger.dead_letter("orders", "gid://shopify/Order/1", "unknown SKU", {"id": 1}, "lineItems.0.sku")
    resources = _resources(tmp_path, ledger_path)
    for tick in range(3):
        if tick == 1:
            ledger.dead_letter("inventory", "SKU-9", "no location map for L2", {}, "location")
        result = dg.materialize([operations.dead_letters, operations.alerts, RAW], resources=resources)
        assert result.success
        assert result.asset_materializations_for_node("warehouse__raw")[0].metadata["files_merged"].value == 1
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        rows = conn.execute("SELECT DISTINCT flow, source_id FROM raw.sync_events ORDER BY flow").fetchall()
    assert rows == [("inventory", "SKU-9"), ("orders", "gid://shopify/Order/1")]


def test_sync_health_has_the_same_numeric_keys_every_time(tmp_path, ledger_path):
    ledger = Ledger(ledger_path)
    empty = operations.sync_health_numbers(ledger)
    assert set(empty.values()) == {0} and "orders_done" in empty and "fulfillments_open_dead_letters" in empty
    ledger.mark_done("orders", "gid://shopify/Order/1", "SO1", "h")
    ledger.dead_letter("inventory", "SKU-9", "bad", {}, None)
    result = dg.materialize([operations.sync_health], resources=_resources(tmp_path, ledger_path))
    meta = result.asset_materializations_for_node("operations__sync_health")[0].metadata
    assert set(meta) == set(empty) and all(isinstance(v, dg.IntMetadataValue) for v in meta.values())
    assert meta["orders_done"].value == 1 and meta["inventory_open_dead_letters"].value == 1
    assert meta["catalog_pending"].value == 0


def test_replay_job_marks_letters_replayed_and_nudges_the_orders_flow(tmp_path, ledger_path):
    ledger = Ledger(ledger_path)
    first = ledger.dead_letter("orders", "gid://shopify/Order/1", "bad", {}, None)
    ledger.dead_letter("orders", "gid://shopify/Order/2", "bad", {}, None)

    result = operations.replay_dead_letters.execute_in_process(
        run_config={"ops": {"replay_dead_letters_op": {"config": {"flow": "orders", "ids": [first]}}}},
        resources={"ledger": LedgerResource(path=ledger_path)},
    )

    assert result.success and result.output_for_node("replay_dead_letters_op") == 1
    assert [d.source_id for d in ledger.dead_letters("orders")] == ["gid://shopify/Order/2"]
    assert ledger.get_entry("orders", "gid://shopify/Order/1").status == "pending"  # claimable again
    assert ledger.inbox_counts("orders/updated") == {"new": 1}  # the sensor's probe sees it

    everything = operations.replay_dead_letters.execute_in_process(
        run_config={"ops": {"replay_dead_letters_op": {"config": {"flow": "orders", "all_open": True}}}},
        resources={"ledger": LedgerResource(path=ledger_path)},
    )
    assert everything.output_for_node("replay_dead_letters_op") == 1 and ledger.dead_letters("orders") == []


def test_replay_refuses_ids_that_are_not_open_letters_of_the_flow(ledger_path):
    ledger = Ledger(ledger_path)
    letter = ledger.dead_letter("inventory", "SKU-1", "bad", {}, None)
    with pytest.raises(ValueError, match="not open dead letters of flow 'orders'"):
        operations.replay(ledger, "orders", [letter], False)
    with pytest.raises(ValueError, match="either 'ids'"):
        operations.replay(ledger, "orders", [], False)


def test_run_failure_sensor_records_an_alert_with_the_failed_step(tmp_path, ledger_path):
    @dg.op
    def explode():
        raise RuntimeError("NetSuite said no")

    @dg.job
    def doomed():
        explode()

    with dg.instance_for_test() as instance:
        result = doomed.execute_in_process(instance=instance, raise_on_error=False)
        failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
        with dg.build_run_status_sensor_context(
            sensor_name="record_run_failures", dagster_event=failure, dagster_instance=instance,
            dagster_run=result.dagster_run, resources={"ledger": LedgerResource(path=ledger_path)},
        ) as context:  # fmt: skip
            operations.record_run_failures(context.for_run_failure())

    alerts = Ledger(ledger_path).alerts("run_failure")
    assert len(alerts) == 1 and alerts[0]["run_id"] == result.run_id
    assert "doomed" in alerts[0]["message"] and "explode" in alerts[0]["message"] and "NetSuite said no" in alerts[0]["message"]
    assert operations.record_run_failures.default_status == dg.DefaultSensorStatus.RUNNING


def test_freshness_follows_the_lane_when_an_entity_moves():
    moved = parse_policy("entities:\n  catalog: {lane: realtime, interval_seconds: 30}\n  orders: {lane: batch, cron: '*/10 * * * *'}\n")
    assert isinstance(freshness_for(moved.entity("catalog")), dg.TimeWindowFreshnessPolicy) if hasattr(
        dg, "TimeWindowFreshnessPolicy") else "fail_window" in repr(freshness_for(moved.entity("catalog")))
    orders = freshness_for(moved.entity("orders"))
    assert "*/10 * * * *" in repr(orders) and shortest_cron_gap("*/10 * * * *").total_seconds() == 600
