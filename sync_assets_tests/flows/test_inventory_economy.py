"""The inventory flow spends Shopify points on what changed on the storefront's side, measured with the
sandbox's own cost counters: a NetSuite change that leaves available-to-sell where the storefront already
shows it (a storefront order reaching NetSuite as a sales order) costs no storefront read and no write."""

from __future__ import annotations

import time
from dataclasses import replace

from sync_assets.flows import inventory as flow
from sync_assets.flows.orders import SYNCED, run_orders_flow
from sync_assets_tests.flows.orders_support import CONFIG
from sync_assets_tests.flows.orders_support import policy as orders_policy
from sync_assets_tests.flows.test_inventory_flow import available, clients, policy, small
from sync_assets_tests.flows.webhook_support import receiving
from sync_assets.state.ledger import Ledger

LEVELS = "InventoryItemsPage"


def _spent(sandbox) -> dict[str, int]:
    counters = sandbox.control.counters()["counters"]
    return {k.removeprefix("shopify.cost."): v for k, v in counters.items() if k.startswith("shopify.cost.")}


def _order_reaches_netsuite(sandbox, tmp_path):
    """Inventory in sync, then a storefront order the inventory flow has accounted for (held back)."""
    shopify, netsuite = clients(sandbox.url)
    ledger = Ledger(tmp_path / "ledger.sqlite")
    small(sandbox)
    flow.run_inventory_flow(shopify, netsuite, ledger, policy())
    [order] = sandbox.control.place_orders(1, seed=11)
    held = flow.run_inventory_flow(shopify, netsuite, ledger, policy())
    assert any(r["unsynced_qty"] and r["written"] for r in held.snapshots)  # the order's stock held back
    shown = {row["sku"]: available(shopify, row["sku"]) for row in held.snapshots}
    synced = run_orders_flow(shopify, netsuite, ledger, orders_policy(), config=CONFIG)
    assert synced.outcomes[order["id"]].status == SYNCED
    return shopify, netsuite, ledger, shown


def test_a_netsuite_change_that_leaves_the_target_costs_no_storefront_read(sandbox, tmp_path):
    shopify, netsuite, ledger, shown = _order_reaches_netsuite(sandbox, tmp_path)
    pending = flow.find_pending(shopify, netsuite, ledger, policy())
    assert {i.sku for i in pending.items} >= set(shown)  # NetSuite committed the order's quantities
    sandbox.control.reset_counters()
    result = flow.run_inventory_flow(shopify, netsuite, ledger, policy())
    spent = _spent(sandbox)
    assert LEVELS not in spent and "InventorySetQuantities" not in spent, spent
    assert sum(spent.values()) <= 30, spent  # the probe's keys page and the location list, nothing per SKU
    assert result.written == 0 and result.unchanged == len(result.snapshots) > 0
    assert all(row["previous_storefront"] is None for row in result.snapshots)  # not read
    assert {sku: available(shopify, sku) for sku in shown} == shown
    assert flow.find_pending(shopify, netsuite, ledger, policy()).empty  # applied: not looked at again
    ledger.close()


def test_a_target_that_moved_is_written_from_the_levels_the_flow_last_wrote_without_a_read(sandbox, tmp_path):
    shopify, netsuite, ledger, shown = _order_reaches_netsuite(sandbox, tmp_path)
    sku = sorted(shown)[0]
    loc = next(loc for loc in sandbox.control.catalog()["locations"] if loc["key"] == "loc-1")
    sandbox.control.receive_inventory(sku, "loc-1", 5)
    sandbox.control.reset_counters()
    result = flow.run_inventory_flow(shopify, netsuite, ledger, policy())
    assert LEVELS not in _spent(sandbox) and result.written >= 1  # its own compare-and-set said what is there
    row = next(r for r in result.snapshots if r["sku"] == sku and r["location"] == loc["shopify_id"])
    assert row["written"] and available(shopify, sku)[loc["shopify_id"]] == row["computed"]
    ledger.close()


