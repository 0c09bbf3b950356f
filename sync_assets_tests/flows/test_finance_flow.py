"""The finance flow against the sandbox over real HTTP: a day's NetSuite transactions and Shopify Payments
payouts landed with exact values, a re-run that adds nothing, and a tie-out that finds a planted difference."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import duckdb

from sync_assets.domain.finance import AMOUNT_DIFFERS, MISSING_IN_NETSUITE
from sync_assets.domain.ids import order_external_id
from sync_assets.flows.finance import (
    BALANCE_TRANSACTIONS,
    ORDERS,
    PAYOUTS,
    REFUND_DEPOSITS,
    TRANSACTIONS,
    run_finance_flow,
)
from sync_assets.flows.orders import run_orders_flow
from sync_assets_tests.flows.orders_support import (
    CONFIG,
    landing_at,
    ledger_at,
    merge_at,
    netsuite_client,
    policy,
    shopify_client,
)

TABLES = (TRANSACTIONS, REFUND_DEPOSITS, ORDERS, BALANCE_TRANSACTIONS, PAYOUTS)


def place_known_orders(sandbox) -> list[dict]:
    """Two orders of known value: #A paid 21.00 through Shopify Payments (2 × 10.50), #B unpaid (11.50)."""
    shopify = shopify_client(sandbox)
    skus = sandbox.control.catalog()["skus_sample"]
    placed = []
    for n, (qty, price, paid) in enumerate(((2, "10.50", True), (1, "11.50", False))):
        order = {
            "currency": "USD", "email": f"fin{n}@example.com",
            "customer": {"toUpsert": {"email": f"fin{n}@example.com", "firstName": "Fin", "lastName": f"N{n}"}},
            "lineItems": [{"sku": skus[n], "title": "Item", "quantity": qty,
                           "priceSet": {"shopMoney": {"amount": price, "currencyCode": "USD"}}}],
        }  # fmt: skip
        if paid:
            order["financialStatus"] = "PAID"
            order["transactions"] = [{"kind": "SALE", "status": "SUCCESS", "gateway": "shopify_payments",
                                      "amountSet": {"shopMoney": {"amount": "21.00", "currencyCode": "USD"}}}]
        placed.append(shopify.create_order(order))
    return placed


def _synced_day(sandbox, tmp_path) -> tuple[list[dict], object, object]:
    shopify, netsuite, ledger = shopify_client(sandbox), netsuite_client(sandbox), ledger_at(tmp_path)
    placed = place_known_orders(sandbox)
    run_orders_flow(shopify, netsuite, ledger, policy(), run_id="orders-1", config=CONFIG)
    time.sleep(1.1)  # Shopify stamps whole seconds: the refund in a later second than the run's watermark
    sandbox.control.refund_order(placed[0]["id"], "5.00")
    run_orders_flow(shopify, netsuite, ledger, policy(), run_id="orders-2", config=CONFIG)
    return placed, shopify, netsuite


