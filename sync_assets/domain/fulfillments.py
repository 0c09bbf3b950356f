"""NetSuite item fulfillment (shipped) → Shopify ``fulfillmentCreate`` input.

Lines are matched by SKU against the order's open fulfillment orders, filling fulfillment-order lines in
the order Shopify lists them. The idempotency key is the NetSuite fulfillment id: one NetSuite
fulfillment creates at most one Shopify fulfillment, however often the sensor sees it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

from sync_assets.domain.errors import MappingError
from sync_assets.domain.money import nodes, payload_hash

OPEN_STATUSES = frozenset({"OPEN", "IN_PROGRESS"})
SHIPPED = "C"  # itemFulfillment shipStatus: A picked, B packed, C shipped (netsuite-rest.md §4.5)


@dataclass(frozen=True)
class FulfillmentContext:
    item_id_to_sku: Mapping[str, str]
    carrier_map: Mapping[str, str] = field(default_factory=dict)  # NetSuite shipMethod name → Shopify company
    notify_customer: bool = True


@dataclass(frozen=True)
class FulfillmentDraft:
    idempotency_key: str
    netsuite_fulfillment_id: str
    input: dict
    payload_hash: str


def is_shipped(fulfillment: Mapping) -> bool:
    status = fulfillment.get("shipStatus")
    status_id = status.get("id") if isinstance(status, Mapping) else status
    return status_id == SHIPPED


def tracking_numbers(fulfillment: Mapping) -> list[str]:
    numbers: list[str] = []
    for package in nodes(fulfillment.get("package")):
        number = (package.get("packageTrackingNumber") or "").strip()
        if number:
            numbers.append(number)
    linked = fulfillment.get("linkedTrackingNumbers") or ""
    numbers.extend(part for part in linked.replace(",", " ").split() if part)
    return list(OrderedDict.fromkeys(numbers))


def tracking_info(fulfillment: Mapping, ctx: FulfillmentContext) -> dict | None:
    """What Shopify should show as this fulfillment's tracking: ``{"numbers": [...], "company"?}``, or None
    when NetSuite has no tracking number yet."""
    numbers = tracking_numbers(fulfillment)
    if not numbers:
        return None
    tracking: dict = {"numbers": numbers}
    ship_method = (fulfillment.get("shipMethod") or {}).get("refName")
    company = ctx.carrier_map.get(ship_method) if ship_method else None
    if company:
        tracking["company"] = company
    return tracking


def tracking_version(tracking: Mapping | None) -> str:
    """Ledger hash of a tracking value. The numbers' order is not part of it: NetSuite lists packages in
    internal-id order, which says nothing about what changed."""
    if not tracking:
        return payload_hash({"numbers": []})
    return payload_hash({**tracking, "numbers": sorted(tracking.get("numbers") or [])})


def map_fulfillment(fulfillment: Mapping, fulfillment_orders: list[Mapping], ctx: FulfillmentContext) -> FulfillmentDraft:
    fulfillment_id = str(fulfillment.get("id") or "")
    if not fulfillment_id:
        raise MappingError("item fulfillment has no id", "id")
    wanted: OrderedDict[str, int] = OrderedDict()
    for index, line in enumerate(nodes(fulfillment.get("item"))):
        path = f"item.items[{index}]"
        if line.get("itemReceive") is False:
            continue
        item = line.get("item") or {}
        sku = ctx.item_id_to_sku.get(str(item.get("id")))
        if not sku:
            raise MappingError(f"NetSuite item {item.get('id')!r} on line {index + 1} has no storefront SKU", f"{path}.item")
        quantity = line.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, (int, float)) or quantity <= 0 or quantity != int(quantity):
            raise MappingError(f"quantity must be a positive whole number, got {quantity!r}", f"{path}.quantity")
        wanted[sku] = wanted.get(sku, 0) + int(quantity)
    if not wanted:
        raise MappingError("item fulfillment has no lines to fulfil", "item.items")

    per_order: OrderedDict[str, list[dict]] = OrderedDict()
    for fo in fulfillment_orders:
        if str(fo.get("status", "")).upper() not in OPEN_STATUSES:
            continue
        for fo_line in nodes(fo.get("lineItems")):
            sku = (fo_line.get("sku") or "").strip()
            remaining = int(fo_line.get("remainingQuantity") or 0)
            need = wanted.get(sku, 0)
            take = min(need, remaining)
            if take > 0:
                per_order.setdefault(str(fo["id"]), []).append({"id": fo_line["id"], "quantity": take})
                wanted[sku] = need - take
    short = {sku: qty for sku, qty in wanted.items() if qty > 0}
    if short:
        detail = ", ".join(f"{sku} × {qty}" for sku, qty in short.items())
        raise MappingError(f"no open fulfillment-order lines left for {detail}", "item.items")

    payload: dict = {
        "lineItemsByFulfillmentOrder": [
            {"fulfillmentOrderId": fo_id, "fulfillmentOrderLineItems": lines} for fo_id, lines in per_order.items()
        ],
        "notifyCustomer": ctx.notify_customer,
    }
    tracking = tracking_info(fulfillment, ctx)
    if tracking:
        payload["trackingInfo"] = tracking
    key = f"netsuite-fulfillment-{fulfillment_id}"
    return FulfillmentDraft(key, fulfillment_id, payload, payload_hash(payload))
