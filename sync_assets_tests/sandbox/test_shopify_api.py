"""The emulated Shopify Admin GraphQL API, through Flask's test client."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from .shopify_helpers import Shop

ORDERS = """query($first: Int, $after: String, $q: String, $sort: OrderSortKeys, $rev: Boolean) {
  orders(first: $first, after: $after, query: $q, sortKey: $sort, reverse: $rev) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id legacyResourceId name updatedAt createdAt } }
    nodes { id lineItems(first: 1) { pageInfo { hasNextPage endCursor } nodes { id sku quantity } } }
  } }"""


@pytest.fixture
def shop():
    return Shop()


def test_auth_and_version_errors(shop):
    r = shop.post("{ orders(first: 1) { nodes { id } } }", token="wrong")
    assert r.status_code == 401
    assert r.get_json() == {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
    assert shop.counters.snapshot()["shopify.auth_failures"] == 1
    r = shop.post("{ orders(first: 1) { nodes { id } } }", url="/admin/api/2026-13/graphql.json")
    assert (r.status_code, r.get_json()) == (404, {"errors": "Not Found"})
    r = shop.post("{ orders(first: 1) { nodes { id } } }")
    assert r.headers["X-Shopify-API-Version"] == "2026-10" and r.headers["X-Request-Id"]
    cost = r.get_json()["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 3 and cost["actualQueryCost"] == 2
    assert cost["throttleStatus"]["maximumAvailable"] == 2000.0 and isinstance(cost["throttleStatus"]["currentlyAvailable"], int)


def test_unknown_field_uses_shopify_wording(shop):
    body = shop.post("{ orders(first: 1) { nodes { defaultEmail } } }").get_json()
    assert body["errors"][0]["message"] == "Field 'defaultEmail' doesn't exist on type 'Order'"
    assert body["errors"][0]["extensions"]["code"] == "undefinedField"


def test_order_create_mutation_money_and_inventory(shop):
    m = """mutation($order: OrderCreateOrderInput!) { orderCreate(order: $order, options: {inventoryBehaviour: DECREMENT_OBEYING_POLICY}) {
      order { id legacyResourceId name displayFinancialStatus currencyCode createdAt
        totalPriceSet { shopMoney { amount currencyCode } presentmentMoney { amount } }
        subtotalPriceSet { shopMoney { amount } } totalTaxSet { shopMoney { amount } }
        customer { id email } transactions { kind status amountSet { shopMoney { amount } } }
        lineItems(first: 5) { nodes { sku quantity name originalUnitPriceSet { shopMoney { amount } } variant { id sku } } } }
      userErrors { field message code } } }"""
    order = {"email": "ann@example.com", "lineItems": [{"variantId": shop.variant_id("TEE-S"), "quantity": 2,
             "taxLines": [{"title": "VAT", "rate": "0.1", "priceSet": {"shopMoney": {"amount": "4.00", "currencyCode": "USD"}}}]}],
             "transactions": [{"kind": "SALE", "status": "SUCCESS", "amountSet": {"shopMoney": {"amount": "43.98", "currencyCode": "USD"}}}]}
    body = shop.gql(m, {"order": order})
    p = body["data"]["orderCreate"]
    assert p["userErrors"] == []
    o = p["order"]
    assert o["id"] == f"gid://shopify/Order/{o['legacyResourceId']}" and o["name"] == "#1001"
    assert o["totalPriceSet"]["shopMoney"] == {"amount": "43.98", "currencyCode": "USD"}
    assert o["subtotalPriceSet"]["shopMoney"]["amount"] == "39.98" and o["totalTaxSet"]["shopMoney"]["amount"] == "4.00"
    assert o["displayFinancialStatus"] == "PAID" and o["createdAt"].endswith("Z")
    assert o["customer"]["email"] == "ann@example.com"
    assert o["lineItems"]["nodes"][0]["originalUnitPriceSet"]["shopMoney"]["amount"] == "19.99"
    assert o["lineItems"]["nodes"][0]["name"] == "Tee - Small"
    assert shop.counters.snapshot()["shopify.writes"] == 1
    item = shop.backend.store.variants[shop.backend.store.variant_by_sku["TEE-S"]]["_item"]
    lid = shop.backend.store.location_by_key["loc-1"]
    lv = shop.backend.store.levels[(item, lid)]
    assert (lv.available, lv.committed, lv.on_hand) == (8, 2, 10)
    # a bad variant is a userError and changes nothing
    order["lineItems"][0]["variantId"] = "gid://shopify/ProductVariant/1"
    p = shop.gql(m, {"order": order})["data"]["orderCreate"]
    assert p["order"] is None and p["userErrors"][0]["field"] == ["order", "lineItems", "0", "variantId"]


def test_orders_search_sort_and_paging(shop):
    made = [shop.order() for _ in range(5)]
    body = shop.gql(ORDERS, {"first": 2, "sort": "UPDATED_AT"})
    conn = body["data"]["orders"]
    assert [e["node"]["id"] for e in conn["edges"]] == [m["id"] for m in made[:2]]
    assert conn["pageInfo"]["hasNextPage"] is True
    seen = [e["node"]["id"] for e in conn["edges"]]
    while conn["pageInfo"]["hasNextPage"]:
        conn = shop.gql(ORDERS, {"first": 2, "sort": "UPDATED_AT", "after": conn["pageInfo"]["endCursor"]})["data"]["orders"]
        seen += [n["id"] for n in conn["nodes"]]
    assert seen == [m["id"] for m in made]
    rev = shop.gql(ORDERS, {"first": 5, "sort": "ID", "rev": True})["data"]["orders"]["nodes"]
    assert [n["id"] for n in rev] == [m["id"] for m in reversed(made)]
    # date filters: nothing is updated in the future; all were updated at or after the first one
    first_upd = made[0]["updatedAt"]
    assert shop.gql(ORDERS, {"first": 10, "q": "updated_at:>'2999-01-01T00:00:00Z'"})["data"]["orders"]["nodes"] == []
    q = f"updated_at:>='{first_upd}' AND created_at:<='2999-01-01T00:00:00Z'"
    assert len(shop.gql(ORDERS, {"first": 10, "q": q})["data"]["orders"]["nodes"]) == 5
    # unknown field: a warning, not an error
    body = shop.gql(ORDERS, {"first": 10, "q": "colour:red"})
    assert len(body["data"]["orders"]["nodes"]) == 5
    assert body["extensions"]["search"][0]["warnings"][0]["field"] == "colour"


def test_nested_line_items_page_and_max_page_size(shop):
    order = shop.backend.create_order({"lineItems": [
        {"variantId": shop.variant_id("TEE-S"), "quantity": 1}, {"variantId": shop.variant_id("TEE-L"), "quantity": 2}]})
    q = """query($id: ID!, $after: String) { order(id: $id) { lineItems(first: 1, after: $after) {
        pageInfo { hasNextPage endCursor } nodes { sku currentQuantity variant { sku } } } } }"""
    page1 = shop.gql(q, {"id": order["id"]})["data"]["order"]["lineItems"]
    assert page1["nodes"][0]["sku"] == "TEE-S" and page1["pageInfo"]["hasNextPage"]
    page2 = shop.gql(q, {"id": order["id"], "after": page1["pageInfo"]["endCursor"]})["data"]["order"]["lineItems"]
    assert page2["nodes"][0]["variant"]["sku"] == "TEE-L" and not page2["pageInfo"]["hasNextPage"]
    body = shop.post("{ orders(first: 251) { nodes { id } } }").get_json()
    assert "250" in body["errors"][0]["message"] and body["data"] is None


def _set_inv(shop, quantity, change_from, key, *, name="available", omit_cfq=False):
    item = shop.backend.store.items[shop.backend.store.variants[shop.backend.store.variant_by_sku["TEE-L"]]["_item"]]["id"]
    loc = shop.backend.store.locations[shop.backend.store.location_by_key["loc-1"]]["id"]
    q = {"inventoryItemId": item, "locationId": loc, "quantity": quantity}
    if not omit_cfq:
        q["changeFromQuantity"] = change_from
    m = """mutation($input: InventorySetQuantitiesInput!, $key: String!) { inventorySetQuantities(input: $input) @idempotent(key: $key) {
      inventoryAdjustmentGroup { id changes { name delta quantityAfterChange } } userErrors { code field message } } }"""
    return shop.post(m, {"input": {"name": name, "reason": "correction", "quantities": [q]}, "key": key}).get_json()


def _available(shop):
    item = shop.backend.store.variants[shop.backend.store.variant_by_sku["TEE-L"]]["_item"]
    q = """query($id: ID!) { inventoryItem(id: $id) { inventoryLevels(first: 5) { nodes { location { name }
        quantities(names: ["available", "on_hand", "committed"]) { name quantity } } } } }"""
    levels = shop.gql(q, {"id": f"gid://shopify/InventoryItem/{item}"})["data"]["inventoryItem"]["inventoryLevels"]["nodes"]
    east = next(lv for lv in levels if lv["location"]["name"] == "East Warehouse")
    return {x["name"]: x["quantity"] for x in east["quantities"]}


def test_inventory_set_quantities_cas_and_idempotency(shop):
    key = str(uuid.uuid4())
    ok = _set_inv(shop, 12, 5, key)["data"]["inventorySetQuantities"]
    assert ok["userErrors"] == [] and ok["inventoryAdjustmentGroup"]["changes"][0] == {"name": "available", "delta": 7, "quantityAfterChange": 12}
    assert _available(shop) == {"available": 12, "on_hand": 12, "committed": 0}
    replay = _set_inv(shop, 12, 5, key)["data"]["inventorySetQuantities"]
    assert replay == ok and _available(shop)["available"] == 12
    mismatch = _set_inv(shop, 13, 5, key)["data"]["inventorySetQuantities"]
    assert mismatch["userErrors"][0]["code"] == "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"
    stale = _set_inv(shop, 20, 5, str(uuid.uuid4()))["data"]["inventorySetQuantities"]
    assert stale["userErrors"][0]["code"] == "CHANGE_FROM_QUANTITY_STALE"
    assert stale["userErrors"][0]["field"] == ["input", "quantities", "0", "changeFromQuantity"]
    assert _set_inv(shop, 20, None, str(uuid.uuid4()))["data"]["inventorySetQuantities"]["userErrors"] == []
    missing = _set_inv(shop, 1, None, str(uuid.uuid4()), omit_cfq=True)["data"]["inventorySetQuantities"]
    assert missing["userErrors"][0]["field"][-1] == "changeFromQuantity"
    bad_name = _set_inv(shop, 1, None, str(uuid.uuid4()), name="committed")["data"]["inventorySetQuantities"]
    assert bad_name["userErrors"][0]["code"] == "INVALID_NAME"
    no_key = shop.post("""mutation { inventorySetQuantities(input: {name: "available", reason: "correction", quantities: []}) {
        userErrors { code } } }""").get_json()
    assert "idempotent" in no_key["errors"][0]["message"]
    assert _available(shop)["available"] == 20


def test_throttled_200_and_429():
    shop = Shop(bucket_size=5, restore_rate=0.001)
    q = "{ orders(first: 2) { nodes { id } } }"  # requested 4, actual 2 (no orders): 3 points left
    first = shop.post(q).get_json()
    assert "errors" not in first
    throttled = shop.post("{ orders(first: 3) { nodes { id } } }")
    body = throttled.get_json()
    assert throttled.status_code == 200 and body["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert body["extensions"]["cost"]["actualQueryCost"] is None
    assert shop.counters.snapshot()["shopify.throttled"] == 1
    shop.backend.configure(throttle_status=429)
    r = shop.post("{ orders(first: 3) { nodes { id } } }")
    assert r.status_code == 429 and r.headers["Retry-After"] == "2.0"
    assert shop.counters.snapshot()["shopify.throttled"] == 2


def test_max_cost_exceeded(shop):
    body = shop.post("{ orders(first: 250) { nodes { id lineItems(first: 10) { nodes { id } } } } }").get_json()
    err = body["errors"][0]
    assert err["extensions"]["code"] == "MAX_COST_EXCEEDED" and err["extensions"]["maxCost"] == 1000
    assert err["message"].startswith(f"Query cost is {err['extensions']['cost']}, which exceeds the single query max cost limit (1000).")
    assert shop.counters.snapshot()["shopify.max_cost_exceeded"] == 1


def test_fulfillment_create_and_subscribe(shop):
    events = []
    shop.backend.subscribe(lambda topic, payload: events.append((topic, payload)))
    order = shop.order("TEE-L", 2)
    assert [t for t, _ in events][:2] == ["orders/create", "orders/paid"]
    assert events[0][1]["line_items"][0]["sku"] == "TEE-L" and events[0][1]["total_price"] == "43.00"
    q = """query($id: ID!) { order(id: $id) { fulfillmentOrders(first: 5) { nodes { id status
        lineItems(first: 5) { nodes { id remainingQuantity } } } } } }"""
    fo = shop.gql(q, {"id": order["id"]})["data"]["order"]["fulfillmentOrders"]["nodes"][0]
    m = """mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) {
        fulfillment { id status trackingInfo { company number url } } userErrors { field message } } }"""
    f = {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo["id"]}],
         "trackingInfo": {"company": "UPS", "number": "1Z999", "url": "https://ups.example/1Z999"}}
    p = shop.gql(m, {"f": f})["data"]["fulfillmentCreate"]
    assert p["userErrors"] == [] and p["fulfillment"]["trackingInfo"] == [f["trackingInfo"]]
    again = shop.gql(m, {"f": f})["data"]["fulfillmentCreate"]
    assert again["fulfillment"] is None and again["userErrors"]
    o = shop.gql("query($id: ID!) { order(id: $id) { displayFulfillmentStatus } }", {"id": order["id"]})["data"]["order"]
    assert o["displayFulfillmentStatus"] == "FULFILLED"
    assert "fulfillments/create" in [t for t, _ in events]
    assert any(t == "inventory_levels/update" for t, _ in events)


def test_order_update_touches_updated_at(shop):
    order = shop.order()
    time.sleep(1.05)
    m = """mutation($i: OrderInput!) { orderUpdate(input: $i) { order { tags note updatedAt } userErrors { message } } }"""
    o = shop.gql(m, {"i": {"id": order["id"], "tags": ["erp-synced"], "note": "hi"}})["data"]["orderUpdate"]["order"]
    assert o["tags"] == ["erp-synced"] and o["updatedAt"] > order["updatedAt"]


def test_bulk_operation_lifecycle(shop):
    shop.backend.configure(bulk_seconds=0.2)
    for _ in range(3):
        shop.order("TEE-S", 1)
    run = """mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id status } userErrors { code field message } } }"""
    bq = "{ orders { edges { node { __typename id name lineItems { edges { node { __typename id sku } } } } } } }"
    op = shop.gql(run, {"q": bq})["data"]["bulkOperationRunQuery"]
    assert op["userErrors"] == [] and op["bulkOperation"]["status"] == "CREATED"
    busy = shop.gql(run, {"q": bq})["data"]["bulkOperationRunQuery"]
    assert busy["userErrors"][0]["message"] == (
        f"A bulk query operation for this app and shop is already in progress: {op['bulkOperation']['id']}.")
    poll = """query($id: ID!) { node(id: $id) { ... on BulkOperation { id status objectCount rootObjectCount fileSize url } } }"""
    deadline = time.monotonic() + 10
    while True:
        node = shop.gql(poll, {"id": op["bulkOperation"]["id"]})["data"]["node"]
        if node["status"] == "COMPLETED" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert node["status"] == "COMPLETED" and node["objectCount"] == "6" and node["rootObjectCount"] == "3"
    path = node["url"].split("localhost", 1)[1]
    lines = [json.loads(x) for x in shop.client.get(path).data.decode().splitlines()]
    assert len(lines) == 6 and int(node["fileSize"]) > 0
    orders = [x for x in lines if x["__typename"] == "Order"]
    items = [x for x in lines if x["__typename"] == "LineItem"]
    assert {i["__parentId"] for i in items} == {o["id"] for o in orders} and all("__parentId" not in o for o in orders)
    current = shop.gql("{ currentBulkOperation { id status } }")["data"]["currentBulkOperation"]
    assert current == {"id": node["id"], "status": "COMPLETED"}
    bad = shop.gql(run, {"q": "{ order(id: \"x\") { id } }"})["data"]["bulkOperationRunQuery"]
    assert bad["bulkOperation"] is None and bad["userErrors"][0]["field"] == ["query"]


def test_fulfillment_tracking_info_update(shop):
    """fulfillmentTrackingInfoUpdate replaces the stored tracking (numbers paired with urls by position) and
    refuses an unknown fulfillment with a userError, changing nothing."""
    events = []
    shop.backend.subscribe(lambda topic, payload: events.append((topic, payload)))
    order = shop.order("TEE-S", 1)
    q = "query($id: ID!) { order(id: $id) { fulfillmentOrders(first: 5) { nodes { id } } } }"
    fo = shop.gql(q, {"id": order["id"]})["data"]["order"]["fulfillmentOrders"]["nodes"][0]
    create = """mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) {
        fulfillment { id trackingInfo { number } } userErrors { field message } } }"""
    made = shop.gql(create, {"f": {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo["id"]}]}})
    fulfillment = made["data"]["fulfillmentCreate"]["fulfillment"]
    assert fulfillment["trackingInfo"] == []
    m = """mutation($id: ID!, $t: FulfillmentTrackingInput!, $notify: Boolean) {
        fulfillmentTrackingInfoUpdate(fulfillmentId: $id, trackingInfoInput: $t, notifyCustomer: $notify) {
        fulfillment { id trackingInfo { company number url } } userErrors { field message } } }"""
    both = {"company": "UPS", "numbers": ["1ZA", "1ZB"], "urls": ["https://ups.example/1ZA"]}
    p = shop.gql(m, {"id": fulfillment["id"], "t": both, "notify": True})["data"]["fulfillmentTrackingInfoUpdate"]
    assert p["userErrors"] == [] and p["fulfillment"]["trackingInfo"] == [
        {"company": "UPS", "number": "1ZA", "url": "https://ups.example/1ZA"},
        {"company": "UPS", "number": "1ZB", "url": None}]
    p = shop.gql(m, {"id": fulfillment["id"], "t": {"number": "1ZC"}})["data"]["fulfillmentTrackingInfoUpdate"]
    assert p["fulfillment"]["trackingInfo"] == [{"company": None, "number": "1ZC", "url": None}]
    stored = shop.gql("query($id: ID!) { order(id: $id) { fulfillments(first: 5) { id trackingInfo { number } } } }",
                      {"id": order["id"]})["data"]["order"]["fulfillments"]
    assert stored == [{"id": fulfillment["id"], "trackingInfo": [{"number": "1ZC"}]}]
    updates = [payload for topic, payload in events if topic == "fulfillments/update"]
    assert [u["tracking_numbers"] for u in updates] == [["1ZA", "1ZB"], ["1ZC"]]

    writes = shop.counters.snapshot()["shopify.writes"]
    unknown = shop.gql(m, {"id": "gid://shopify/Fulfillment/1", "t": {"number": "1ZD"}})["data"]["fulfillmentTrackingInfoUpdate"]
    assert unknown == {"fulfillment": None, "userErrors": [{"field": ["fulfillmentId"], "message": "Fulfillment does not exist."}]}
    assert shop.counters.snapshot()["shopify.writes"] == writes
    # the argument is required, as in the published schema
    body = shop.post("mutation { fulfillmentTrackingInfoUpdate(fulfillmentId: \"x\") { userErrors { message } } }").get_json()
    assert body["errors"] and "trackingInfoInput" in body["errors"][0]["message"]
