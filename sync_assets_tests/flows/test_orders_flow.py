"""The orders flow end to end over real HTTP against the sandbox: arrival, idempotence, edits,
cancellations, bad input, and the webhook inbox path."""

from __future__ import annotations

import time

import duckdb

from sync_assets.connectors.shopify import ShopifyClient

from sync_assets.domain.ids import order_external_id, payment_external_id
from sync_assets.flows import reference
from sync_assets.flows.orders import DEAD, SKIPPED, SYNCED, run_orders_flow
from sync_assets.flows.orders_probe import probe_orders
from sync_assets_tests.flows.orders_support import (
    CONFIG, assert_exactly_once, place_orders, ledger_at, netsuite_client, policy, shopify_client, landing_at, merge_at,
)  # fmt: skip

ORDER_UPDATE = """
mutation OrderUpdate($input: OrderInput!) { orderUpdate(input: $input) { order { id updatedAt } userErrors { field message } } }
"""
ORDER_CANCEL = """
mutation OrderCancel($orderId: ID!, $reason: OrderCancelReason!, $restock: Boolean!) {
  orderCancel(orderId: $orderId, reason: $reason, restock: $restock) { orderCancelUserErrors { field message } }
}
"""


def _run(sandbox, tmp_path, **kw):
    ledger = kw.pop("ledger", None) or ledger_at(tmp_path)
    netsuite = kw.pop("netsuite", None) or netsuite_client(sandbox)
    return run_orders_flow(shopify_client(sandbox), netsuite, ledger, kw.pop("policy", None) or policy(),
                           config=kw.pop("config", CONFIG), **kw), netsuite, ledger


def test_orders_arrive_once_with_customers_and_deposits_and_a_rerun_changes_nothing(sandbox, tmp_path):
    gids = place_orders(sandbox, 4)
    result, netsuite, ledger = _run(sandbox, tmp_path, landing=landing_at(tmp_path))
    assert {gid: result.outcomes[gid].status for gid in gids} == dict.fromkeys(gids, SYNCED)
    assert_exactly_once(netsuite, gids)

    paid = {o["id"]: o for o in result.orders if o["displayFinancialStatus"] == "PAID"}
    assert len(paid) == 2
    assert result.customers_created == 3  # four orders, three buyers: the repeat buyer is matched, not duplicated
    payment_eids = [payment_external_id(t["id"], "t") for o in paid.values() for t in o["transactions"]]
    assert reference.count_by_external_id(netsuite, "CustDep", payment_eids) == dict.fromkeys(payment_eids, 1)
    for gid in gids:  # each sales order belongs to the customer of the order (matched by email here)
        record = netsuite.get_record("salesOrder", f"eid:{order_external_id(gid)}")
        assert record["entity"]["id"] == result.outcomes[gid].customer_id
    numbers = result.numbers()
    assert numbers["records_synced"] == 4 and numbers["netsuite_api_calls"] > 0 and numbers["lag_seconds_max"] > 0

    merge_at(tmp_path)

    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:
        landed = {r[0] for r in conn.execute("SELECT order_id FROM raw.shopify_orders").fetchall()}
        statuses = dict(conn.execute("SELECT source_id, status FROM raw.sync_events").fetchall())
    assert set(gids) <= landed and {statuses[g] for g in gids} == {SYNCED}

    assert probe_orders(shopify_client(sandbox), ledger, policy(), config=CONFIG) is None
    again, _, _ = _run(sandbox, tmp_path, ledger=ledger, netsuite=netsuite)
    assert {again.outcomes[g].status for g in gids} == {SKIPPED} and again.customers_created == 0
    assert_exactly_once(netsuite, gids)
    assert reference.count_by_external_id(netsuite, "CustDep", payment_eids) == dict.fromkeys(payment_eids, 1)