def test_a_storefront_change_shopify_delivered_costs_no_read(sandbox, tmp_path):
    """The storefront's ``inventory_levels/update`` deliveries, through the product's receiver, say what a
    level shows now: the next write starts from it, and the compare-and-set agrees."""
    from sync_assets.flows.storefront_levels import TOPIC

    shopify, netsuite, ledger, shown = _order_reaches_netsuite(sandbox, tmp_path)
    sku = sorted(shown)[0]
    loc = next(loc for loc in sandbox.control.catalog()["locations"] if loc["key"] == "loc-1")
    with receiving(sandbox, ledger, [TOPIC]):
        time.sleep(1.1)  # a second after the flow's own write: an edit within its second would be ambiguous
        _hand_edit(shopify, sku, loc["shopify_id"], +7)
        _wait_for_inbox(ledger, TOPIC, 1)
        sandbox.control.receive_inventory(sku, "loc-1", 5)
        sandbox.control.reset_counters()
        result = flow.run_inventory_flow(shopify, netsuite, ledger, policy())
    spent = _spent(sandbox)
    assert LEVELS not in spent and result.stale_retries == 0, spent
    assert result.levels_known >= 1 and result.numbers()["storefront_levels_known"] == result.levels_known
    row = next(r for r in result.snapshots if r["sku"] == sku and r["location"] == loc["shopify_id"])
    assert row["written"] and available(shopify, sku)[loc["shopify_id"]] == row["computed"]
    assert ledger.inbox_counts(TOPIC).get("acked", 0) >= 1  # the hand edit's delivery, taken (our write's comes after)
    ledger.close()


def _hand_edit(shopify, sku: str, location: str, delta: int) -> int:
    item = shopify.inventory_by_sku([sku])[sku]
    edited = item["levels"][location]["available"] + delta
    shopify.set_inventory_quantities([{"inventoryItemId": item["id"], "locationId": location, "quantity": edited,
                                       "changeFromQuantity": None}])
    return edited


def test_a_hand_edit_whose_delivery_was_lost_is_refused_by_the_compare_and_set_then_read(sandbox, tmp_path):
    shopify, netsuite, ledger, shown = _order_reaches_netsuite(sandbox, tmp_path)
    sku = sorted(shown)[0]
    loc = next(loc for loc in sandbox.control.catalog()["locations"] if loc["key"] == "loc-1")
    edited = _hand_edit(shopify, sku, loc["shopify_id"], +7)  # and no receiver: nobody hears it
    sandbox.control.receive_inventory(sku, "loc-1", 5)
    result = flow.run_inventory_flow(shopify, netsuite, ledger, policy())
    assert result.stale_retries >= 1  # the write from the believed level was refused, and the SKU read
    row = next(r for r in result.snapshots if r["sku"] == sku and r["location"] == loc["shopify_id"])
    assert available(shopify, sku)[loc["shopify_id"]] == row["computed"] != edited
    ledger.close()


