"""Reading orders for the ERP: by ``updated_at`` window and by id, always complete.

Every order returned has its nested connections (``lineItems``, ``shippingLines``)
replaced by plain, complete lists — drained with follow-up queries when one nested page was not enough.
Money fields are MoneyBags (``{"shopMoney": {...}, "presentmentMoney": {...}}``) with string amounts.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from . import documents as docs
from .paging import check_page_size, flatten_nested, paginate

if TYPE_CHECKING:
    from .client import ShopifyClient

# Shopify charges a page's requested cost up front (≈ orders × nested page × line item cost) and refuses
# anything above 1000; 5 orders × 5 nested rows (about 880 points) stays under it. paginate() halves on
# MAX_COST_EXCEEDED; longer orders have their nested rows drained by follow-up queries.
DEFAULT_ORDERS_PAGE = 5
DEFAULT_NESTED_PAGE = 5
FOLLOW_UP_PAGE = 50
# nodes(ids:) is charged per id like a page of orders, so a batch is sized like DEFAULT_ORDERS_PAGE.
NODES_BATCH = DEFAULT_ORDERS_PAGE

ORDER_FOLLOW_UPS = {
    "lineItems": (docs.ORDER_LINE_ITEMS_PAGE, ("order", "lineItems")),
    "shippingLines": (docs.ORDER_SHIPPING_LINES_PAGE, ("order", "shippingLines")),
}


def utc_z(moment: datetime | str) -> str:
    """An explicit UTC ``...Z`` timestamp: naive times would be read in the shop's local zone."""
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"not an ISO-8601 timestamp: {moment!r}") from exc
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {moment.isoformat()} has no time zone; pass an aware datetime (UTC)")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def updated_between_query(start: datetime | str, end: datetime | str) -> str:
    """Half-open ``[start, end)`` search. Shopify may treat ``<`` like ``<=``, so callers dedupe on (id, updatedAt)."""
    return _between_query("updated_at", start, end)


def created_between_query(start: datetime | str, end: datetime | str) -> str:
    """Half-open ``[start, end)`` search on ``created_at``: the orders of a day, whenever they were edited."""
    return _between_query("created_at", start, end)


def _between_query(field: str, start: datetime | str, end: datetime | str) -> str:
    a, b = utc_z(start), utc_z(end)
    if a >= b:
        raise ValueError(f"empty order window: start {a} is not before end {b}")
    return f"{field}:>='{a}' AND {field}:<'{b}'"


def shop_timezone(client: ShopifyClient) -> str:
    """The shop's IANA time zone (``shop.ianaTimezone``)."""
    return client.execute(docs.SHOP_TIMEZONE, {})["shop"]["ianaTimezone"]


def complete_order(client: ShopifyClient, order: dict[str, Any]) -> dict[str, Any]:
    return flatten_nested(client, order, ORDER_FOLLOW_UPS, page_size=FOLLOW_UP_PAGE)


def iter_orders_updated_between(
    client: ShopifyClient,
    start: datetime | str,
    end: datetime | str,
    *,
    page_size: int = DEFAULT_ORDERS_PAGE,
    nested_page_size: int = DEFAULT_NESTED_PAGE,
) -> Iterator[dict[str, Any]]:
    """Complete orders with ``start <= updatedAt < end``, oldest update first, one page in memory at a time.

    Keep the window fixed while paging (cursors are only valid for the same query); an order updated during
    the scan moves past ``end`` and is picked up by the next window.
    """
    return _iter_orders(client, updated_between_query(start, end), page_size, nested_page_size)


def _iter_orders(client: ShopifyClient, query: str, page_size: int, nested_page_size: int) -> Iterator[dict[str, Any]]:
    variables = {"query": query, "nestedFirst": check_page_size(nested_page_size)}
    for order in paginate(client, docs.ORDERS_PAGE, variables, ("orders",), page_size=page_size):
        yield complete_order(client, order)


def iter_orders_created_between(
    client: ShopifyClient, start: datetime | str, end: datetime | str, *, page_size: int = DEFAULT_ORDERS_PAGE,
    nested_page_size: int = DEFAULT_NESTED_PAGE,
) -> Iterator[dict[str, Any]]:
    """Complete orders with ``start <= createdAt < end`` (a day's orders, whatever happened to them since)."""
    return _iter_orders(client, created_between_query(start, end), page_size, nested_page_size)


def get_orders(
    client: ShopifyClient, ids: Iterable[str], *, nested_page_size: int = DEFAULT_NESTED_PAGE
) -> list[dict[str, Any]]:
    """Complete orders for the given GIDs via ``nodes(ids:)``, in the order asked; unknown ids are skipped."""
    ids = list(ids)
    for gid in ids:
        if not isinstance(gid, str) or not gid.startswith("gid://shopify/Order/"):
            raise ValueError(f"not an order GID: {gid!r} (expected gid://shopify/Order/<id>)")
    found = []
    for i in range(0, len(ids), NODES_BATCH):
        data = client.execute(
            docs.ORDERS_BY_ID,
            {"ids": ids[i : i + NODES_BATCH], "nestedFirst": check_page_size(nested_page_size)},
        )
        for node in data.get("nodes") or []:
            if node and node.get("__typename", "Order") == "Order":
                found.append(complete_order(client, node))
    return found


def create_order(client: ShopifyClient, order: dict[str, Any], options: dict[str, Any] | None = None) -> dict[str, Any]:
    """``orderCreate`` (tests and benchmarks place orders with it); returns ``{id, legacyResourceId, name, ...}``.

    orderCreate has no idempotency key, so an ambiguous failure (timeout after sending, 5xx) is *not*
    resent: :class:`ShopifyTransientError` with ``maybe_applied=True`` is raised and the caller decides
    (e.g. look the order up by a unique ``sourceIdentifier`` before placing it again).
    """
    variables: dict[str, Any] = {"order": order}
    if options is not None:
        variables["options"] = options
    payload = client.mutate(docs.ORDER_CREATE, variables, "orderCreate", idempotent=False)
    return payload["order"]
