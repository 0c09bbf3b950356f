"""The inventory flow against the real sandbox over HTTP: receipts reach the storefront with the safety
stock applied, unsynced storefront orders hold stock back, only changed items are written, stale
compare-and-set values are re-read, unknown SKUs are dead-lettered."""

from __future__ import annotations

from datetime import timedelta
from types import MappingProxyType

import duckdb
import pytest

from sync_assets.connectors.netsuite import NetSuiteClient, TokenBasedAuth
from sync_assets.connectors.shopify import ShopifyClient
from sync_assets.domain.inventory import SafetyStock
from sync_assets.domain.policy import EntityPolicy
from sync_assets.domain.windows import Watermark, parse_ts
from sync_assets.flows import inventory as flow
from sync_assets.flows.orders import FLOW as ORDERS
from sync_assets.sandbox import credentials as c
from sync_assets.state.ledger import Ledger
from sync_assets.warehouse.landing_area import LandingArea
from sync_assets.warehouse.merge import merge_pending


def clients(url: str):
    shopify = ShopifyClient(url, c.SHOPIFY_ACCESS_TOKEN, api_version=c.SHOPIFY_API_VERSION)
    auth = TokenBasedAuth(c.NETSUITE_ACCOUNT_ID, c.NETSUITE_CONSUMER_KEY, c.NETSUITE_CONSUMER_SECRET,
                          c.NETSUITE_TOKEN_ID, c.NETSUITE_TOKEN_SECRET)
    return shopify, NetSuiteClient(url, c.NETSUITE_ACCOUNT_ID, auth)


def policy(safety: int = 0, per_sku: dict | None = None) -> EntityPolicy:
    return EntityPolicy("inventory", "realtime", interval_seconds=1, overlap_seconds=60,
                        safety_stock=SafetyStock(safety, MappingProxyType(per_sku or {})))


@pytest.fixture
def env(sandbox, tmp_path):
    shopify, netsuite = clients(sandbox.url)
    ledger = Ledger(tmp_path / "ledger.sqlite")
    yield sandbox, shopify, netsuite, ledger
    ledger.close()


def available(shopify, sku: str) -> dict[str, int]:
    item = shopify.inventory_by_sku([sku])[sku]
    return {loc: q["available"] for loc, q in item["levels"].items()}


def location(sandbox, key: str = "loc-1") -> dict:
    return next(loc for loc in sandbox.control.catalog()["locations"] if loc["key"] == key)


def test_default_location_map_pairs_locations_by_name(env):
    sandbox, shopify, netsuite, _ = env
    mapping = flow.resolve_location_map(shopify, netsuite, {})
    expected = {loc["shopify_id"]: loc["netsuite_id"] for loc in sandbox.control.catalog()["locations"]}
    assert mapping == expected


def test_receipt_reaches_storefront_with_safety_stock_and_only_changes_are_written(env, tmp_path):
    sandbox, shopify, netsuite, ledger = env
    warehouse = tmp_path / "wh.duckdb"
    landing = LandingArea(tmp_path / "landing", ledger)
    small(sandbox)
    first = flow.run_inventory_flow(shopify, netsuite, ledger, policy(safety=2), landing=landing)
    assert first.snapshots and not first.failed
    assert all(row["computed"] >= 0 for row in first.snapshots)

    sku = sandbox.control.catalog()["skus_sample"][0]
    loc = location(sandbox)
    before = available(shopify, sku)[loc["shopify_id"]]
    sandbox.control.receive_inventory(sku, "loc-1", 7)
    sandbox.control.reset_counters()
    second = flow.run_inventory_flow(shopify, netsuite, ledger, policy(safety=2), landing=landing)
    assert {row["sku"] for row in second.snapshots} == {sku}  # only the changed item was computed
    assert second.written == 1 and second.unchanged == len(second.snapshots) - 1
    assert available(shopify, sku)[loc["shopify_id"]] == max(0, before + 7) if before else True
    ns_row = next(r for r in second.snapshots if r["location"] == loc["shopify_id"])
    assert ns_row["computed"] == max(0, ns_row["netsuite_available"] - 2)
    assert available(shopify, sku)[loc["shopify_id"]] == ns_row["computed"]
    writes = sandbox.control.counters()["counters"]
    assert sum(v for k, v in writes.items() if "inventorySetQuantities" in k) <= 2, writes

    third = flow.run_inventory_flow(shopify, netsuite, ledger, policy(safety=2))
    assert third.snapshots == []  # nothing new: the ledger holds the applied version
    assert merge_pending(str(warehouse), ledger).files >= 4
    with duckdb.connect(str(warehouse)) as conn:
        rows = conn.execute("SELECT count(*), count(*) FILTER (WHERE written) FROM raw.inventory_snapshots").fetchone()
        balance = conn.execute(
            "SELECT json_extract_string(payload, '$.quantityavailable')::DOUBLE FROM raw.netsuite_inventory i "
            "WHERE i.location_id = ? ORDER BY _landed_at DESC LIMIT 1", [loc["netsuite_id"]]).fetchall()
        balances = conn.execute("SELECT count(DISTINCT (item_id, location_id)) FROM raw.netsuite_inventory").fetchone()[0]
    assert rows[0] == len(first.snapshots) + len(second.snapshots) and rows[1] == first.written + 1
    assert balances > 0 and balance  # the NetSuite balances the flow read are in the warehouse too