def _raw_counts(path) -> dict[str, int]:
    with duckdb.connect(str(path)) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def test_a_day_lands_exact_values_ties_out_and_a_rerun_adds_nothing(sandbox, tmp_path):
    placed, shopify, netsuite = _synced_day(sandbox, tmp_path)
    today = datetime.now(timezone.utc).date()

    first = run_finance_flow(shopify, netsuite, landing_at(tmp_path), today, run_id="fin-1")

    assert first.landed == {TRANSACTIONS: 4, REFUND_DEPOSITS: 1, ORDERS: 2, BALANCE_TRANSACTIONS: 2, PAYOUTS: 1}
    assert first.tieout.ties_out, [d.as_dict() for d in first.tieout.differences]
    assert first.tieout.total_rows() == [
        {"kind": "deposit", "currency": "USD", "storefront_count": 1, "storefront_amount": "21.00",
         "netsuite_count": 1, "netsuite_amount": "21.00", "difference": "0.00"},
        {"kind": "refund", "currency": "USD", "storefront_count": 1, "storefront_amount": "5.00",
         "netsuite_count": 1, "netsuite_amount": "5.00", "difference": "0.00"},
        {"kind": "sales_order", "currency": "USD", "storefront_count": 2, "storefront_amount": "32.50",
         "netsuite_count": 2, "netsuite_amount": "32.50", "difference": "0.00"},
    ]  # fmt: skip
    warehouse = merge_at(tmp_path)
    with duckdb.connect(str(warehouse)) as conn:
        rows = conn.execute(
            "SELECT json_extract_string(payload, '$.type'), CAST(json_extract_string(payload, '$.foreigntotal') AS "
            "DECIMAL(18,2)), json_extract_string(payload, '$.currencyname'), json_extract_string(payload, "
            "'$.externalid') FROM raw.netsuite_transactions ORDER BY 1, 2").fetchall()
        charge, refund = (json.loads(p) for (p,) in conn.execute(
            "SELECT payload FROM raw.shopify_balance_transactions ORDER BY balance_transaction_id").fetchall())
        (payout,) = (json.loads(p) for (p,) in conn.execute("SELECT payload FROM raw.shopify_payouts").fetchall())
    legacy = placed[0]["id"].rsplit("/", 1)[1]
    # 2 sales orders, the deposit of #A's payment, its refund, and NetSuite's own... see below
    kinds = [(t, str(a), c) for t, a, c, _ in rows]
    assert ("CustDep", "21.00", "USD") in kinds and ("CustRfnd", "5.00", "USD") in kinds
    assert sorted(a for t, a, c in kinds if t == "SalesOrd") == ["11.50", "21.00"]
    assert f"shopify-order-{legacy}" in {eid for *_, eid in rows}
    # Shopify Payments: 2.9 % + 0.30 of 21.00 = 0.909 → 0.91; the refund carries no fee.
    assert (charge["type"], charge["amount"]["amount"], charge["fee"]["amount"], charge["net"]["amount"]) == \
        ("CHARGE", "21.00", "0.91", "20.09")
    assert (refund["type"], refund["amount"]["amount"], refund["net"]["amount"]) == ("REFUND", "-5.00", "-5.00")
    assert charge["associatedOrder"]["id"] == placed[0]["id"] == refund["associatedOrder"]["id"]
    assert (payout["id"], payout["status"], payout["net"]["amount"]) == \
        (charge["associatedPayout"]["id"], "SCHEDULED", "15.09")
    assert payout["summary"]["chargesFee"]["amount"] == "0.91"

    counts = _raw_counts(warehouse)
    again = run_finance_flow(shopify, netsuite, landing_at(tmp_path), today, run_id="fin-2")
    assert again.landed == first.landed and again.tieout.ties_out
    assert _raw_counts(merge_at(tmp_path)) == counts  # the second landing of the same day adds no version


def test_the_tie_out_lists_a_planted_difference(sandbox, tmp_path):
    placed, shopify, netsuite = _synced_day(sandbox, tmp_path)
    today = datetime.now(timezone.utc).date()
    # Planted through the control API: an order the orders flow has not synced yet, and a refund of #A
    # that NetSuite does not know about.
    [planted] = sandbox.control.place_orders(1, seed=3)
    sandbox.control.refund_order(placed[0]["id"], "1.00")

    result = run_finance_flow(shopify, netsuite, landing_at(tmp_path), today, run_id="fin-1")

    problems = {(d.kind, d.problem, d.external_id) for d in result.tieout.differences}
    assert ("sales_order", MISSING_IN_NETSUITE, order_external_id(planted["id"])) in problems
    refunds = [d for d in result.tieout.differences if d.kind == "refund"]
    assert [(d.problem, d.storefront, d.netsuite) for d in refunds] == [(MISSING_IN_NETSUITE, "1.00", None)]
    assert not result.tieout.ties_out and AMOUNT_DIFFERS not in {d.problem for d in result.tieout.differences}
