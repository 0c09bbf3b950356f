"""Fulfillment orders of an order, ``fulfillmentCreate`` with tracking, and ``fulfillmentTrackingInfoUpdate``.

fulfillmentCreate has no idempotency key: resending after a timeout could ship twice. The client therefore
does not resend it after an ambiguous failure (``ShopifyTransientError.maybe_applied``); the fulfillment
flow's ledger plus a re-read of ``remainingQuantity`` here decide whether the first attempt landed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

from . import documents as docs
from .errors import ShopifyIncompleteError
from .paging import check_page_size, dig, flatten_nested

if TYPE_CHECKING:
    from .client import ShopifyClient

_LINE_FOLLOW_UP = {"lineItems": (docs.FULFILLMENT_ORDER_LINE_ITEMS_PAGE, ("fulfillmentOrder", "lineItems"))}


# Sized so the query stays well under Shopify's 1000-point single-query limit (its cost is about
# first × nestedFirst); the rest of each fulfillment order's lines is drained by follow-up queries.
MAX_FULFILLMENT_ORDERS = 20
NESTED_PAGE = 5


def fulfillment_orders(client: ShopifyClient, order_id: str, *, nested_page_size: int = NESTED_PAGE) -> list[dict[str, Any]]:
    """All fulfillment orders of an order, each with its complete ``lineItems`` list."""
    data = client.execute(
        docs.ORDER_FULFILLMENT_ORDERS,
        {"id": order_id, "first": MAX_FULFILLMENT_ORDERS, "nestedFirst": check_page_size(nested_page_size)},
    )
    connection = dig(data, ("order", "fulfillmentOrders"), "fulfillmentOrders")
    if connection.get("pageInfo", {}).get("hasNextPage"):
        # That many fulfillment orders for one order means split shipments per line; refuse rather than truncate.
        raise ShopifyIncompleteError(f"order {order_id} has more than {MAX_FULFILLMENT_ORDERS} fulfillment orders")
    result = []
    for fo in connection.get("nodes") or []:
        result.append(flatten_nested(client, fo, _LINE_FOLLOW_UP, page_size=250))
    return result


def create_fulfillment(
    client: ShopifyClient,
    line_items_by_fulfillment_order: Sequence[Mapping[str, Any]],
    *,
    tracking: Mapping[str, Any] | None = None,
    notify_customer: bool = False,
    message: str | None = None,
) -> dict[str, Any]:
    """``fulfillmentCreate``; ``line_items_by_fulfillment_order`` is ``[{fulfillmentOrderId,
    fulfillmentOrderLineItems: [{id, quantity}]}]`` (an empty/absent list fulfils everything remaining).
    ``tracking`` is ``{company, number, url}``. Returns the created ``fulfillment``."""
    if not line_items_by_fulfillment_order:
        raise ValueError("create_fulfillment needs at least one fulfillment order")
    fulfillment: dict[str, Any] = {
        "lineItemsByFulfillmentOrder": [dict(x) for x in line_items_by_fulfillment_order],
        "notifyCustomer": notify_customer,
    }
    if tracking:
        fulfillment["trackingInfo"] = dict(tracking)
    variables: dict[str, Any] = {"fulfillment": fulfillment}
    if message:
        variables["message"] = message
    payload = client.mutate(docs.FULFILLMENT_CREATE, variables, "fulfillmentCreate", idempotent=False)
    return payload["fulfillment"]


def update_tracking(
    client: ShopifyClient,
    fulfillment_id: str,
    tracking: Mapping[str, Any],
    *,
    notify_customer: bool = False,
) -> dict[str, Any]:
    """``fulfillmentTrackingInfoUpdate``: replace a fulfillment's tracking with ``tracking``
    (``{company, number, url}`` or ``{company, numbers, urls}``). Returns the updated ``fulfillment``.

    Not resent after an ambiguous failure (the client's default for mutations): with ``notify_customer`` a
    second send is a second shipping email, so the caller re-reads the fulfillment instead. userErrors (an
    unknown fulfillment id...) raise :class:`~.errors.ShopifyUserError`."""
    if not tracking:
        raise ValueError("update_tracking needs tracking input (number(s), company or url)")
    variables = {"fulfillmentId": fulfillment_id, "trackingInfoInput": dict(tracking), "notifyCustomer": notify_customer}
    payload = client.mutate(docs.FULFILLMENT_TRACKING_INFO_UPDATE, variables, "fulfillmentTrackingInfoUpdate",
                            idempotent=False)
    return payload["fulfillment"]