def small(sandbox):
    sandbox.control.reset(seed=9, products=3, variants_per_product=2, customers=2, locations=2)


def test_unsynced_storefront_order_holds_stock_back(env):
    sandbox, shopify, netsuite, ledger = env
    small(sandbox)
    flow.run_inventory_flow(shopify, netsuite, ledger, policy(safety=1))
    [order] = sandbox.control.place_orders(1, seed=11)
    pending = flow.find_pending(shopify, netsuite, ledger, policy(safety=1))
    assert pending.orders == (order["id"],) and not pending.items
    result = flow.run_inventory_flow(shopify, netsuite, ledger, policy(safety=1))
    held = [r for r in result.snapshots if r["unsynced_qty"]]
    assert held, result.snapshots
    for row in held:
        assert row["computed"] == max(0, row["netsuite_available"] - row["unsynced_qty"] - 1)
        assert available(shopify, row["sku"])[row["location"]] == row["computed"]
    assert flow.find_pending(shopify, netsuite, ledger, policy(safety=1)).empty


class RacingCheckout:
    """A Shopify client whose first inventory write is preceded by a checkout moving the same level."""

    def __init__(self, client):
        self._client, self.raced = client, False

    def __getattr__(self, name):
        return getattr(self._client, name)

    def set_inventory_quantities(self, quantities, **kwargs):
        compared = [q for q in quantities if q["changeFromQuantity"] is not None]
        if compared and not self.raced:
            self.raced = True
            q = compared[0]
            self._client.set_inventory_quantities([{**q, "quantity": q["changeFromQuantity"] + 1, "changeFromQuantity": None}])
        return self._client.set_inventory_quantities(quantities, **kwargs)


def test_stale_change_from_is_reread_and_recomputed(env):
    sandbox, shopify, netsuite, ledger = env
    small(sandbox)
    flow.run_inventory_flow(shopify, netsuite, ledger, policy())
    sandbox.control.receive_inventory(sandbox.control.catalog()["skus_sample"][0], "loc-1", 3)
    racing = RacingCheckout(shopify)
    result = flow.run_inventory_flow(racing, netsuite, ledger, policy())
    assert racing.raced and result.stale_retries == 1 and not result.failed
    for row in result.snapshots:  # the race did not win: NetSuite's number is what the storefront shows
        assert available(shopify, row["sku"])[row["location"]] == row["computed"]


def test_idempotency_key_is_deterministic_and_changes_with_the_write():
    from sync_assets.domain.inventory import InventoryChange

    a = [InventoryChange("S", "gid://shopify/Location/1", 5, 3)]
    assert flow.idempotency_key(a, "v1:0") == flow.idempotency_key(list(a), "v1:0")
    assert flow.idempotency_key(a, "v1:0") != flow.idempotency_key(a, "v1:1")
    assert flow.idempotency_key(a, "v1:0") != flow.idempotency_key([InventoryChange("S", a[0].location_id, 5, 4)], "v1:0")


def test_the_probe_reads_only_orders_past_the_orders_watermark(env, tmp_path):
    """Orders the orders flow synced cost the inventory probe nothing; a new one costs its key, and a
    dead-lettered one (behind the watermark, not in NetSuite) still holds its stock back."""
    sandbox, shopify, netsuite, ledger = env
    placed = sandbox.control.place_orders(12, seed=8)
    for order in placed[:-1]:  # the orders flow synced these; its watermark is past all of them
        ledger.mark_done(ORDERS, order["id"], "so-" + order["id"].rsplit("/", 1)[1], "h")
    ledger.dead_letter(ORDERS, placed[-1]["id"], "test: refused", {"createdAt": placed[-1]["createdAt"]}, None)
    latest = max(parse_ts(shopify.get_orders([o["id"]])[0]["updatedAt"]) for o in placed)
    ledger.advance_watermark(ORDERS, Watermark(latest + timedelta(seconds=2)))
    sandbox.control.reset_counters()
    pending = flow.find_pending(shopify, netsuite, ledger, policy())
    assert pending.unsynced_orders == (placed[-1]["id"],)
    assert sandbox.control.counters()["counters"].get("shopify.cost.OrderKeysPage", 0) <= 2  # no key read
