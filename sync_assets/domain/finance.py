"""The finance tie-out: a day of storefront orders and payments against what NetSuite booked for that day.

Pure functions over plain data (Shopify order dicts as the connector returns them, NetSuite SuiteQL rows
of ``FINANCE_TRANSACTIONS``). A business day is a calendar day in the shop's zone
(``account.order_date_timezone``), the same day the orders flow gives a sales order's ``tranDate``.

What ties out, per day:

* every storefront order created that day has exactly one NetSuite sales order dated that day, with the
  same total and currency, and every NetSuite sales order of ours dated that day is one of those orders;
* every successful storefront payment (sale, capture) and refund processed that day — of any order, placed
  that day or before: the **transactions of the day**, the definition the ``analytics.finance_tieout`` mart
  uses too — has its NetSuite customer deposit or customer refund, dated that day (the orders flow dates
  them on the shop's day), for the same amount.

Test orders and cancelled orders are storefront facts too: the orders flow syncs them, so they are compared
like any other. Each difference names the order, what differs and both sides' values.

Orders **in flight** — placed or changed on the storefront, not yet written to NetSuite by the real-time
lane — make differences too while the day is still going (today's partition, run through trading hours).
:func:`tieout_verdict` judges them with the grace rule reconciliation uses (:mod:`sync_assets.domain.healing`):
a document missing in NetSuite, or an amount or currency that differs, of an order whose latest version is
not synced yet (the caller knows that from the ledger) is *healing* for ``healing_seconds`` after the
storefront moment it stems from (the order's creation for its sales order, the transaction's processing for
a deposit or refund, the order's last update for an amount that differs); anything else is *blocking*.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sync_assets.domain.healing import Verdict, split_healing
from sync_assets.domain.ids import order_external_id, payment_external_id
from sync_assets.domain.payments import refund_external_id, successful_payments, successful_refunds
from sync_assets.domain.shop_days import day_bounds as day_window  # noqa: F401 - the finance flow's name for it
from sync_assets.domain.shop_days import local_day
from sync_assets.domain.windows import parse_ts

MISSING_IN_NETSUITE = "missing_in_netsuite"
ONLY_IN_NETSUITE = "only_in_netsuite"
DUPLICATED_IN_NETSUITE = "duplicated_in_netsuite"
AMOUNT_DIFFERS = "amount_differs"
CURRENCY_DIFFERS = "currency_differs"
ORDER_PREFIX = "shopify-order-"
_KINDS = {"SalesOrd": "sales_order", "CustDep": "deposit", "CustRfnd": "refund"}


def _processed_day(txn: Mapping, order: Mapping, tz_name: str) -> date | None:
    stamp = txn.get("processedAt") or order.get("processedAt")
    return local_day(stamp, tz_name) if stamp else None


def amount(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


@dataclass(frozen=True)
class Expected:
    """One document the storefront says NetSuite must hold for the day."""

    kind: str  # sales_order | deposit | refund
    external_id: str
    order_name: str
    amount: Decimal | None
    currency: str | None
    order_id: str = ""
    since: datetime | None = None  # the storefront moment the document stems from
    updated: datetime | None = None  # the order's last update


@dataclass(frozen=True)
class Difference:
    kind: str  # sales_order | deposit | refund
    problem: str  # MISSING_IN_NETSUITE | ONLY_IN_NETSUITE | DUPLICATED_IN_NETSUITE | AMOUNT_DIFFERS | CURRENCY_DIFFERS
    external_id: str
    order_name: str
    storefront: str | None
    netsuite: str | None
    order_id: str = ""  # the storefront order it is about ("" for a sales order only NetSuite has)
    since: datetime | None = None  # when the storefront side of it happened (see tieout_verdict)

    def as_dict(self) -> dict[str, str | None]:
        return {"kind": self.kind, "problem": self.problem, "external_id": self.external_id,
                "order": self.order_name, "storefront": self.storefront, "netsuite": self.netsuite,
                "order_id": self.order_id or None, "since": self.since.isoformat() if self.since else None}


@dataclass
class TieOut:
    day: date
    differences: list[Difference] = field(default_factory=list)
    # (kind, currency) -> [storefront count, storefront amount, NetSuite count, NetSuite amount]
    totals: dict[tuple[str, str], list] = field(default_factory=dict)

    @property
    def ties_out(self) -> bool:
        return not self.differences

    def _add(self, side: int, kind: str, currency: str | None, value: Decimal | None) -> None:
        row = self.totals.setdefault((kind, currency or "?"), [0, Decimal("0.00"), 0, Decimal("0.00")])
        row[side] += 1
        row[side + 1] += value or Decimal(0)

    def total_rows(self) -> list[dict[str, Any]]:
        return [{"kind": k, "currency": c, "storefront_count": sc, "storefront_amount": str(sa),
                 "netsuite_count": nc, "netsuite_amount": str(na), "difference": str(sa - na)}
                for (k, c), (sc, sa, nc, na) in sorted(self.totals.items())]


def _stamp(value: Any) -> datetime | None:
    return parse_ts(value) if value else None


def expected_documents(orders: Iterable[Mapping], day: date, tz_name: str,
                       others: Iterable[Mapping] = ()) -> list[Expected]:
    """What NetSuite must hold for ``day``: a sales order per order created that day (``orders``), a deposit
    or refund per transaction processed that day, of those orders or of ``others`` (orders placed before
    that may have a transaction of the day: updated since it began). An order given twice counts once."""
    out: list[Expected] = []
    created = {o["id"]: o for o in orders}
    for order in [*created.values(), *{o["id"]: o for o in others if o["id"] not in created}.values()]:
        name = str(order.get("name") or order.get("id"))
        ids = {"order_id": str(order["id"]), "updated": _stamp(order.get("updatedAt"))}
        if order["id"] in created:
            total = (order.get("totalPriceSet") or {}).get("shopMoney") or {}
            out.append(Expected("sales_order", order_external_id(order["id"]), name, amount(total.get("amount")),
                                total.get("currencyCode") or order.get("currencyCode"),
                                since=_stamp(order.get("createdAt")), **ids))
        for kind, pairs, eid in (("deposit", successful_payments(order), payment_external_id),
                                 ("refund", successful_refunds(order), refund_external_id)):
            for index, txn in pairs:
                if _processed_day(txn, order, tz_name) != day:
                    continue
                shop = (txn.get("amountSet") or {}).get("shopMoney") or {}
                out.append(Expected(kind, eid(txn["id"], f"transactions[{index}].id"), name,
                                    amount(shop.get("amount")), shop.get("currencyCode") or order.get("currencyCode"),
                                    since=_stamp(txn.get("processedAt") or order.get("processedAt")), **ids))
    return out


def tie_out(day: date, orders: Iterable[Mapping], netsuite_rows: Iterable[Mapping], tz_name: str,
            others: Iterable[Mapping] = ()) -> TieOut:
    """Compare the day's storefront orders and transactions (see :func:`expected_documents`) with the day's
    NetSuite transactions (``FINANCE_TRANSACTIONS`` rows)."""
    result = TieOut(day)
    booked: dict[str, list[Mapping]] = {}
    for row in netsuite_rows:
        kind = _KINDS.get(str(row.get("type")))
        if kind is None:
            continue
        if row.get("externalid"):
            booked.setdefault(str(row["externalid"]), []).append(row)
        result._add(2, kind, row.get("currencyname"), amount(row.get("foreigntotal")))
    expected = expected_documents(orders, day, tz_name, others)
    seen = set()
    for doc in expected:
        seen.add(doc.external_id)
        result._add(0, doc.kind, doc.currency, doc.amount)
        rows = booked.get(doc.external_id, [])
        ours = str(doc.amount) if doc.amount is not None else None
        if not rows:
            result.differences.append(Difference(doc.kind, MISSING_IN_NETSUITE, doc.external_id, doc.order_name, ours,
                                                 None, doc.order_id, doc.since))
            continue
        if len(rows) > 1:
            result.differences.append(Difference(doc.kind, DUPLICATED_IN_NETSUITE, doc.external_id, doc.order_name,
                                                 ours, ", ".join(str(r.get("tranid") or r.get("id")) for r in rows),
                                                 doc.order_id))
        theirs = amount(rows[0].get("foreigntotal"))
        if theirs != doc.amount:
            result.differences.append(Difference(doc.kind, AMOUNT_DIFFERS, doc.external_id, doc.order_name, ours,
                                                 str(theirs) if theirs is not None else None, doc.order_id,
                                                 doc.updated))
        if doc.currency and rows[0].get("currencyname") and rows[0]["currencyname"] != doc.currency:
            result.differences.append(Difference(doc.kind, CURRENCY_DIFFERS, doc.external_id, doc.order_name,
                                                 doc.currency, str(rows[0]["currencyname"]), doc.order_id,
                                                 doc.updated))
    # A sales order of ours dated this day whose order was not created this day (or not at all).
    for eid, rows in sorted(booked.items()):
        if eid in seen or not eid.startswith(ORDER_PREFIX) or _KINDS.get(str(rows[0].get("type"))) != "sales_order":
            continue
        result.differences.append(Difference("sales_order", ONLY_IN_NETSUITE, eid, str(rows[0].get("otherrefnum") or ""),
                                             None, str(amount(rows[0].get("foreigntotal")))))
    return result


# What an order in flight can explain: NetSuite lacking its document, or holding an older version of it.
IN_FLIGHT_PROBLEMS = frozenset({MISSING_IN_NETSUITE, AMOUNT_DIFFERS, CURRENCY_DIFFERS})


def tieout_verdict(tieout: TieOut, unsynced: Iterable[str], now: datetime,
                   healing_seconds: float) -> Verdict[Difference]:
    """The day's differences split into healing and blocking (see the module docstring); ``unsynced``: the
    ids of the storefront orders whose latest version the real-time lane has not written yet (and that are
    not dead-lettered: an operator owns those)."""
    in_flight = set(unsynced)

    def since(difference: Difference) -> datetime | None:
        explained = difference.problem in IN_FLIGHT_PROBLEMS and difference.order_id in in_flight
        return difference.since if explained else None

    return split_healing(tieout.differences, now, healing_seconds, since)