def test_an_edit_updates_the_sales_order_and_a_cancellation_closes_it(sandbox, tmp_path):
    edited, cancelled = place_orders(sandbox, 2)
    _, netsuite, ledger = _run(sandbox, tmp_path)
    time.sleep(1.1)  # Shopify stamps whole seconds: edit in a later second than the run's watermark
    shopify = shopify_client(sandbox)
    shopify.mutate(ORDER_UPDATE, {"input": {"id": edited, "email": "new.address@example.com"}}, "orderUpdate")
    shopify.mutate(ORDER_CANCEL, {"orderId": cancelled, "reason": "CUSTOMER", "restock": True}, "orderCancel",)
    assert probe_orders(shopify, ledger, policy(), config=CONFIG) is not None

    result, _, _ = _run(sandbox, tmp_path, ledger=ledger, netsuite=netsuite)
    assert result.outcomes[edited].status == SYNCED and result.outcomes[cancelled].status == SYNCED
    assert netsuite.get_record("salesOrder", f"eid:{order_external_id(edited)}")["email"] == "new.address@example.com"
    closed = netsuite.get_record("salesOrder", f"eid:{order_external_id(cancelled)}", expand=True)
    assert all(line["isClosed"] for line in closed["item"]["items"])
    totals = reference.sales_order_totals(netsuite, [order_external_id(cancelled)])
    assert totals[order_external_id(cancelled)]["status"] == "H"  # every line closed: the order is closed
    assert_exactly_once(netsuite, [edited, cancelled])


def _create(shopify, **order):
    base = {"currency": "USD", "email": "bad.input@example.com",
            "lineItems": [{"sku": "TEE-NOPE", "title": "Custom", "quantity": 1,
                           "priceSet": {"shopMoney": {"amount": "10.00", "currencyCode": "USD"}}}]}
    return shopify.create_order({**base, **order})["id"]


def test_bad_input_is_dead_lettered_with_a_reason_while_the_rest_syncs(sandbox, tmp_path, monkeypatch):
    shopify = shopify_client(sandbox)
    sku = sandbox.control.catalog()["skus_sample"][0]
    line = {"sku": sku, "title": "Ok", "quantity": 1, "priceSet": {"shopMoney": {"amount": "10.00", "currencyCode": "USD"}}}
    unknown_sku = _create(shopify)
    euro = _create(shopify, currency="EUR", lineItems=[{**line, "priceSet": {"shopMoney": {"amount": "10.00", "currencyCode": "EUR"}}}])
    anonymous = _create(shopify, email=None, lineItems=[line])
    zero_qty = _create(shopify, lineItems=[line])  # quantity turned to 0 on the way in, below
    huge = _create(shopify, lineItems=[{**line, "title": "Ünïcødé ☕ " + "x" * 5000}])
    good = place_orders(sandbox, 2)

    real_get = ShopifyClient.get_orders

    def zero_quantity(self, ids, **kwargs):  # Shopify refuses quantity 0 at checkout; a corrupt payload need not
        orders = real_get(self, ids, **kwargs)
        for order in orders:
            if order["id"] == zero_qty:
                order["lineItems"][0]["quantity"] = 0
        return orders

    monkeypatch.setattr(ShopifyClient, "get_orders", zero_quantity)
    result, netsuite, ledger = _run(sandbox, tmp_path)

    letters = {d.source_id: d for d in ledger.dead_letters(flow="orders")}
    assert set(letters) == {unknown_sku, euro, anonymous, zero_qty}
    assert "unknown SKU 'TEE-NOPE'" in letters[unknown_sku].reason and letters[unknown_sku].field_path == "lineItems.nodes[0].sku"
    assert "currency EUR is not supported" in letters[euro].reason and letters[euro].field_path == "currencyCode"
    assert "no default_customer for USD" in letters[anonymous].reason and letters[anonymous].field_path == "customer"
    assert "quantity must be positive" in letters[zero_qty].reason
    assert all(result.outcomes[g].status == DEAD for g in letters)
    # Text too long for NetSuite is cut (with a note), not refused; non-ASCII text goes through as is.
    assert result.outcomes[huge].status == SYNCED
    line_text = netsuite.get_record("salesOrder", f"eid:{order_external_id(huge)}", expand=True)["item"]["items"][0]
    assert line_text["description"].startswith("Ünïcødé ☕") and len(line_text["description"]) <= 999
    assert_exactly_once(netsuite, [*good, huge])

    # An unchanged bad order is not retried hot; a default customer (operator fix) lets the anonymous one through.
    again, _, _ = _run(sandbox, tmp_path, ledger=ledger, netsuite=netsuite, policy=policy(default_customer={"USD": "1"}))
    assert again.outcomes[unknown_sku].status == SKIPPED
    assert again.outcomes[anonymous].status == SYNCED
    assert netsuite.get_record("salesOrder", f"eid:{order_external_id(anonymous)}")["entity"]["id"] == "1"


