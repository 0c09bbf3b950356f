"""Shopify refunds → NetSuite customer refunds against the order's deposit, over real HTTP against the
sandbox: exactly once, partial refunds, an over-refund dead-lettered alone, and the sandbox's refund hook."""

from __future__ import annotations

import json
import time

import pytest

from sync_assets.domain.ids import order_external_id, payment_external_id
from sync_assets.domain.payments import refund_external_id
from sync_assets.flows.orders import REFUNDS_FLOW, SKIPPED, SYNCED, run_orders_flow
from sync_assets.sandbox.control_client import SandboxControlError
from sync_assets_tests.flows.orders_support import (
    CONFIG,
    assert_exactly_once,
    ledger_at,
    netsuite_client,
    place_orders,
    policy,
    shopify_client,
)  # fmt: skip
from sync_assets_tests.sandbox.test_server_webhooks import Receiver


def _run(sandbox, ledger, netsuite):
    return run_orders_flow(shopify_client(sandbox), netsuite, ledger, policy(), config=CONFIG)


def _refunds(netsuite, sale_gid: str) -> list[dict]:
    """The customer refunds paid out of this sale's deposit, in NetSuite (SuiteQL)."""
    deposit_eid = payment_external_id(sale_gid, "t")
    rows = netsuite.suiteql(
        "SELECT r.externalid, r.foreigntotal, d.externalid AS deposit FROM transaction r "
        "JOIN previoustransactionlinelink l ON l.nextdoc = r.id JOIN transaction d ON d.id = l.previousdoc "
        "WHERE r.type = 'CustRfnd' AND d.externalid = :dep ORDER BY r.id", {"dep": deposit_eid})
    return [{k: row[k] for k in ("externalid", "foreigntotal", "deposit")} for row in rows]


def _paid_order(sandbox) -> tuple[str, str, float]:
    (gid,) = place_orders(sandbox, 1)  # the first order placed is paid by one SALE
    order = shopify_client(sandbox).get_orders([gid])[0]
    (sale,) = order["transactions"]
    return gid, sale["id"], float(sale["amountSet"]["shopMoney"]["amount"])


def test_a_refunded_order_yields_one_deposit_and_one_refund_and_a_rerun_writes_nothing(sandbox, tmp_path):
    gid, sale, paid = _paid_order(sandbox)
    ledger, netsuite = ledger_at(tmp_path), netsuite_client(sandbox)
    first = _run(sandbox, ledger, netsuite)
    assert first.outcomes[gid].status == SYNCED and first.deposits_written == 1 and first.refunds_written == 0

    time.sleep(1.1)  # Shopify stamps whole seconds: refund in a later second than the run's watermark
    before = shopify_client(sandbox).get_orders([gid])[0]["updatedAt"]
    refunded = sandbox.control.refund_order(gid, f"{paid:.2f}")
    assert refunded["financial_status"] == "REFUNDED" and refunded["updated_at"] > before

    second = _run(sandbox, ledger, netsuite)
    assert second.outcomes[gid].status == SYNCED and second.numbers()["refunds_written"] == 1
    eid = refund_external_id(refunded["refund_id"], "t")
    assert _refunds(netsuite, sale) == [{"externalid": eid, "foreigntotal": f"{paid:g}",
                                        "deposit": payment_external_id(sale, "t")}]
    record = netsuite.get_record("customerRefund", f"eid:{eid}")
    assert record["total"] == paid and record["customer"]["id"] == second.outcomes[gid].customer_id
    assert ledger.get_entry(REFUNDS_FLOW, refunded["refund_id"]).status == "done"

    third = _run(sandbox, ledger, netsuite)
    assert third.outcomes[gid].status == SKIPPED and third.refunds_written == 0 and third.deposits_written == 0
    assert len(_refunds(netsuite, sale)) == 1
    assert_exactly_once(netsuite, [gid])


def test_two_partial_refunds_make_two_customer_refunds(sandbox, tmp_path):
    gid, sale, paid = _paid_order(sandbox)
    ledger, netsuite = ledger_at(tmp_path), netsuite_client(sandbox)
    _run(sandbox, ledger, netsuite)
    time.sleep(1.1)
    one = sandbox.control.refund_order(gid, "5.00")
    assert one["financial_status"] == "PARTIALLY_REFUNDED"
    assert _run(sandbox, ledger, netsuite).refunds_written == 1
    time.sleep(1.1)
    two = sandbox.control.refund_order(gid, "3.25")
    result = _run(sandbox, ledger, netsuite)
    assert result.refunds_written == 1  # the first refund is in the ledger: not written again
    assert [(r["externalid"], r["foreigntotal"]) for r in _refunds(netsuite, sale)] == [
        (refund_external_id(one["refund_id"], "t"), "5"), (refund_external_id(two["refund_id"], "t"), "3.25")]
    assert paid > 8.25


def test_an_over_refund_is_dead_lettered_with_the_reason_while_the_order_syncs(sandbox, tmp_path):
    gid, sale, paid = _paid_order(sandbox)
    over = sandbox.control.refund_order(gid, f"{paid + 10:.2f}", unchecked=True)  # more than Shopify would allow
    ledger, netsuite = ledger_at(tmp_path), netsuite_client(sandbox)
    result = _run(sandbox, ledger, netsuite)
    assert result.outcomes[gid].status == SYNCED and result.deposits_written == 1 and result.refunds_written == 0
    assert_exactly_once(netsuite, [gid])
    (dead,) = ledger.dead_letters(REFUNDS_FLOW)
    assert dead.source_id == over["refund_id"] and ledger.get_entry(REFUNDS_FLOW, over["refund_id"]).status == "dead"
    assert dead.field_path.endswith(".amountSet.shopMoney.amount") and f"more than the {paid:.2f} left" in dead.reason
    assert _refunds(netsuite, sale) == []
    assert netsuite.get_record("salesOrder", f"eid:{order_external_id(gid)}")["id"]


def test_the_sandbox_refuses_more_than_the_sale_holds_and_a_refund_fires_orders_updated(sandbox):
    gid, _, paid = _paid_order(sandbox)
    with pytest.raises(SandboxControlError, match="exceeds the amount available"):
        sandbox.control.refund_order(gid, f"{paid + 0.01:.2f}")
    assert [t["kind"] for t in shopify_client(sandbox).get_orders([gid])[0]["transactions"]] == ["SALE"]
    receiver = Receiver()
    try:
        sandbox.control.register_webhooks(receiver.url, ["orders/updated"])
        refund = sandbox.control.refund_order(gid, "1.00")
        headers, body = receiver.take()
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
    assert headers["x-shopify-topic"] == "orders/updated" and json.loads(body)["admin_graphql_api_id"] == gid
    (txn,) = [t for t in shopify_client(sandbox).get_orders([gid])[0]["transactions"] if t["kind"] == "REFUND"]
    assert txn["id"] == refund["refund_id"] and txn["status"] == "SUCCESS" and txn["parentTransaction"]["id"]