def _wait_for_inbox(ledger, topic: str, count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while ledger.inbox_counts(topic).get("new", 0) < count:
        assert time.monotonic() < deadline, f"fewer than {count} {topic} deliveries arrived"
        time.sleep(0.05)
    time.sleep(0.3)  # and any straggler of the same change


def test_an_old_confirmation_is_not_trusted(sandbox, tmp_path):
    """Past ``trust_applied_seconds`` the storefront is read again: hand edits there cannot drift for long."""
    shopify, netsuite, ledger, shown = _order_reaches_netsuite(sandbox, tmp_path)
    sandbox.control.reset_counters()
    result = flow.run_inventory_flow(shopify, netsuite, ledger, policy(),
                                     config=replace(flow.InventoryFlowConfig(), trust_applied_seconds=0.0))
    assert LEVELS in _spent(sandbox)
    assert result.written == 0 and all(r["previous_storefront"] is not None for r in result.snapshots)
    ledger.close()


def test_the_location_map_is_resolved_once_per_period_and_again_when_the_policy_changes(sandbox, tmp_path):
    shopify, netsuite = clients(sandbox.url)
    ledger = Ledger(tmp_path / "ledger.sqlite")
    small(sandbox)
    first = flow.run_inventory_flow(shopify, netsuite, ledger, policy())
    assert first.storefront_locations  # read (and landed for the warehouse) on the first run
    [_] = sandbox.control.place_orders(1, seed=11)
    sandbox.control.reset_counters()
    again = flow.run_inventory_flow(shopify, netsuite, ledger, policy())
    assert again.written + again.unchanged > 0 and "LocationsPage" not in _spent(sandbox)  # the map from the ledger
    assert not again.storefront_locations

    loc = next(loc for loc in sandbox.control.catalog()["locations"] if loc["key"] == "loc-1")
    remapped = replace(policy(), location_map={loc["name"]: "1"})  # the policy names its own pairs now
    sandbox.control.place_orders(1, seed=12)
    sandbox.control.reset_counters()
    flow.run_inventory_flow(shopify, netsuite, ledger, remapped)
    assert "LocationsPage" in _spent(sandbox)
    expired = replace(flow.InventoryFlowConfig(), location_map_seconds=0)
    sandbox.control.place_orders(1, seed=13)
    sandbox.control.reset_counters()
    flow.run_inventory_flow(shopify, netsuite, ledger, remapped, config=expired)
    assert "LocationsPage" in _spent(sandbox)
    ledger.close()


def test_orders_done_by_webhook_runs_are_not_paged_again_by_the_inventory_probe(sandbox, tmp_path):
    """Webhook runs leave the orders watermark behind, and while an orders run is in flight the orders
    sensor skips its probe: the inventory's own read moves the shared cursor, and an order not yet in
    NetSuite holds it until it is done."""
    from datetime import datetime, timezone

    from sync_assets.flows.orders import WEBHOOK_TRIGGER
    from sync_assets.flows.orders_probe import FULL_SCAN_FLOW, PROBE_FLOW, probe_orders
    from sync_assets_tests.flows.orders_support import netsuite_client, place_orders, shopify_client

    shopify, netsuite, ledger = shopify_client(sandbox), netsuite_client(sandbox), Ledger(tmp_path / "ledger.sqlite")
    run_orders_flow(shopify, netsuite, ledger, orders_policy(), config=CONFIG)  # the watermark, before the orders
    config = replace(flow.InventoryFlowConfig(), orders_search_lag_seconds=0)

    def webhook_run(gids):
        for order in shopify.get_orders(gids):
            ledger.inbox_put(f"evt-{order['id']}", "orders/create",
                             {"admin_graphql_api_id": order["id"], "updated_at": order["updatedAt"]})
        hooked = run_orders_flow(shopify, netsuite, ledger, orders_policy(), config=CONFIG, trigger=WEBHOOK_TRIGGER)
        assert hooked.count(SYNCED) == len(gids) and hooked.window is None

    def unsynced():
        sandbox.control.reset_counters()
        return flow._unsynced_order_ids(shopify, ledger, datetime.now(timezone.utc), config)

    # Reads start a second before the cursor (its own second again, whole-second stamps): waiting two
    # seconds after the orders' second puts them behind the re-read second.
    time.sleep(1.1)
    webhook_run(place_orders(sandbox, 4))
    time.sleep(2.1)
    assert unsynced() == []
    assert _spent(sandbox)["OrderKeysPage"] >= 2 + 4  # from the orders watermark: the four done orders' keys
    assert unsynced() == [] and _spent(sandbox)["OrderKeysPage"] <= 2  # the read moved the cursor past them

    time.sleep(1.1)
    (open_gid,) = place_orders(sandbox, 1)  # in flight: its webhook run has not happened yet
    time.sleep(1.1)
    assert unsynced() == [open_gid]
    pinned = ledger.get_watermark(PROBE_FLOW).updated_at
    time.sleep(1.1)
    later = place_orders(sandbox, 2)
    time.sleep(1.1)
    assert sorted(unsynced()) == sorted([open_gid, *later])
    assert ledger.get_watermark(PROBE_FLOW).updated_at == pinned  # the open order holds the cursor
    webhook_run([open_gid, *later])
    time.sleep(2.1)
    assert unsynced() == []
    assert unsynced() == [] and _spent(sandbox)["OrderKeysPage"] <= 2
    assert ledger.get_watermark(PROBE_FLOW).updated_at > pinned
    # The orders probe (between full scans) reads from the cursor the inventory moved: nothing to page.
    ledger.advance_watermark(FULL_SCAN_FLOW, ledger.get_watermark(PROBE_FLOW))
    sandbox.control.reset_counters()
    assert probe_orders(shopify, ledger, orders_policy(), config=CONFIG) is None
    assert _spent(sandbox)["OrderKeysPage"] <= 2
    ledger.close()
