"""The sandbox server as a subprocess: control API, counters, orders and the living shop over real HTTP."""

from __future__ import annotations

import time

import pytest
import requests

from sync_assets.sandbox import server
from sync_assets.sandbox.control_client import SandboxControlError
from sync_assets_tests.conftest import SMALL_CATALOG, netsuite_auth, shopify_graphql_url, shopify_headers

ORDERS_QUERY = "{ orders(first: 250) { nodes { id email } } }"


def shopify_orders(sandbox) -> list[dict]:
    answer = requests.post(
        shopify_graphql_url(sandbox.url), json={"query": ORDERS_QUERY}, headers=shopify_headers(), timeout=10
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]["orders"]["nodes"]


def test_health(sandbox):
    health = sandbox.control.health()
    assert health["status"] == "ok"
    assert health["catalog"] == SMALL_CATALOG
    assert health["faults"] == "none" and health["stream"] == {"running": False}


def test_catalog_summary_names_both_systems_ids(sandbox):
    summary = sandbox.control.catalog()
    assert summary["variants"] == 60 and summary["products"] == 20 and summary["customers"] == 10
    assert summary["price_levels"] == ["Base Price", "Wholesale", "MSRP"]
    assert summary["awkward_skus"], "the catalog carries quoted and non-ASCII SKUs"
    locations = summary["locations"]
    assert [loc["key"] for loc in locations] == ["loc-1", "loc-2", "loc-3"]
    assert all(loc["netsuite_id"] and loc["shopify_id"] for loc in locations)
    assert len({loc["netsuite_id"] for loc in locations}) == 3


def test_reset_loads_another_catalog_and_clears_state(sandbox):
    sandbox.control.set_faults("throttle")
    sandbox.control.place_orders(2)
    answer = sandbox.control.reset(seed=5, products=7, variants_per_product=2, customers=4, locations=2)
    assert answer["variants"] == 14
    assert sandbox.control.faults()["profile"] == "none"
    assert sandbox.control.counters()["counters"] == {}
    assert shopify_orders(sandbox) == []
    summary = sandbox.control.catalog()
    assert summary["variants"] == 14 and len(summary["locations"]) == 2
    # the same seed gives the same catalog
    sandbox.control.reset(seed=5, products=7, variants_per_product=2, customers=4, locations=2)
    assert sandbox.control.catalog()["skus_sample"] == summary["skus_sample"]


def test_reset_refuses_bad_sizes(sandbox):
    with pytest.raises(SandboxControlError, match="products"):
        sandbox.control.reset(products=0)
    assert sandbox.control.health()["catalog"] == SMALL_CATALOG  # nothing was torn down


def test_counters_by_endpoint_and_reset(sandbox):
    for _ in range(3):
        requests.get(f"{sandbox.url}/services/rest/record/v1/customer/eid:x{_}", auth=netsuite_auth(), timeout=10)
    shopify_orders(sandbox)
    report = sandbox.control.counters()
    assert report["counters"]["requests.netsuite"] == 3
    assert report["counters"]["requests.shopify"] == 1
    assert report["requests_by_endpoint"]["GET /services/rest/record/v1/customer/{id}"] == 3
    assert report["peak_in_flight"]["netsuite"] >= 1
    assert "netsuite_peak_admitted" in report
    cleared = sandbox.control.reset_counters()
    assert cleared["counters"] == {} and cleared["requests_by_endpoint"] == {}


def test_config_is_applied_and_validated(sandbox):
    applied = sandbox.control.configure(netsuite_concurrency=7, shopify_bucket_size=50, shopify_restore_rate=5)
    assert applied == {"netsuite_concurrency": 7, "shopify_bucket_size": 50, "shopify_restore_rate": 5}
    with pytest.raises(SandboxControlError, match="shopify_throttle_status"):
        sandbox.control.configure(shopify_throttle_status=418)
    with pytest.raises(SandboxControlError, match="suiteql_row_cap"):
        sandbox.control.configure(suiteql_row_cap=0)
    with pytest.raises(SandboxControlError, match="unknown"):
        sandbox.control.configure(colour="red")


def test_config_bucket_size_throttles_shopify(sandbox):
    sandbox.control.configure(shopify_bucket_size=10, shopify_restore_rate=1, shopify_throttle_status=429)
    answers = [
        requests.post(shopify_graphql_url(sandbox.url), json={"query": ORDERS_QUERY}, headers=shopify_headers(), timeout=10)
        for _ in range(3)
    ]
    assert 429 in [a.status_code for a in answers]


def test_place_orders_now(sandbox):
    placed = sandbox.control.place_orders(3, seed=1)
    assert len(placed) == 3
    assert len(shopify_orders(sandbox)) == 3
    assert sandbox.control.counters()["counters"]["control.orders_placed"] == 3
    with pytest.raises(SandboxControlError, match="count"):
        sandbox.control.place_orders(0)


