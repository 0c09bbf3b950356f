"""Shopify Payments in the sandbox: balance transactions and payouts, derived from the orders' transactions.

What Shopify Payments does with a paid order, in the published shapes (``ShopifyPaymentsAccount.payouts``,
``.balanceTransactions``): every successful sale or capture through the ``shopify_payments`` gateway is a
``CHARGE`` balance transaction whose fee is taken before payout (the sandbox charges 2.9 % + 0.30, rounded
half up to the cent); every successful refund through it is a ``REFUND`` (negative amount, no fee). The
transactions of one UTC day and currency are paid out together by one payout, issued the next day at
10:00 UTC: ``SCHEDULED`` until then, ``PAID`` after; its ``net`` is the sum of the transactions' nets
and its ``summary`` their gross and fees by kind. The generator's paid orders go through
``shopify_payments``; orders paid through another gateway (``manual``, say) never reach Shopify Payments,
so they have no balance transaction.

Why UTC days, not the shop's: Shopify dates a payment for its pay period by the UTC calendar, whatever the
shop's zone (Shopify Help Center, "Getting paid with Shopify Payments" → Pay periods: the day an order is
placed is determined by the time it was placed in the UTC time zone;
https://help.shopify.com/manual/payments/shopify-payments/using-shopify-payments). The warehouse matches a
payout to deposits through its balance transactions (``associatedPayout``), never by date, so a payout's
UTC day and the finance partitions' shop days need not agree.

Derived at read time from the store (no state of its own), so a refund placed through the control API
shows up in the next read, and ids are stable: a balance transaction is numbered after the order
transaction it comes from, a payout after its day and currency.
"""

from __future__ import annotations

import zlib
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from .search import parse_datetime
from .store import Store, gid, iso, money, now_dt, parse_gid

GATEWAY = "shopify_payments"
FEE_RATE = Decimal("0.029")
FEE_FIXED = Decimal("0.30")
ISSUE_HOUR = 10  # UTC hour of the day after its transactions at which a payout is issued
_CENT = Decimal("0.01")
_KIND = {"SALE": "CHARGE", "CAPTURE": "CHARGE", "REFUND": "REFUND"}


def fee(amount: Decimal) -> Decimal:
    return (amount * FEE_RATE + FEE_FIXED).quantize(_CENT, rounding=ROUND_HALF_UP)


def payout_number(day: date, currency: str) -> int:
    return int(day.strftime("%Y%m%d")) * 1000 + zlib.crc32(currency.encode()) % 1000


def _issued_at(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(ISSUE_HOUR), tzinfo=timezone.utc)


def _status(day: date, now: datetime) -> str:
    return "PAID" if _issued_at(day) <= now else "SCHEDULED"


def balance_transactions(store: Store, now: datetime | None = None) -> list[dict]:
    """Every balance transaction of the account, oldest first (by order transaction id)."""
    now = now or now_dt()
    out = []
    with store.lock:
        orders = list(store.orders.values())
    for order in orders:
        for tx in order.get("transactions") or []:
            kind = _KIND.get(tx.get("kind"))
            if kind is None or tx.get("gateway") != GATEWAY or tx.get("status") != "SUCCESS":
                continue
            shop = tx["amountSet"]["shopMoney"]
            currency, gross = shop["currencyCode"], Decimal(shop["amount"])
            amount = gross if kind == "CHARGE" else -gross
            charge_fee = fee(gross) if kind == "CHARGE" else Decimal(0)
            processed = parse_datetime(tx.get("processedAt") or tx.get("createdAt"))
            day = processed.astimezone(timezone.utc).date()
            n = parse_gid(tx["id"], "OrderTransaction")
            payout = gid("ShopifyPaymentsPayout", payout_number(day, currency))
            out.append({
                "__typename": "ShopifyPaymentsBalanceTransaction",
                "id": gid("ShopifyPaymentsBalanceTransaction", n), "type": kind, "test": bool(tx.get("test")),
                "transactionDate": iso(processed), "amount": money(amount, currency),
                "fee": money(charge_fee, currency), "net": money(amount - charge_fee, currency),
                "sourceId": n, "sourceType": kind, "sourceOrderTransactionId": n,
                "associatedOrder": {"id": order["id"], "name": order["name"]},
                "associatedPayout": {"id": payout, "status": _status(day, now)},
                "_n": n, "_day": day, "_currency": currency, "_processed": processed,
            })
    out.sort(key=lambda b: b["_n"])
    return out


def payouts(store: Store, now: datetime | None = None) -> list[dict]:
    """One payout per UTC day and currency that had balance transactions, oldest first."""
    now = now or now_dt()
    groups: dict[tuple[date, str], list[dict]] = {}
    for b in balance_transactions(store, now):
        groups.setdefault((b["_day"], b["_currency"]), []).append(b)
    out = []
    for (day, currency), txs in sorted(groups.items()):
        def total(kind: str, field: str) -> Decimal:
            return sum((Decimal(b[field]["amount"]) for b in txs if b["type"] == kind), Decimal(0))

        net = sum((Decimal(b["net"]["amount"]) for b in txs), Decimal(0))
        n = payout_number(day, currency)
        zero = money(Decimal(0), currency)
        out.append({
            "__typename": "ShopifyPaymentsPayout", "id": gid("ShopifyPaymentsPayout", n), "legacyResourceId": str(n),
            "issuedAt": iso(_issued_at(day)), "status": _status(day, now), "net": money(net, currency),
            "transactionType": "DEPOSIT" if net >= 0 else "WITHDRAWAL",
            "summary": {
                "chargesGross": money(total("CHARGE", "amount"), currency),
                "chargesFee": money(total("CHARGE", "fee"), currency),
                "refundsFeeGross": money(total("REFUND", "amount"), currency),
                "refundsFee": money(total("REFUND", "fee"), currency),
                "adjustmentsGross": zero, "adjustmentsFee": zero,
            },
            "_n": n, "_issued": _issued_at(day), "_currency": currency,
        })
    return out


def payout(store: Store, n: int) -> dict | None:
    return next((p for p in payouts(store) if p["_n"] == n), None)


# search fields: name → getter over the derived record
BALANCE_FIELDS = {
    "processed_at": lambda b: b["_processed"],
    "payments_transfer_id": lambda b: str(parse_gid(b["associatedPayout"]["id"], "ShopifyPaymentsPayout")),
    "payout_status": lambda b: b["associatedPayout"]["status"].lower(),
    "transaction_type": lambda b: b["type"].lower(),
    "currency": lambda b: b["_currency"].lower(),
    "id": lambda b: b["_n"],
}
PAYOUT_FIELDS = {
    "issued_at": lambda p: p["_issued"],
    "status": lambda p: p["status"].lower(),
    "currency": lambda p: p["_currency"].lower(),
    "id": lambda p: p["_n"],
}
