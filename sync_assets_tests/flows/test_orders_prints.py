"""Our own fulfillment's ``orders/updated`` costs no read; a real change after the synced version always does.

Real deliveries: the sandbox signs and posts its REST payloads to the product's own webhook receiver, which
puts them in the ledger's inbox, as in production. Costs come from the sandbox's per-operation counters.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import replace

import pytest

from sync_assets.connectors.shopify.fulfillment import create_fulfillment, fulfillment_orders
from sync_assets.devstack import undiscounted_order_seeds
from sync_assets.domain.windows import parse_ts
from sync_assets.flows.order_prints import PRINTS_FLOW, payload_print
from sync_assets.flows.orders import REFUNDS_FLOW, SKIPPED, SYNCED, TOPICS, VERSIONS_FLOW, WEBHOOK_TRIGGER, drain_orders_flow
from sync_assets_tests.flows.orders_support import (
    CONFIG, assert_exactly_once, ledger_at, netsuite_client, policy, shopify_client,
)  # fmt: skip
from sync_assets_tests.flows.test_orders_economy import _calls
from sync_assets_tests.flows.webhook_support import receiving

BY_ID = "OrdersById"
ONE_BATCH = replace(CONFIG, drain_seconds=0.0)


@pytest.fixture
def wired(sandbox, tmp_path):
    """The ledger, fed by the product's receiver with the sandbox's real ``orders/*`` deliveries."""
    ledger = ledger_at(tmp_path)
    with receiving(sandbox, ledger, TOPICS):
        yield ledger


def _wait_for_events(ledger, count: int, timeout: float = 20.0) -> None:
    """At least ``count`` new events, and then no more for half a second (an order fires several topics)."""
    deadline = time.monotonic() + timeout
    seen, still_since = -1, time.monotonic()
    while True:
        now = sum(ledger.inbox_counts(t).get("new", 0) for t in TOPICS)
        if now != seen:
            seen, still_since = now, time.monotonic()
        if seen >= count and time.monotonic() - still_since >= 0.5:
            return
        assert time.monotonic() < deadline, f"{seen} webhook events arrived, expected at least {count}"
        time.sleep(0.05)


def _fulfill(shopify, gid: str) -> None:
    create_fulfillment(shopify, [{"fulfillmentOrderId": fo["id"]} for fo in fulfillment_orders(shopify, gid)])


def _place(sandbox, count: int) -> list[str]:
    """Generated storefront orders (paid, shippable lines) that sync without a NetSuite discount item."""
    return [sandbox.control.place_orders(1, seed=seed)[0]["id"] for seed in itertools.islice(undiscounted_order_seeds(), count)]


def _synced_by_webhook(sandbox, ledger, count: int):
    gids = _place(sandbox, count)
    _wait_for_events(ledger, count)
    shopify, netsuite = shopify_client(sandbox), netsuite_client(sandbox)
    first = drain_orders_flow(shopify, netsuite, ledger, policy(), config=ONE_BATCH, trigger="sensor")
    assert first.count(SYNCED) == count
    return gids, shopify, netsuite


def test_our_own_fulfillment_costs_no_read_and_then_no_poll_either(sandbox, wired):
    ledger = wired
    gids, shopify, netsuite = _synced_by_webhook(sandbox, ledger, 3)
    assert all(ledger.get_entry(PRINTS_FLOW, g) for g in gids)  # each synced version's payload print
    time.sleep(1.1)  # the fulfillments come a second or more after the versions synced
    for gid in gids:
        _fulfill(shopify, gid)
    _wait_for_events(ledger, 3)

    sandbox.control.reset_counters()
    hooked = drain_orders_flow(shopify, netsuite, ledger, policy(), config=ONE_BATCH, trigger=WEBHOOK_TRIGGER)
    assert {g: o.status for g, o in hooked.outcomes.items()} == dict.fromkeys(gids, SKIPPED)
    assert hooked.inbox_acked == 3 and BY_ID not in _calls(sandbox)  # not one order read
    stamps = {o["id"]: o["updatedAt"] for o in shopify.get_orders(gids)}
    for gid in gids:  # the fulfilled version is recorded as reflected, so the safety net skips it too
        assert parse_ts(ledger.get_entry(VERSIONS_FLOW, gid).payload_hash) >= parse_ts(stamps[gid])

    sandbox.control.reset_counters()
    polled = drain_orders_flow(shopify, netsuite, ledger, policy(), config=ONE_BATCH, trigger="sensor")
    assert polled.count(SYNCED) == 0 and BY_ID not in _calls(sandbox)
    assert_exactly_once(netsuite, gids)


def test_a_refund_after_the_synced_version_is_read_and_written_fulfillment_or_not(sandbox, wired):
    ledger = wired
    gids, shopify, netsuite = _synced_by_webhook(sandbox, ledger, 1)
    (gid,) = gids
    time.sleep(1.1)
    sandbox.control.refund_order(gid, "1.00")
    _fulfill(shopify, gid)  # and our fulfillment right after: its payload carries the refund as well
    _wait_for_events(ledger, 2)

    sandbox.control.reset_counters()
    hooked = drain_orders_flow(shopify, netsuite, ledger, policy(), config=ONE_BATCH, trigger=WEBHOOK_TRIGGER)
    assert _calls(sandbox).get(BY_ID, 0) >= 1  # a change outside the fulfillment's fields: read
    assert hooked.refunds_written == 1 and len(ledger.entries(REFUNDS_FLOW)) == 1
    assert_exactly_once(netsuite, [gid])


def test_the_print_ignores_only_what_a_fulfillment_moves():
    order = {"id": 1, "updated_at": "2026-12-07T06:00:00Z", "fulfillment_status": None, "fulfillments": [],
             "financial_status": "paid", "note": None, "refunds": [],
             "line_items": [{"id": 7, "sku": "A", "quantity": 2, "fulfillable_quantity": 2}]}
    fulfilled = {**order, "updated_at": "2026-12-07T06:00:05Z", "fulfillment_status": "fulfilled",
                 "fulfillments": [{"id": 9}], "line_items": [{**order["line_items"][0], "fulfillable_quantity": 0}]}
    assert payload_print(fulfilled) == payload_print(order)
    for change in ({"note": "gift"}, {"financial_status": "partially_refunded"}, {"refunds": [{"id": 3}]},
                   {"line_items": [{**order["line_items"][0], "quantity": 3}]}, {"new_field": 1}):
        assert payload_print({**fulfilled, **change}) != payload_print(order), change
    # Not a whole order (a re-queue nudge, a trimmed payload): never printed, so never skipped on a print.
    assert payload_print({"admin_graphql_api_id": "gid://shopify/Order/1"}) is None
    assert payload_print({k: v for k, v in order.items() if k != "line_items"}) is None


def test_a_lingering_drain_records_a_skipped_version_once_its_second_is_over(sandbox, wired):
    """Until recorded, a skipped version holds the orders probe's shared cursor: it must not wait for the
    drain (up to ``drain_seconds``) to end."""
    ledger = wired
    gids, shopify, netsuite = _synced_by_webhook(sandbox, ledger, 1)
    (gid,) = gids
    time.sleep(1.1)
    time.sleep(1.0 - time.time() % 1.0)  # at the start of a second, so the drain takes the event within it
    _fulfill(shopify, gid)
    deadline = time.monotonic() + 5
    while not ledger.inbox_counts("orders/updated").get("new", 0):
        assert time.monotonic() < deadline, "no orders/updated delivery"
        time.sleep(0.01)
    seen_while_draining = []

    def sleep(seconds):
        seen_while_draining.append(ledger.get_entry(VERSIONS_FLOW, gid) is not None
                                   and parse_ts(ledger.get_entry(VERSIONS_FLOW, gid).payload_hash)
                                   >= parse_ts(shopify.get_orders([gid])[0]["updatedAt"]))
        time.sleep(seconds)

    lingering = replace(CONFIG, drain_seconds=30.0, drain_linger_seconds=2.5, drain_poll_seconds=0.25)
    hooked = drain_orders_flow(shopify, netsuite, ledger, policy(), config=lingering, trigger=WEBHOOK_TRIGGER,
                               sleep=sleep)
    assert hooked.outcomes[gid].status == SKIPPED
    assert any(seen_while_draining)  # recorded while the drain still lingered, not only when it ended


def test_an_order_a_webhook_run_synced_within_its_second_is_not_read_again_by_the_poller(sandbox, wired):
    ledger = wired
    shopify, netsuite = shopify_client(sandbox), netsuite_client(sandbox)
    drain_orders_flow(shopify, netsuite, ledger, policy(), config=ONE_BATCH, trigger="sensor")  # the watermark
    time.sleep(1.0 - time.time() % 1.0)  # at the start of a second, so the webhook run reads within it
    (gid,) = _place(sandbox, 1)
    deadline = time.monotonic() + 5
    while not ledger.inbox_counts("orders/create").get("new", 0):
        assert time.monotonic() < deadline, "no orders/create delivery"
        time.sleep(0.01)
    hooked = drain_orders_flow(shopify, netsuite, ledger, policy(), config=ONE_BATCH, trigger=WEBHOOK_TRIGGER)
    assert hooked.outcomes[gid].status == SYNCED
    (order,) = shopify.get_orders([gid])
    assert parse_ts(ledger.get_entry(VERSIONS_FLOW, gid).payload_hash) >= parse_ts(order["updatedAt"])

    time.sleep(1.1)
    sandbox.control.reset_counters()
    polled = drain_orders_flow(shopify, netsuite, ledger, policy(), config=ONE_BATCH, trigger="sensor")
    assert polled.count(SYNCED) == 0 and BY_ID not in _calls(sandbox)  # its key only
    assert_exactly_once(netsuite, [gid])
