"""Shopify Payments for the finance flow: balance transactions of a time window and the payouts they belong to.

A balance transaction is one movement on the Shopify Payments balance (a charge with its fee, a refund);
its ``associatedPayout`` names the payout that pays it out (``SCHEDULED`` until issued, then ``PAID``).
Merchants reconcile bank deposits against payouts, and payouts against orders through these transactions.
The account is ``null`` on a shop without Shopify Payments: then there is nothing to read, not an error.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from . import documents as docs
from .orders import utc_z
from .paging import check_page_size, paginate

if TYPE_CHECKING:
    from .client import ShopifyClient

DEFAULT_PAGE = 100  # flat nodes: about 5 points each, so a page of 100 stays well under the 1000-point cap
NODES_BATCH = 100


def processed_between_query(start: datetime | str, end: datetime | str) -> str:
    a, b = utc_z(start), utc_z(end)
    if a >= b:
        raise ValueError(f"empty window: start {a} is not before end {b}")
    return f"processed_at:>='{a}' AND processed_at:<'{b}'"


def iter_balance_transactions(
    client: ShopifyClient, start: datetime | str, end: datetime | str, *, page_size: int = DEFAULT_PAGE
) -> Iterator[dict[str, Any]]:
    """Balance transactions processed in ``[start, end)``, one page in memory at a time."""
    variables = {"query": processed_between_query(start, end)}
    probe = client.execute(docs.BALANCE_TRANSACTIONS_PAGE, {**variables, "first": 1, "after": None})
    if probe.get("shopifyPaymentsAccount") is None:
        return
    yield from paginate(client, docs.BALANCE_TRANSACTIONS_PAGE, variables,
                        ("shopifyPaymentsAccount", "balanceTransactions"), page_size=check_page_size(page_size))


def get_payouts(client: ShopifyClient, ids: Iterable[str]) -> list[dict[str, Any]]:
    """Payouts by GID via ``nodes(ids:)``, in the order asked; unknown ids are skipped."""
    ids = sorted(set(ids))
    for gid in ids:
        if not isinstance(gid, str) or not gid.startswith("gid://shopify/ShopifyPaymentsPayout/"):
            raise ValueError(f"not a payout GID: {gid!r} (expected gid://shopify/ShopifyPaymentsPayout/<id>)")
    found = []
    for i in range(0, len(ids), NODES_BATCH):
        data = client.execute(docs.PAYOUTS_BY_ID, {"ids": ids[i : i + NODES_BATCH]})
        found += [n for n in data.get("nodes") or [] if n and n.get("__typename") == "ShopifyPaymentsPayout"]
    return found
