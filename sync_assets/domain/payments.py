"""Successful Shopify captures → NetSuite ``customerDeposit`` bodies, one per transaction.

Only money that actually moved counts: ``SALE`` or ``CAPTURE`` with status ``SUCCESS``. An
``AUTHORIZATION`` is a promise, not a payment; refunds are a separate flow. Each deposit's external id is
``shopify-payment-<transaction id>`` so a re-delivered ``orders/paid`` upserts instead of duplicating.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sync_assets.domain.errors import MappingError
from sync_assets.domain.ids import payment_external_id
from sync_assets.domain.money import cents, nodes, parse_amount, payload_hash

PAYMENT_KINDS = frozenset({"SALE", "CAPTURE"})


@dataclass(frozen=True)
class PaymentContext:
    customer_id: str
    currency_ids: Mapping[str, str]
    sales_order_id: str | None = None  # link the deposit to the SO when it is already known
    payment_method_map: Mapping[str, str] = field(default_factory=dict)  # gateway → paymentOption id
    account_id: str | None = None  # None: post to Undeposited Funds


@dataclass(frozen=True)
class DepositDraft:
    source_id: str  # transaction gid (or order gid when the transaction has no id)
    external_id: str
    body: dict
    payload_hash: str


def successful_payments(order: Mapping) -> list[tuple[int, Mapping]]:
    """(index, transaction) for the transactions that moved money."""
    result = []
    for index, txn in enumerate(nodes(order.get("transactions"))):
        if not isinstance(txn, Mapping):
            raise MappingError("transaction must be an object", f"transactions[{index}]")
        if str(txn.get("kind", "")).upper() in PAYMENT_KINDS and str(txn.get("status", "")).upper() == "SUCCESS":
            result.append((index, txn))
    return result


def deposits_for_order(order: Mapping, ctx: PaymentContext) -> list[DepositDraft]:
    payments = successful_payments(order)
    order_id = order.get("id")
    drafts = []
    for index, txn in payments:
        path = f"transactions[{index}]"
        if txn.get("id"):
            source_id, external_id = str(txn["id"]), payment_external_id(txn["id"], f"{path}.id")
        elif len(payments) == 1:
            source_id, external_id = str(order_id), payment_external_id(order_id, "id")
        else:
            raise MappingError("several payments without transaction ids cannot be keyed apart", f"{path}.id")
        shop = ((txn.get("amountSet") or {}).get("shopMoney")) or {}
        amount = parse_amount(shop.get("amount"), f"{path}.amountSet.shopMoney.amount")
        currency = shop.get("currencyCode") or order.get("currencyCode")
        if currency not in ctx.currency_ids:
            raise MappingError(f"currency {currency} is not supported", f"{path}.amountSet.shopMoney.currencyCode")
        body: dict = {
            "externalId": external_id,
            "customer": {"id": ctx.customer_id},
            "payment": cents(amount),
            "currency": {"id": ctx.currency_ids[currency]},
            "tranDate": _date(txn.get("processedAt") or order.get("processedAt") or order.get("createdAt"), path),
            "memo": f"Shopify {order.get('name') or order_id} via {txn.get('gateway') or 'unknown gateway'}"[:999],
        }
        if ctx.sales_order_id:
            body["salesOrder"] = {"id": ctx.sales_order_id}
        if ctx.account_id:
            body["account"] = {"id": ctx.account_id}
        else:
            body["undepFunds"] = True
        method = ctx.payment_method_map.get(str(txn.get("gateway")))
        if method:
            body["paymentOption"] = {"id": method}
        drafts.append(DepositDraft(source_id, external_id, body, payload_hash(body)))
    return drafts


def _date(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise MappingError(f"payment has no timestamp ({value!r})", f"{path}.processedAt")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        raise MappingError(f"timestamp {value!r} is not ISO 8601", f"{path}.processedAt") from None