def test_webhook_events_are_refetched_synced_and_acked(sandbox, tmp_path):
    gids = place_orders(sandbox, 2)
    ledger = ledger_at(tmp_path)
    # REST-shaped payloads carrying stale data: only the id is used, the order is re-read through GraphQL.
    ledger.inbox_put("e1", "orders/create", {"id": int(gids[0].rsplit("/", 1)[1]), "admin_graphql_api_id": gids[0], "total_price": "0.00"})
    ledger.inbox_put("e2", "orders/paid", {"admin_graphql_api_id": gids[1]})
    ledger.inbox_put("e3", "orders/updated", {"note": "no id at all"})
    # Polling sees nothing: the watermark is already past these orders, so only the inbox brings them.
    from datetime import datetime, timezone
    from sync_assets.domain.windows import Watermark
    ledger.advance_watermark("orders", Watermark(datetime.now(timezone.utc)))

    pending = probe_orders(shopify_client(sandbox), ledger, policy(), config=CONFIG)
    assert pending is not None and pending.inbox_events == 3
    result, netsuite, _ = _run(sandbox, tmp_path, ledger=ledger)
    assert {result.outcomes[g].status for g in gids} == {SYNCED}
    assert_exactly_once(netsuite, gids)
    assert ledger.inbox_counts() == {"acked": 3}
    assert [d.field_path for d in ledger.dead_letters(flow="orders")] == ["admin_graphql_api_id"]


def test_discounted_orders_post_with_the_policys_discount_item_and_totals_match(sandbox, tmp_path):
    # The sandbox's own order generator gives about a quarter of its orders a discount code.
    placed = sandbox.control.place_orders(16, seed=11)
    gids = [o["id"] for o in placed]
    result, netsuite, _ = _run(sandbox, tmp_path)
    discounted = [o for o in result.orders if float(o["totalDiscountsSet"]["shopMoney"]["amount"]) > 0]
    assert discounted, "the seeded stream should contain discounted orders"
    assert {result.outcomes[g].status for g in gids} == {SYNCED}
    totals = reference.sales_order_totals(netsuite, [order_external_id(o["id"]) for o in result.orders])
    for order in result.orders:
        expected = float(order["totalPriceSet"]["shopMoney"]["amount"])
        assert float(totals[order_external_id(order["id"])]["total"]) == expected, order["name"]


def test_a_discount_item_the_account_lacks_dead_letters_discounted_orders_with_the_reason(sandbox, tmp_path):
    placed = sandbox.control.place_orders(16, seed=11)
    result, _, ledger = _run(sandbox, tmp_path, policy=policy(discount_item="No Such Item"))
    dead = [o for o in result.outcomes.values() if o.status == DEAD]
    assert dead and all("discount item" in o.reason for o in dead)
    assert {o.status for o in result.outcomes.values()} <= {SYNCED, DEAD} and len(result.outcomes) == len(placed)