def test_living_shop_places_orders_until_stopped(sandbox):
    status = sandbox.control.stream(orders_per_minute=600, inventory_receipts_per_minute=300, fulfillment_delay_seconds=1)
    assert status["running"] and status["orders_per_minute"] == 600
    time.sleep(1.3)
    stopped = sandbox.control.stop_stream()
    assert stopped == {"running": False}
    counters = sandbox.control.counters()["counters"]
    assert counters.get("stream.orders", 0) >= 5, counters
    assert counters.get("stream.receipts", 0) >= 2, counters
    assert "stream.orders.failed" not in counters and "stream.receipts.failed" not in counters
    count = len(shopify_orders(sandbox))
    assert count == counters["stream.orders"]
    time.sleep(0.4)
    assert len(shopify_orders(sandbox)) == count


def test_cli_reads_environment_fallbacks(monkeypatch):
    monkeypatch.setenv("SANDBOX_PORT", "9999")
    monkeypatch.setenv("SANDBOX_PRODUCTS", "12")
    args = server.parse_args(["--seed", "3"])
    assert args.port == 9999 and args.products == 12 and args.seed == 3
    assert server.parse_args(["--port", "1234"]).port == 1234


def suiteql(sandbox, query: str) -> list[dict]:
    answer = requests.post(
        f"{sandbox.url}/services/rest/query/v1/suiteql",
        json={"q": query},
        headers={"Prefer": "transient"},
        auth=netsuite_auth(),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def test_living_shop_fulfils_synced_sales_orders_after_the_delay(sandbox):
    item_id = suiteql(sandbox, "SELECT id FROM item WHERE matrixtype = 'CHILD' ORDER BY id")[0]["id"]
    customer_id = suiteql(sandbox, "SELECT id FROM customer ORDER BY id")[0]["id"]
    order = {"entity": {"id": customer_id}, "item": {"items": [{"item": {"id": item_id}, "quantity": 2}]}}
    answer = requests.put(
        f"{sandbox.url}/services/rest/record/v1/salesOrder/eid:shop-1001", json=order, auth=netsuite_auth(), timeout=10
    )
    assert answer.status_code == 204, answer.text
    shipments = "SELECT id FROM transaction WHERE type = 'ItemShip'"
    # 1 order a minute: the stream is on, but only its fulfilment pass (every 1 s here) matters
    # NetSuite stamps whole seconds, so an order may look up to 1 s older than it is: delay 2 s, look at 0.7 s.
    sandbox.control.stream(orders_per_minute=1, fulfillment_delay_seconds=2.0)
    try:
        time.sleep(0.7)
        assert suiteql(sandbox, shipments) == []  # a pass ran, but the order is younger than the delay
        deadline = time.monotonic() + 5
        while not suiteql(sandbox, shipments) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(suiteql(sandbox, shipments)) == 1
    finally:
        sandbox.control.stop_stream()
    assert sandbox.control.counters()["counters"]["stream.fulfillments"] >= 2


def test_stream_settings_are_validated_over_http(sandbox):
    with pytest.raises(SandboxControlError, match="orders_per_minute"):
        sandbox.control.stream(orders_per_minute=-5)
    assert sandbox.control.stream_status() == {"running": False}


def test_inventory_receipts_and_fulfilments_on_demand(sandbox):
    sku = sandbox.control.catalog()["skus_sample"][0]
    query = "SELECT SUM(quantityonhand) AS q FROM inventoryitemlocations"
    before = suiteql(sandbox, query)
    assert sandbox.control.receive_inventory(sku, "loc-1", 7)["received"]["quantity"] == 7
    after = suiteql(sandbox, query)
    assert float(after[0]["q"]) == float(before[0]["q"]) + 7
    with pytest.raises(SandboxControlError, match="quantity"):
        sandbox.control.receive_inventory(sku, "loc-1", "7")
    with pytest.raises(SandboxControlError, match="NO-SUCH-SKU"):
        sandbox.control.receive_inventory("NO-SUCH-SKU", "loc-1", 1)
    assert sandbox.control.fulfill_sales_orders(0) == 0  # nothing synced yet, nothing to ship


def test_storefront_available_is_what_the_admin_api_says_and_costs_nothing(sandbox):
    from sync_assets.connectors.shopify import ShopifyClient
    from sync_assets.sandbox import credentials as c

    summary = sandbox.control.catalog()
    sku, location = summary["skus_sample"][0], summary["locations"][0]
    shop = ShopifyClient(sandbox.url, c.SHOPIFY_ACCESS_TOKEN, api_version=c.SHOPIFY_API_VERSION)
    via_api = shop.inventory_by_sku([sku])[sku]["levels"][location["shopify_id"]]["available"]
    sandbox.control.reset_counters()
    assert sandbox.control.storefront_available([(sku, location["key"])]) == [via_api]
    assert sandbox.control.counters()["counters"].get("shopify.cost", 0) == 0
    with pytest.raises(SandboxControlError, match="NO-SUCH-SKU"):
        sandbox.control.storefront_available([("NO-SUCH-SKU", location["key"])])
    with pytest.raises(SandboxControlError, match="string pairs"):
        sandbox.control._call("POST", "shopify/available", {"items": [[sku]]})


def test_cli_refuses_bad_sizes_without_a_traceback(tmp_path, capsys):
    assert server.main(["--port", "0", "--products", "0", "--data-dir", str(tmp_path)]) == 2
    assert "products must be" in capsys.readouterr().err


def test_netsuite_item_edits_move_lastmodifieddate_and_bad_edits_name_the_field(sandbox):
    import datetime as dt

    def item(sku: str) -> dict:
        response = requests.post(f"{sandbox.url}/services/rest/query/v1/suiteql", auth=netsuite_auth(),
                                 headers={"Prefer": "transient"}, timeout=10,
                                 json={"q": "SELECT i.id, i.description, i.isinactive, i.lastmodifieddate, p.unitprice "
                                            f"FROM item i JOIN pricing p ON p.item = i.id WHERE i.itemid = '{sku}' "
                                            "AND p.pricelevel = 1 AND p.currency = 1"})
        response.raise_for_status()
        [row] = response.json()["items"]
        return row

    sku = next(s for s in sandbox.control.catalog()["skus_sample"] if s.isalnum() or s.replace("-", "").isalnum())
    before = item(sku)
    changed = sandbox.control.set_item_price(sku, "19.90")
    assert changed["unitprice"] == "19.90" and item(sku)["unitprice"] == "19.9"  # SuiteQL renders numbers plainly
    again = sandbox.control.update_item(sku, description="New words", isinactive=True)
    after = item(sku)
    assert after["description"] == "New words" and after["isinactive"] == "T"
    # every edit is a new version, strictly later than the one before
    assert dt.datetime.fromisoformat(again["lastmodifieddate"]) > dt.datetime.fromisoformat(changed["lastmodifieddate"])
    assert before["unitprice"] != "19.9"

    for call, message in [
        (lambda: sandbox.control.set_item_price("NO-SUCH-SKU", "1.00"), "item 'NO-SUCH-SKU' does not exist"),
        (lambda: sandbox.control.set_item_price(sku, "abc"), "unit_price must be a decimal amount"),
        (lambda: sandbox.control.set_item_price(sku, "1.00", currency="XYZ"), "currency 'XYZ' does not exist (known: USD, CAD, GBP)"),
        (lambda: sandbox.control.set_item_price(sku, "1.00", price_level="Gold"), "price level 'Gold' does not exist"),
        (lambda: sandbox.control.update_item(sku, colour="red"), "unknown field(s) ['colour']"),
        (lambda: sandbox.control.update_item(sku, isinactive="yes"), "isinactive must be true or false"),
    ]:
        with pytest.raises(SandboxControlError, match="HTTP 400") as error:
            call()
        assert message in str(error.value)

    assert len(sandbox.control.delete_item(sku)) == 1
    with pytest.raises(SandboxControlError, match="does not exist"):
        sandbox.control.delete_item(sku)


def test_a_sales_order_deleted_in_netsuite_is_gone_from_suiteql_and_traced_in_deletedrecord(sandbox):
    from sync_assets_tests.flows.orders_support import netsuite_client

    netsuite = netsuite_client(sandbox)
    netsuite.upsert_record("salesOrder", "deleted-by-hand-1", {
        "entity": {"id": 1}, "item": {"items": [{"item": {"id": _any_item(netsuite)}, "quantity": 1, "rate": 5}]}})
    rid = sandbox.control.delete_sales_order("deleted-by-hand-1")
    assert list(netsuite.suiteql("SELECT id FROM transaction WHERE externalid = 'deleted-by-hand-1'")) == []
    traced = list(netsuite.suiteql(f"SELECT recordtypeid FROM deletedrecord WHERE recordid = {int(rid)}"))
    assert traced == [{"recordtypeid": "salesorder"}]
    for external_id, message in [("deleted-by-hand-1", "no sales order has externalId 'deleted-by-hand-1'"),
                                 ("", "external_id must be a non-empty string")]:  # fmt: skip
        with pytest.raises(SandboxControlError, match="HTTP 400") as error:
            sandbox.control.delete_sales_order(external_id)
        assert message in str(error.value)


def _any_item(netsuite) -> int:
    return int(next(iter(netsuite.suiteql("SELECT id FROM item WHERE itemtype = 'InvtPart' AND isinactive = 'F' AND (matrixtype IS NULL OR matrixtype <> 'PARENT') ORDER BY id")))["id"])
