"""The sandbox's seeded order history (sandbox/shopify/history.py): what a bulk query of it returns, and the
control API refusing a history it cannot honour."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
import requests

from sync_assets.connectors.shopify.bulk import iter_bulk_orders_created_between, run_bulk_query
from sync_assets.connectors.shopify import documents as docs
from sync_assets.sandbox.control_client import SandboxControlError
from sync_assets_tests.flows.orders_support import shopify_client

UTC = timezone.utc


def test_history_orders_are_distinct_time_ordered_and_nested_like_live_ones(sandbox):
    sandbox.control.configure(bulk_seconds=0, bulk_seconds_per_1000_objects=0)
    sandbox.control.seed_order_history(600, "2025-01-01T00:00:00Z", "2025-01-07T00:00:00Z", seed=4)
    orders = list(iter_bulk_orders_created_between(shopify_client(sandbox), datetime(2025, 1, 1, tzinfo=UTC),
                                                   datetime(2025, 1, 7, tzinfo=UTC), poll_interval=0.05))
    assert len(orders) == 600  # more than the 251 templates: instances beyond them are distinct orders
    ids = [o["id"] for o in orders]
    assert len(set(ids)) == 600 and len({o["name"] for o in orders}) == 600
    line_ids = [li["id"] for o in orders for li in o["lineItems"]]
    assert len(line_ids) == len(set(line_ids)) and all(o["lineItems"] for o in orders)
    created = [o["createdAt"] for o in orders]
    assert created == sorted(created) and created[0] == "2025-01-01T00:00:00Z"
    assert all(o["updatedAt"] == o["createdAt"] == o["processedAt"] for o in orders)
    # each order's totals are its own lines' (a template with another order's ids would still add up)
    for order in orders[::50]:
        lines = sum(float(li["originalTotalSet"]["shopMoney"]["amount"]) for li in order["lineItems"])
        assert lines >= float(order["subtotalPriceSet"]["shopMoney"]["amount"]) - 0.01


def test_a_search_the_bulk_query_narrows_by_time_returns_only_that_range(sandbox):
    sandbox.control.configure(bulk_seconds=0, bulk_seconds_per_1000_objects=0)
    sandbox.control.seed_order_history(100, "2025-01-01T00:00:00Z", "2025-01-11T00:00:00Z")
    # orders every 2.4 h: the 1st-2nd of January holds orders 0..9
    lines = list(run_bulk_query(shopify_client(sandbox), docs.bulk_orders_query(
        "created_at:>='2025-01-01T00:00:00Z' AND created_at:<'2025-01-02T00:00:00Z'"), group_objects=True,
        poll_interval=0.05))
    roots = [line for line in lines if "__parentId" not in line]
    assert [r["name"] for r in roots] == [f"#H{i}" for i in range(1, 11)]
    # a search on another field renders every candidate and filters it: the same orders by email
    email = roots[0]["email"]
    by_email = [line for line in run_bulk_query(shopify_client(sandbox), docs.bulk_orders_query(f"email:{email}"),
                                                group_objects=True, poll_interval=0.05) if "__parentId" not in line]
    assert by_email and all(r["email"] == email for r in by_email)


def test_the_shop_query_answers_the_configured_time_zone(sandbox):
    sandbox.control.configure(shopify_timezone="Asia/Kolkata")
    shop = shopify_client(sandbox).execute("{ shop { ianaTimezone timezoneOffsetMinutes } }", {})["shop"]
    assert shop == {"ianaTimezone": "Asia/Kolkata", "timezoneOffsetMinutes": 330}
    with pytest.raises(SandboxControlError, match="shopify_timezone: 'Mars/Olympus' is not an IANA time zone"):
        sandbox.control.configure(shopify_timezone="Mars/Olympus")


@pytest.mark.parametrize(("body", "message"), [
    ({"count": 0, "start": "2025-01-01T00:00:00Z", "end": "2025-02-01T00:00:00Z"}, "count must be >= 1"),
    ({"count": 5, "start": "2025-01-01", "end": "2025-02-01T00:00:00Z"}, "start must be an ISO timestamp with an offset"),
    ({"count": 5, "start": "2025-02-01T00:00:00Z", "end": "2025-01-01T00:00:00Z"}, "must be before end"),
    ({"count": 5, "start": "2025-01-01T00:00:00Z", "end": "2099-01-01T00:00:00Z"}, "is in the future"),
    ({"count": 5, "start": "2025-01-01T00:00:00Z", "end": "2025-02-01T00:00:00Z", "malformed": 6},
     "malformed must be in 0..count"),
    ({"count": 5, "start": "2025-01-01T00:00:00Z", "end": "2025-02-01T00:00:00Z", "colour": "red"}, "colour"),
])
def test_the_control_api_refuses_a_history_it_cannot_honour(sandbox, body, message):
    answer = requests.post(f"{sandbox.url}/_sandbox/shopify/history", data=json.dumps(body),
                           headers={"Content-Type": "application/json"}, timeout=10)
    assert answer.status_code == 400 and message in answer.json()["error"], answer.text
