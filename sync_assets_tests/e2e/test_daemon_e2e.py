"""The product end to end, through a real ``dagster dev`` (webserver, daemon, code server, run processes),
the real webhook receiver and the sandbox, all in a temporary folder on free ports.

Storefront orders are placed with Admin GraphQL ``orderCreate``: one is synced by the polling sensor alone
(no webhooks registered), one by the webhook path alone (the orders sensor stopped), and the inventory
flow then carries NetSuite's quantities for the ordered SKU to the storefront. Only outcomes are asserted; the waits are give-up points, not budgets.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from sync_assets.connectors.shopify.orders import create_order, get_orders
from sync_assets.defs.lanes import FLOW_TAG, TRIGGER_TAG
from sync_assets.devstack import DevStack, RunInfo
from sync_assets.domain.ids import order_external_id
from sync_assets.flows import reference
from sync_assets.run_worker.launcher import PID_TAG
from sync_assets_tests.e2e.stack import (
    eventually,
    netsuite_available,
    sales_order,
    storefront_available,
)

pytestmark = pytest.mark.daemon


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    with DevStack(tmp_path_factory.mktemp("e2e"), webhooks=True,
                  realtime_sensors=("orders_sensor", "inventory_sensor")) as running:  # fmt: skip
        yield running


def _orders_runs_after(stack: DevStack, since: float) -> list[RunInfo]:
    return [r for r in stack.runs({FLOW_TAG: "orders"}) if r.created >= since]


_VARIANTS = "query { productVariants(first: 50) { nodes { id sku price } } }"


def _place_one(shopify, n: int) -> tuple[dict, float]:
    """A paid one-line order placed as a merchant's app would: Admin GraphQL ``orderCreate``, over HTTP."""
    variants = [v for v in shopify.execute(_VARIANTS)["productVariants"]["nodes"] if v.get("sku")]
    variant = variants[n % len(variants)]
    placed_at = time.time()
    created = create_order(shopify, {
        "email": f"e2e-{n}-{int(placed_at)}@example.com",
        "lineItems": [{"variantId": variant["id"], "quantity": 1}],
        "transactions": [{"kind": "SALE", "status": "SUCCESS",
                          "amountSet": {"shopMoney": {"amount": variant["price"], "currencyCode": "USD"}}}],
    })  # fmt: skip
    (order,) = get_orders(shopify, [created["id"]])
    return order, placed_at


def _assert_synced_once(stack: DevStack, netsuite, order: dict) -> None:
    eid = order_external_id(order["id"])
    found = eventually(stack, f"sales order {eid} in NetSuite", lambda: _dead(stack, order) or sales_order(netsuite, order["id"]))
    assert "dead_letter" not in found, f"order {eid} was dead-lettered: {found['dead_letter']}"
    assert Decimal(found["total"]) == Decimal(order["totalPriceSet"]["shopMoney"]["amount"])
    assert reference.count_by_external_id(netsuite, "SalesOrd", [eid]) == {eid: 1}


def _dead(stack: DevStack, order: dict) -> dict | None:
    letters = stack.ledger().dead_letters("orders", source_id=order["id"])
    return {"dead_letter": letters[0].reason} if letters else None


def _successful_run(stack: DevStack, since: float, trigger: str) -> list[RunInfo]:
    runs = _orders_runs_after(stack, since)
    return [r for r in runs if r.status == "SUCCESS" and r.tags.get(TRIGGER_TAG) == trigger]


def test_orders_reach_netsuite_by_polling_and_by_webhook_then_inventory_reaches_the_storefront(stack: DevStack) -> None:
    netsuite = stack.netsuite_client()
    shopify = stack.shopify_client()

    # 1. Polling only: nothing tells Dagster about the order but the orders sensor's own probe.
    stack.unregister_webhooks()
    polled, since = _place_one(shopify, 1)
    _assert_synced_once(stack, netsuite, polled)
    eventually(stack, "the sensor-triggered orders run to succeed", lambda: _successful_run(stack, since, "sensor"))
    assert all(r.tags.get(TRIGGER_TAG) == "sensor" for r in _orders_runs_after(stack, since))

    # 2. Webhook only: the sensor is off; the receiver's launcher must start the run through GraphQL.
    stack.set_sensor("orders_sensor", running=False)
    try:
        stack.register_webhooks()
        hooked, since = _place_one(shopify, 2)
        _assert_synced_once(stack, netsuite, hooked)
        eventually(stack, "the webhook-launched orders run to succeed",
                   lambda: _successful_run(stack, since, "webhook"))  # fmt: skip
        assert all(r.tags.get(TRIGGER_TAG) == "webhook" for r in _orders_runs_after(stack, since))
    finally:
        stack.set_sensor("orders_sensor", running=True)

    # 3. Inventory: NetSuite's numbers for the ordered SKU (committed by the sales order, then raised by a
    # receipt only NetSuite knows of) reach the storefront through the inventory sensor's runs.
    sku = next(line["sku"] for line in hooked["lineItems"] if line.get("sku"))
    locations = stack.control.catalog()["locations"]
    stack.control.receive_inventory(sku, locations[0]["key"], 7)

    def converged() -> dict | None:
        ns = netsuite_available(netsuite, sku)
        front = storefront_available(shopify, sku)
        pairs = {loc["name"]: (front.get(loc["shopify_id"]), ns.get(str(loc["netsuite_id"]))) for loc in locations}
        return pairs if all(a == b for a, b in pairs.values()) else None

    pairs = eventually(stack, f"storefront available of {sku} to equal NetSuite's", converged)
    assert any(b for _, b in pairs.values()), pairs  # the SKU is stocked somewhere: not a 0 == 0 pass
    failed = [r for r in stack.runs() if r.status == "FAILURE"]
    assert not failed, f"runs failed: {failed}\n{stack.logs()}"


def test_a_run_killed_mid_batch_is_failed_by_the_daemon_and_its_order_still_arrives_once(stack: DevStack) -> None:
    """SIGKILL the process of an orders run while NetSuite answers slowly: run monitoring (the launcher's
    pid health check) must fail the run, or its flow would count it in flight forever; a later run syncs
    the order, exactly once."""
    netsuite = stack.netsuite_client()
    shopify = stack.shopify_client()
    stack.control.set_faults("slow", service="netsuite", seconds=2.0)
    try:
        order, since = _place_one(shopify, 3)

        def running_run() -> RunInfo | None:
            runs = [r for r in _orders_runs_after(stack, since) if r.status == "STARTED" and PID_TAG in r.tags]
            return runs[0] if runs else None

        victim = eventually(stack, "an orders run in flight for the order", running_run)
        os.kill(int(victim.tags[PID_TAG]), signal.SIGKILL)
    finally:
        stack.control.clear_faults()

    def failed() -> RunInfo | None:
        (run,) = [r for r in stack.runs({FLOW_TAG: "orders"}) if r.run_id == victim.run_id]
        return run if run.status == "FAILURE" else None

    eventually(stack, f"the daemon to fail killed run {victim.run_id[:8]}", failed)
    _assert_synced_once(stack, netsuite, order)
