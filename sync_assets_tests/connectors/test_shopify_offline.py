"""Shopify connector logic that needs no server: retry decisions, throttle maths, error mapping, bulk join."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from sync_assets.connectors.http import Backoff
from sync_assets.connectors.shopify import (
    ShopifyAuthError,
    ShopifyBulkOrderingError,
    ShopifyClient,
    ShopifyGraphQLError,
    ShopifyMaxCostExceeded,
    ShopifyStaleQuantity,
    ShopifyTransientError,
    ShopifyUserError,
    join_children,
)
from sync_assets.connectors.shopify import documents as docs
from sync_assets.connectors.http import never_sent as _never_sent
from sync_assets.connectors.shopify.errors import raise_for_user_errors
from sync_assets.connectors.shopify.orders import updated_between_query, utc_z
from sync_assets.connectors.shopify.throttle import CostBucket

FIXTURES = Path(__file__).parents[1] / "fixtures"
TOKEN = "shpat_offline_secret_value"


def _response(status: int, body: object, headers: dict[str, str] | None = None) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r._content = json.dumps(body).encode() if not isinstance(body, bytes) else body
    r.headers.update(headers or {})
    r.headers.setdefault("X-Shopify-API-Version", "2026-10")
    return r


class FakeSession:
    """Answers posts from a script; an Exception in the script is raised instead of answering."""

    def __init__(self, script: list) -> None:
        self.script = list(script)
        self.bodies: list[dict] = []

    def post(self, url, json=None, headers=None, timeout=None):
        self.bodies.append(json)
        item = self.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        pass


def _client(script: list, **kwargs) -> tuple[ShopifyClient, FakeSession, list[float]]:
    session = FakeSession(script)
    sleeps: list[float] = []
    client = ShopifyClient(
        "http://127.0.0.1:9", TOKEN, session=session, sleep=sleeps.append, backoff=Backoff(4, 0.01, 0.05), **kwargs
    )
    return client, session, sleeps


def _cost(requested=10, available=990, maximum=1000.0, restore=50.0, actual=10):
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {"maximumAvailable": maximum, "currentlyAvailable": available, "restoreRate": restore},
        }
    }


THROTTLED = {
    "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
    "extensions": _cost(requested=752, available=666, restore=50.0, actual=None),
}


def test_throttled_200_is_retried_after_bucket_refill_time():
    ok = _response(200, {"data": {"shop": {"name": "x"}}, "extensions": _cost()})
    client, _, sleeps = _client([_response(200, THROTTLED), ok])
    assert client.execute("{ shop { name } }") == {"shop": {"name": "x"}}
    # (752 - 666) / 50 = 1.72 s, plus a little jitter
    assert 1.72 <= sleeps[0] <= 1.72 * 1.1 + 0.06
    stats = client.stats.snapshot()
    assert stats["calls"] == 2 and stats["throttled"] == 1 and stats["cost"] == 10


def test_429_retry_after_float_string_is_honoured():
    ok = _response(200, {"data": {"ok": True}})
    client, _, sleeps = _client([_response(429, {"errors": "Too many"}, {"Retry-After": "2.0"}), ok])
    assert client.execute("{ shop { name } }") == {"ok": True}
    assert sleeps[0] >= 2.0


def test_missing_cost_data_is_tolerated():
    client, _, sleeps = _client([_response(200, {"data": {"a": 1}}), _response(200, {"data": {"a": 2}})])
    assert client.execute("{ a }") == {"a": 1}
    assert client.execute("{ a }") == {"a": 2}
    assert sleeps == []


def test_pacing_waits_before_a_query_the_bucket_cannot_cover():
    first = _response(200, {"data": {}, "extensions": _cost(requested=100, available=20, restore=50.0, actual=100)})
    client, _, sleeps = _client([first, _response(200, {"data": {}})])
    client.execute("{ a }")
    client.execute("{ a }")
    # Expect ≈ (100 - 20) / 50 = 1.6 s of pacing before the second call, taken before sending.
    assert len(sleeps) == 1 and 1.5 <= sleeps[0] <= 1.6
    assert client.stats.snapshot()["paced"] == 1


def test_5xx_retried_for_queries_but_not_for_plain_mutations():
    ok = _response(200, {"data": {"a": 1}})
    client, _, _ = _client([_response(502, {"errors": "bad gateway"}), ok])
    assert client.execute("{ a }") == {"a": 1}

    client, session, _ = _client([_response(500, {"errors": "oops"}), ok])
    with pytest.raises(ShopifyTransientError) as info:
        client.execute(docs.ORDER_CREATE, {"order": {}})
    assert info.value.maybe_applied and len(session.bodies) == 1


def test_idempotent_mutation_is_resent_with_the_same_key_after_a_timeout():
    ok = _response(200, {"data": {"inventorySetQuantities": {"inventoryAdjustmentGroup": {"id": "g"}, "userErrors": []}}})
    client, session, _ = _client([requests.ReadTimeout("slow"), requests.ConnectionError("reset"), ok])
    group = client.set_inventory_quantities(
        [{"inventoryItemId": "gid://shopify/InventoryItem/1", "locationId": "gid://shopify/Location/1", "quantity": 5, "changeFromQuantity": 3}]
    )
    assert group == {"id": "g"}
    keys = {body["variables"]["idempotencyKey"] for body in session.bodies}
    assert len(session.bodies) == 3 and len(keys) == 1


def test_connection_refused_is_known_never_sent():
    try:
        requests.post("http://127.0.0.1:9/", timeout=1)
    except requests.ConnectionError as exc:
        assert _never_sent(exc)
    assert not _never_sent(requests.ReadTimeout("x"))


def test_401_names_the_setting_and_hides_the_token():
    client, _, _ = _client([_response(401, {"errors": "[API] Invalid API key or access token"})])
    with pytest.raises(ShopifyAuthError) as info:
        client.execute("{ a }")
    message = str(info.value)
    assert "SHOPIFY_ACCESS_TOKEN" in message and "http://127.0.0.1:9" in message
    assert TOKEN not in message and TOKEN not in repr(client)


def test_max_cost_exceeded_is_its_own_error_and_not_retried():
    body = {"errors": [{"message": "Query cost is 1066", "extensions": {"code": "MAX_COST_EXCEEDED", "cost": 1066, "maxCost": 1000}}]}
    client, session, _ = _client([_response(200, body)])
    with pytest.raises(ShopifyMaxCostExceeded) as info:
        client.execute("{ a }")
    assert info.value.cost == 1066 and len(session.bodies) == 1


def test_paginate_halves_page_size_on_max_cost():
    too_much = {"errors": [{"message": "cost", "extensions": {"code": "MAX_COST_EXCEEDED", "cost": 2000, "maxCost": 1000}}]}
    page = {"data": {"locations": {"pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": [{"id": "L1"}]}}}
    client, session, _ = _client([_response(200, too_much), _response(200, page)])
    assert list(client.paginate(docs.LOCATIONS_PAGE, {}, "locations", page_size=100)) == [{"id": "L1"}]
    assert [b["variables"]["first"] for b in session.bodies] == [100, 50]


def test_other_graphql_errors_raise_with_code():
    body = {"data": None, "errors": [{"message": "Access denied for orders field.", "extensions": {"code": "ACCESS_DENIED"}}]}
    client, _, _ = _client([_response(200, body)])
    with pytest.raises(ShopifyGraphQLError) as info:
        client.execute("{ a }")
    assert info.value.code == "ACCESS_DENIED"


def test_user_errors_are_typed():
    with pytest.raises(ShopifyStaleQuantity) as info:
        raise_for_user_errors(
            "inventorySetQuantities",
            [{"code": "CHANGE_FROM_QUANTITY_STALE", "field": ["input", "quantities", "0", "changeFromQuantity"], "message": "stale"}],
        )
    assert info.value.field == ("input", "quantities", "0", "changeFromQuantity")
    with pytest.raises(ShopifyUserError) as info:
        raise_for_user_errors("productSet", [{"field": "title", "message": "blank"}])
    assert info.value.field == ("title",) and not isinstance(info.value, ShopifyStaleQuantity)
    raise_for_user_errors("x", [])


def test_inventory_input_requires_explicit_change_from_quantity():
    client, session, _ = _client([])
    with pytest.raises(ValueError, match="changeFromQuantity"):
        client.set_inventory_quantities([{"inventoryItemId": "i", "locationId": "l", "quantity": 1}])
    assert session.bodies == []


def test_order_window_is_utc_z_and_rejects_naive_times():
    from datetime import datetime, timedelta, timezone

    start = datetime(2026, 10, 1, 2, 0, tzinfo=timezone(timedelta(hours=2)))
    assert updated_between_query(start, "2026-10-02T00:00:00Z") == (
        "updated_at:>='2026-10-01T00:00:00Z' AND updated_at:<'2026-10-02T00:00:00Z'"
    )
    with pytest.raises(ValueError, match="time zone"):
        utc_z(datetime(2026, 10, 1))
    with pytest.raises(ValueError, match="empty order window"):
        updated_between_query("2026-10-02T00:00:00Z", "2026-10-01T00:00:00Z")


def test_cost_bucket_refills_at_restore_rate():
    now = [100.0]
    bucket = CostBucket(clock=lambda: now[0])
    bucket.observe("q", _cost(requested=100, available=0, maximum=1000.0, restore=50.0)["cost"])
    assert bucket.wait_before("q") == pytest.approx(2.0)
    now[0] += 1.0
    assert bucket.available_now() == pytest.approx(50.0)
    assert bucket.wait_before("q") == pytest.approx(1.0)
    now[0] += 100
    assert bucket.available_now() == 1000.0


def _jsonl(name: str) -> list[dict]:
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines() if line.strip()]


def test_join_inventory_levels_fixture():
    (location,) = join_children(_jsonl("shopify-bulk-jsonl-sample-inventory_levels.airbyte-fixture.jsonl"), {"InventoryLevel": "inventoryLevels"})
    assert location["id"] == "gid://shopify/Location/63590301885"
    assert [level["available"] for level in location["inventoryLevels"]] == [15, 8]
    assert all("__parentId" not in level for level in location["inventoryLevels"])


def test_join_fulfillment_orders_fixture_nests_two_levels():
    (order,) = join_children(_jsonl("shopify-bulk-jsonl-sample-fulfillment_orders.airbyte-fixture.jsonl"))
    (fo,) = order["FulfillmentOrder"]
    assert fo["id"] == "gid://shopify/FulfillmentOrder/2"
    assert [x["id"] for x in fo["FulfillmentOrderLineItem"]] == ["gid://shopify/FulfillmentOrderLineItem/3"]
    assert len(fo["FulfillmentOrderMerchantRequest"]) == 1


def test_join_roots_only_fixture_and_ordering_violation():
    items = list(join_children(_jsonl("shopify-bulk-jsonl-sample-inventory_items.airbyte-fixture.jsonl")))
    assert [i["sku"] for i in items] == ["", "123"]
    ungrouped = [{"id": "A"}, {"id": "B"}, {"id": "a1", "__parentId": "A"}]
    with pytest.raises(ShopifyBulkOrderingError, match="groupObjects"):
        list(join_children(ungrouped))


def test_join_is_streaming():
    """Root n is yielded before line n+2 is read: only one root subtree is held at a time."""
    read: list[int] = []

    def lines():
        for n in range(1000):
            read.append(n)
            yield {"id": f"R{n}"}
            yield {"id": f"C{n}", "__parentId": f"R{n}"}

    joined = join_children(lines())
    first = next(joined)
    assert first == {"id": "R0", "children": [{"id": "C0"}]} and len(read) == 2
