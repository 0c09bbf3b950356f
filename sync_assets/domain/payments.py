"""Successful Shopify captures → NetSuite ``customerDeposit`` bodies, one per transaction.

Only money that actually moved counts: ``SALE`` or ``CAPTURE`` with status ``SUCCESS``. An
``AUTHORIZATION`` is a promise, not a payment. Each deposit's external id is ``shopify-payment-<transaction id>``
so a re-delivered ``orders/paid`` upserts instead of duplicating.

Successful ``REFUND`` transactions become NetSuite ``customerRefund`` bodies paid out of those deposits (an
order billed by deposit only is refunded by a "Customer Refund against the deposit"), external id
``shopify-refund-<transaction id>``. A refund that cannot be mapped is rejected on its own: the order and
its deposits still sync.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sync_assets.domain.errors import MappingError
from sync_assets.domain.ids import checked_external_id, legacy_id, payment_external_id
from sync_assets.domain.money import cents, nodes, parse_amount, payload_hash
from sync_assets.domain.shop_days import shop_date

PAYMENT_KINDS = frozenset({"SALE", "CAPTURE"})
REFUND_KIND = "REFUND"


@dataclass(frozen=True)
class PaymentContext:
    customer_id: str
    currency_ids: Mapping[str, str]
    sales_order_id: str | None = None  # link the deposit to the SO when it is already known
    payment_method_map: Mapping[str, str] = field(default_factory=dict)  # gateway → paymentOption id
    account_id: str | None = None  # None: post to Undeposited Funds
    tran_date_timezone: str = "UTC"  # account.order_date_timezone: a deposit or refund is dated on the shop's day


@dataclass(frozen=True)
class DepositDraft:
    source_id: str  # transaction gid (or order gid when the transaction has no id)
    external_id: str
    body: dict
    payload_hash: str


@dataclass(frozen=True)
class RefundDraft:
    source_id: str  # refund transaction gid
    external_id: str
    deposit_external_id: str  # the deposit it is paid out of
    body: dict
    payload_hash: str


@dataclass(frozen=True)
class RefundRejected:
    """A refund that cannot be mapped: dead-lettered alone, with the reason and the field."""

    source_id: str
    transaction: Mapping
    error: MappingError


class DepositNotInNetSuite(Exception):
    """The deposit a refund is paid out of has no NetSuite id yet: the refund waits for a later run."""


def successful_payments(order: Mapping) -> list[tuple[int, Mapping]]:
    """(index, transaction) for the transactions that moved money."""
    return _successful(order, PAYMENT_KINDS)


def successful_refunds(order: Mapping) -> list[tuple[int, Mapping]]:
    """(index, transaction) for the refunds that moved money back."""
    return _successful(order, frozenset({REFUND_KIND}))


def _successful(order: Mapping, kinds: frozenset[str]) -> list[tuple[int, Mapping]]:
    result = []
    for index, txn in enumerate(nodes(order.get("transactions"))):
        if not isinstance(txn, Mapping):
            raise MappingError("transaction must be an object", f"transactions[{index}]")
        if str(txn.get("kind", "")).upper() in kinds and str(txn.get("status", "")).upper() == "SUCCESS":
            result.append((index, txn))
    return result


def refund_external_id(transaction_gid: object, field_path: str) -> str:
    return checked_external_id(f"shopify-refund-{legacy_id(transaction_gid, field_path)}")


def refunds_for_order(order: Mapping, ctx: PaymentContext, deposit_ids: Mapping[str, str], *,
                      deposits: Sequence[DepositDraft] | None = None) -> tuple[list[RefundDraft], list[RefundRejected]]:
    """One ``customerRefund`` body per successful refund, in transaction order, each applied to one deposit:
    its parent transaction's when that is a deposit, else the first with enough left. ``deposit_ids``: NetSuite
    id per deposit external id; ``deposits``: the order's deposit drafts when the caller has them already.
    Raises :class:`DepositNotInNetSuite` when the chosen deposit has none."""
    if deposits is None:
        deposits = deposits_for_order(order, ctx)
    left = {d.external_id: _decimal_cents(d.body["payment"]) for d in deposits}
    by_source = {d.source_id: d.external_id for d in deposits}
    drafts: list[RefundDraft] = []
    rejected: list[RefundRejected] = []
    for index, txn in successful_refunds(order):
        path = f"transactions[{index}]"
        source_id = str(txn.get("id") or f"{order.get('id')}#transactions[{index}]")
        try:
            draft = _refund(order, txn, path, ctx, left, by_source, deposit_ids)
        except MappingError as exc:
            rejected.append(RefundRejected(source_id, txn, exc))
            continue
        drafts.append(draft)
    return drafts, rejected


def _refund(order: Mapping, txn: Mapping, path: str, ctx: PaymentContext, left: dict[str, Decimal],
            by_source: Mapping[str, str], deposit_ids: Mapping[str, str]) -> RefundDraft:
    if not txn.get("id"):
        raise MappingError("a refund without a transaction id cannot be keyed", f"{path}.id")
    external_id = refund_external_id(txn["id"], f"{path}.id")
    shop = ((txn.get("amountSet") or {}).get("shopMoney")) or {}
    amount = parse_amount(shop.get("amount"), f"{path}.amountSet.shopMoney.amount")
    if amount <= 0:
        raise MappingError(f"refund amount must be positive, got {amount}", f"{path}.amountSet.shopMoney.amount")
    currency = shop.get("currencyCode") or order.get("currencyCode")
    if currency not in ctx.currency_ids:
        raise MappingError(f"currency {currency} is not supported", f"{path}.amountSet.shopMoney.currencyCode")
    parent = by_source.get(str((txn.get("parentTransaction") or {}).get("id")))
    candidates = [parent] if parent else list(left)
    deposit = next((eid for eid in candidates if left[eid] >= amount), None)
    if deposit is None:
        held = left[parent] if parent else sum(left.values(), Decimal("0.00"))
        what = f"deposit {parent}" if parent else "the order's deposits"
        raise MappingError(f"refund of {amount} {currency} is more than the {held} left on {what}",
                           f"{path}.amountSet.shopMoney.amount")
    if deposit not in deposit_ids:
        raise DepositNotInNetSuite(f"refund {external_id} waits for deposit {deposit} to reach NetSuite")
    left[deposit] -= amount  # what later refunds of this order can still take from it
    body: dict = {
        "externalId": external_id,
        "customer": {"id": ctx.customer_id},
        "currency": {"id": ctx.currency_ids[currency]},
        "tranDate": _date(txn, order, path, ctx.tran_date_timezone),
        "memo": f"Shopify {order.get('name') or order.get('id')} refund via {txn.get('gateway') or 'unknown gateway'}"[:999],
        "deposit": {"items": [{"doc": {"id": deposit_ids[deposit]}, "apply": True, "amount": cents(amount)}]},
    }
    method = ctx.payment_method_map.get(str(txn.get("gateway")))
    if method:
        body["paymentOption"] = {"id": method}
    return RefundDraft(str(txn["id"]), external_id, deposit, body, payload_hash(body))


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
            "tranDate": _date(txn, order, path, ctx.tran_date_timezone),
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


def _decimal_cents(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _date(txn: Mapping, order: Mapping, path: str, tz_name: str) -> str:
    """The shop-local day the money moved (the transaction's, else the order's processing or creation)."""
    value = txn.get("processedAt") or order.get("processedAt") or order.get("createdAt")
    return shop_date(value, tz_name, f"{path}.processedAt")
