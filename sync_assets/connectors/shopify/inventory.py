"""Locations, inventory levels by SKU, and compare-and-set inventory writes.

Quantities come back as ``{"available": n}`` per (item, location) so the domain layer never has to know
Shopify's ``quantities(names:)`` list shape. Only ``available`` is read: every quantity named costs a point
per level on every read (documents.py).
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Sequence

from . import documents as docs
from .errors import ShopifyUserError
from .paging import check_page_size, flatten_nested, paginate

if TYPE_CHECKING:
    from .client import ShopifyClient

log = logging.getLogger(__name__)

SKUS_PER_QUERY = 25
MAX_QUANTITIES_PER_CALL = 250  # Shopify's input array cap
_CONCURRENT_RETRIES = 5


def iter_locations(client: ShopifyClient, *, page_size: int = 100) -> Iterator[dict[str, Any]]:
    """Every location (active and inactive: a deactivated location still has history worth mapping)."""
    return paginate(client, docs.LOCATIONS_PAGE, {}, ("locations",), page_size=page_size)


def search_value(value: str) -> str:
    """A value quoted for Shopify search syntax; SKUs may contain quotes, backslashes and spaces."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _levels(item: dict[str, Any]) -> dict[str, Any]:
    """Reshape an item's drained ``inventoryLevels`` into ``levels: {location_id: {name: quantity}}``."""
    levels = {}
    for level in item.pop("inventoryLevels", None) or []:
        levels[level["location"]["id"]] = {q["name"]: q["quantity"] for q in level.get("quantities") or []}
    item["levels"] = levels
    return item


def inventory_by_sku(
    client: ShopifyClient, skus: Iterable[str], *, nested_page_size: int = 20
) -> dict[str, dict[str, Any]]:
    """Inventory items for these SKUs, keyed by SKU: ``{id, legacyResourceId, sku, tracked, updatedAt, levels}``.

    Shopify's ``sku:`` search is a search, not a lookup, so results are filtered to exact matches;
    SKUs Shopify does not know are simply absent from the result.
    """
    wanted = list(dict.fromkeys(s for s in skus if s))
    found: dict[str, dict[str, Any]] = {}
    follow_ups = {"inventoryLevels": (docs.INVENTORY_ITEM_LEVELS_PAGE, ("inventoryItem", "inventoryLevels"))}
    for i in range(0, len(wanted), SKUS_PER_QUERY):
        chunk = wanted[i : i + SKUS_PER_QUERY]
        query = " OR ".join(f"sku:{search_value(s)}" for s in chunk)
        variables = {"query": query, "nestedFirst": check_page_size(nested_page_size)}
        # One page per chunk of SKUs; 25 items × 20 levels stays under the 1000-point single-query limit.
        for item in paginate(client, docs.INVENTORY_ITEMS_PAGE, variables, ("inventoryItems",), page_size=SKUS_PER_QUERY):
            if item.get("sku") in chunk:
                found[item["sku"]] = _levels(flatten_nested(client, item, follow_ups))
    return found


def _check_quantity(i: int, q: Mapping[str, Any]) -> dict[str, Any]:
    missing = [k for k in ("inventoryItemId", "locationId", "quantity", "changeFromQuantity") if k not in q]
    if missing:
        # 2026-04+: omitting changeFromQuantity is an error; null is the explicit "no compare-and-set".
        raise ValueError(f"quantities[{i}] lacks {', '.join(missing)} (changeFromQuantity may be None, not absent)")
    if not isinstance(q["quantity"], int):
        raise ValueError(f"quantities[{i}].quantity must be an int, got {q['quantity']!r}")
    return {k: q[k] for k in ("inventoryItemId", "locationId", "quantity", "changeFromQuantity")}


def set_inventory_quantities(
    client: ShopifyClient,
    quantities: Sequence[Mapping[str, Any]],
    *,
    name: str = "available",
    reason: str = "correction",
    reference_document_uri: str | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """``inventorySetQuantities`` with compare-and-set; returns the ``inventoryAdjustmentGroup`` (None if no-op).

    Network failures are retried with the *same* idempotency key (Shopify replays the first result instead
    of applying twice). A stale ``changeFromQuantity`` raises :class:`ShopifyStaleQuantity`: re-read, then
    call again, which draws a *new* key. Pass ``idempotency_key`` to tie the write to a durable ledger entry.
    """
    if name not in ("available", "on_hand"):
        raise ValueError(f"inventory quantity name must be 'available' or 'on_hand', got {name!r}")
    if not quantities:
        raise ValueError("set_inventory_quantities needs at least one quantity")
    if len(quantities) > MAX_QUANTITIES_PER_CALL:
        raise ValueError(f"at most {MAX_QUANTITIES_PER_CALL} quantities per call, got {len(quantities)}")
    input_: dict[str, Any] = {
        "name": name,
        "reason": reason,
        "quantities": [_check_quantity(i, q) for i, q in enumerate(quantities)],
    }
    if reference_document_uri:
        input_["referenceDocumentUri"] = reference_document_uri
    variables = {"input": input_, "idempotencyKey": idempotency_key or str(uuid.uuid4())}
    for attempt in range(_CONCURRENT_RETRIES + 1):
        try:
            payload = client.mutate(docs.INVENTORY_SET_QUANTITIES, variables, "inventorySetQuantities", idempotent=True)
            return payload.get("inventoryAdjustmentGroup")
        except ShopifyUserError as exc:
            # The first attempt with this key is still running server-side (our own timed-out request):
            # wait for it rather than fail; the replay will carry its result.
            if exc.code != "IDEMPOTENCY_CONCURRENT_REQUEST" or attempt == _CONCURRENT_RETRIES:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")
