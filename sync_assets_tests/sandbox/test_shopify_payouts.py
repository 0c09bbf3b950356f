"""Shopify Payments in the sandbox: charges with their fee, refunds, payouts per day that go from SCHEDULED
to PAID, the search filters the finance flow uses, and payouts by node id — through the GraphQL documents
the connector sends (validated against the published schema in test_shopify_documents)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sync_assets.connectors.shopify import documents as docs
from sync_assets.sandbox.shopify import payouts
from sync_assets_tests.sandbox.shopify_helpers import Shop


def _paid(shop: Shop, gateway: str = "shopify_payments", **kw) -> dict:
    order = shop.order("TEE-S", qty=2, paid=True, **kw)  # 2 × 19.99 = 39.98
    record = shop.backend.store.orders[int(order["id"].rsplit("/", 1)[1])]
    for tx in record["transactions"]:
        tx["gateway"] = gateway
    return order


def _balance(shop: Shop, query: str) -> list[dict]:
    data = shop.gql(docs.BALANCE_TRANSACTIONS_PAGE, {"first": 50, "query": query})["data"]
    return data["shopifyPaymentsAccount"]["balanceTransactions"]["nodes"]


def test_charges_refunds_and_the_payout_of_their_day():
    shop = Shop()
    order = _paid(shop)
    _paid(shop, gateway="manual")  # not Shopify Payments: no balance transaction
    shop.backend.refund_order(order["id"], "10.00")
    today = datetime.now(timezone.utc).date()
    window = f"processed_at:>='{today}T00:00:00Z' AND processed_at:<'{today + timedelta(days=1)}T00:00:00Z'"

    charge, refund = _balance(shop, window)
    # 2.9 % + 0.30 of 39.98 = 1.459… → 1.46
    assert (charge["type"], charge["amount"]["amount"], charge["fee"]["amount"], charge["net"]["amount"]) == \
        ("CHARGE", "39.98", "1.46", "38.52")
    assert (refund["type"], refund["amount"]["amount"], refund["fee"]["amount"]) == ("REFUND", "-10.00", "0.00")
    assert charge["associatedOrder"] == {"id": order["id"], "name": order["name"]}
    payout_id = charge["associatedPayout"]["id"]
    assert refund["associatedPayout"] == {"id": payout_id, "status": "SCHEDULED"}
    assert _balance(shop, f"processed_at:>='{today + timedelta(days=1)}T00:00:00Z'") == []
    assert len(_balance(shop, f"payments_transfer_id:{payout_id.rsplit('/', 1)[1]}")) == 2

    [payout] = shop.gql(docs.PAYOUTS_BY_ID, {"ids": [payout_id, "gid://shopify/ShopifyPaymentsPayout/1"]})["data"]["nodes"][:1]
    assert (payout["status"], payout["net"]["amount"], payout["transactionType"]) == ("SCHEDULED", "28.52", "DEPOSIT")
    assert payout["summary"]["chargesGross"]["amount"] == "39.98"
    assert payout["summary"]["refundsFeeGross"]["amount"] == "-10.00"
    assert datetime.fromisoformat(payout["issuedAt"].replace("Z", "+00:00")) == \
        datetime.combine(today + timedelta(days=1), datetime.min.time(), timezone.utc) + timedelta(hours=10)

    later = datetime.now(timezone.utc) + timedelta(days=2)
    [paid] = payouts.payouts(shop.backend.store, now=later)
    assert (paid["id"], paid["status"]) == (payout_id, "PAID")
