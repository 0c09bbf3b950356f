"""Pushing products from the ERP with ``productSet``.

productSet has set semantics: the input *is* the product (list fields such as variants are replaced, missing
entries deleted), keyed by ``identifier`` (id, handle or a custom-id metafield). Sending the same input twice
leaves the same product, so a resend after an ambiguous failure is safe and the client retries it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Mapping

from . import documents as docs
from .paging import flatten_nested, paginate

if TYPE_CHECKING:
    from .client import ShopifyClient

_VARIANT_FOLLOW_UP = {"variants": (docs.PRODUCT_VARIANTS_PAGE, ("product", "variants"))}
VARIANT_PAGE_SIZE = 250


def product_set(
    client: ShopifyClient,
    product: Mapping[str, Any],
    *,
    identifier: Mapping[str, Any] | None = None,
    synchronous: bool = True,
) -> dict[str, Any]:
    """Create or replace one product; returns ``product`` (variants as a complete list) or, when
    ``synchronous=False``, ``productSetOperation`` to poll."""
    variables: dict[str, Any] = {"input": dict(product), "synchronous": synchronous}
    if identifier is not None:
        variables["identifier"] = dict(identifier)
    payload = client.mutate(docs.PRODUCT_SET, variables, "productSet", idempotent=True)
    result = payload.get("product")
    if result is None:
        return {"productSetOperation": payload.get("productSetOperation")}
    return flatten_nested(client, result, _VARIANT_FOLLOW_UP, page_size=250)


def product_by_handle(client: ShopifyClient, handle: str) -> dict[str, Any] | None:
    """The product with exactly this handle, ``variants`` as the complete list (cursor-paged past 250:
    a productSet built from a truncated list would delete the variants the first page did not hold)."""
    data = client.execute(docs.PRODUCT_BY_HANDLE, {"query": f"handle:{json.dumps(handle)}", "first": VARIANT_PAGE_SIZE})
    nodes = ((data.get("products") or {}).get("nodes")) or []
    node = next((n for n in nodes if n.get("handle") == handle), None)
    return None if node is None else flatten_nested(client, node, _VARIANT_FOLLOW_UP, page_size=VARIANT_PAGE_SIZE)


def product_by_id(client: ShopifyClient, product_id: str) -> dict[str, Any] | None:
    """The product with this id (variants complete, as :func:`product_by_handle`), or None if it is gone."""
    node = client.execute(docs.PRODUCT_BY_ID, {"id": product_id, "first": VARIANT_PAGE_SIZE}).get("product")
    return None if node is None else flatten_nested(client, node, _VARIANT_FOLLOW_UP, page_size=VARIANT_PAGE_SIZE)


def stocked_location_ids(client: ShopifyClient, inventory_item_id: str) -> list[str]:
    """Locations where an inventory item is stocked (productSet may set quantities only there)."""
    return [level["location"]["id"] for level in paginate(
        client, docs.INVENTORY_ITEM_LEVELS_PAGE, {"id": inventory_item_id}, ("inventoryItem", "inventoryLevels"),
        page_size=50)]
