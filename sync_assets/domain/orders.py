"""Shopify order (Admin GraphQL node) → NetSuite REST ``salesOrder`` body.

Money model (so the NetSuite total equals Shopify's ``totalPriceSet``): item lines carry the *original*
unit price; every discount (line-level and order-level, ``totalDiscountsSet``) goes on one line of the
discount item as a negative amount; shipping goes to ``shippingCost``; tax either goes on a line of a tax
item (``MappingContext.tax_item_id``) or is left to NetSuite's own tax engine (``None``). Without a discount
item, line-level discounts are folded into the rates instead and an order-level discount is an error —
silently dropping it would make the two systems' totals disagree.

Quantities are ``currentQuantity`` (after order edits and removals) when present. Lines an edit removed
entirely are left out and noted; the connector must therefore upsert with ``replace=item`` so that NetSuite
drops them too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from sync_assets.domain.errors import MappingError
from sync_assets.domain.ids import legacy_id, order_external_id
from sync_assets.domain.money import cents, money_bag, nodes, payload_hash, rate_number, truncate
from sync_assets.domain.shop_days import shop_date

# NetSuite text-field lengths. Only tranId's 45 is documented in the record browser (salesOrder.json);
# the others are the UI limits commonly reported for these fields, kept conservative on purpose: a value
# cut here with a note beats a whole order refused by NetSuite.
FIELD_LIMITS: Mapping[str, int] = {
    "otherRefNum": 45,
    "memo": 999,
    "email": 254,
    "description": 999,
    "addressee": 150,
    "addr": 150,
    "city": 50,
    "state": 30,
    "zip": 36,
    "addrPhone": 32,
}


@dataclass(frozen=True)
class MappingContext:
    """Everything the mapping needs beyond the order itself, resolved beforehand by the caller."""

    sku_to_item: Mapping[str, str]
    currency_ids: Mapping[str, str]  # ISO currency code → NetSuite currency internal id
    customer_id: str | None  # NetSuite customer internal id, already resolved (or the market's default)
    location_map: Mapping[str, str] = field(default_factory=dict)  # Shopify location gid/name → NetSuite id
    default_location_id: str | None = None
    shipping_method_map: Mapping[str, str] = field(default_factory=dict)  # shipping line title → shipItem id
    discount_item_id: str | None = None
    tax_item_id: str | None = None  # None: NetSuite computes tax itself
    subsidiary_id: str | None = None
    tran_date_timezone: str = "UTC"  # the day an order belongs to is a business decision, not UTC's


@dataclass(frozen=True)
class SalesOrderDraft:
    source_id: str  # Shopify order gid
    external_id: str
    body: dict
    payload_hash: str
    updated_at: str | None
    is_cancellation: bool
    notes: tuple[str, ...] = ()


def map_order_to_sales_order(order: Mapping, ctx: MappingContext) -> SalesOrderDraft:
    """Map one order; raises ``MappingError(reason, field_path)`` when the order cannot be represented."""
    if not isinstance(order, Mapping):
        raise MappingError(f"order must be an object, got {type(order).__name__}", None)
    notes: list[str] = []
    source_id = order.get("id")
    external_id = order_external_id(source_id if source_id is not None else order.get("legacyResourceId"))
    name = _text(order, "name") or f"#{legacy_id(source_id, 'id')}"
    currency = _text(order, "currencyCode")
    if not currency:
        raise MappingError("order has no currencyCode", "currencyCode")
    if currency not in ctx.currency_ids:
        raise MappingError(
            f"currency {currency} is not supported (configured: {', '.join(sorted(ctx.currency_ids)) or 'none'})",
            "currencyCode",
        )
    if not ctx.customer_id:
        email = _order_email(order)
        detail = f"no NetSuite customer was resolved for {email}" if email else "order has no customer and no email"
        raise MappingError(detail, "customer")

    cancelled = order.get("cancelledAt") is not None
    lines, line_discount_total = _item_lines(order, ctx, currency, notes, closed=cancelled)
    total_discount = money_bag(order, "totalDiscountsSet", "", currency=currency, required=False)
    if total_discount is None:
        total_discount = line_discount_total
    order_level_discount = total_discount - line_discount_total
    if ctx.discount_item_id:
        if total_discount > 0:
            lines.append(_adjustment_line(ctx.discount_item_id, -total_discount, "Shopify discounts", cancelled))
    else:
        _fold_line_discounts_into_rates(lines)
        if order_level_discount > 0:
            raise MappingError(
                f"order-level discount {order_level_discount} {currency} needs a NetSuite discount item "
                "(set discount_item_id)",
                "totalDiscountsSet",
            )
    tax = _tax_total(order, currency)
    if tax > 0 and ctx.tax_item_id:
        if order.get("taxesIncluded"):
            notes.append("taxes are included in line prices; no separate tax line")
        else:
            titles = ", ".join(str(t.get("title")) for t in nodes(order.get("taxLines")) if t.get("title"))
            lines.append(_adjustment_line(ctx.tax_item_id, tax, f"Tax: {titles}" if titles else "Tax", cancelled))

    body: dict = {
        "externalId": external_id,
        "entity": {"id": ctx.customer_id},
        "tranDate": _tran_date(order, ctx.tran_date_timezone),
        "currency": {"id": ctx.currency_ids[currency]},
        "otherRefNum": truncate(name, FIELD_LIMITS["otherRefNum"], "otherRefNum", notes),
        "memo": truncate(f"Shopify order {name}", FIELD_LIMITS["memo"], "memo", notes),
        "shippingCost": cents(_shipping_total(order, currency)),
        "item": {"items": [line for line, _ in lines]},
    }
    location_id = _location_id(order, ctx)
    if location_id:
        body["location"] = {"id": location_id}
    if ctx.subsidiary_id:
        body["subsidiary"] = {"id": ctx.subsidiary_id}
    email = _order_email(order)
    if email:
        body["email"] = truncate(email, FIELD_LIMITS["email"], "email", notes)
    ship_method = _ship_method(order, ctx)
    if ship_method:
        body["shipMethod"] = {"id": ship_method}
    address = _shipping_address(order.get("shippingAddress"), notes)
    if address:
        body["shippingAddress"] = address

    return SalesOrderDraft(
        source_id=str(source_id),
        external_id=external_id,
        body=body,
        payload_hash=payload_hash(body),
        updated_at=order.get("updatedAt"),
        is_cancellation=cancelled,
        notes=tuple(notes),
    )


def _text(container: Mapping, key: str) -> str | None:
    value = container.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MappingError(f"{key} must be text, got {type(value).__name__}", key)
    return value


def _order_email(order: Mapping) -> str | None:
    customer = order.get("customer") or {}
    candidates = [
        order.get("email"),
        customer.get("email"),
        (customer.get("defaultEmailAddress") or {}).get("emailAddress"),
    ]
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return None


def _quantity(line: Mapping, path: str) -> tuple[int, int]:
    """(ordered, current) quantities; current defaults to ordered when the API did not send it."""
    ordered = line.get("quantity")
    if isinstance(ordered, bool) or not isinstance(ordered, int):
        raise MappingError(f"quantity must be a whole number, got {ordered!r}", f"{path}.quantity")
    if ordered <= 0:
        raise MappingError(f"quantity must be positive, got {ordered}", f"{path}.quantity")
    current = line.get("currentQuantity", ordered)
    if current is None:
        current = ordered
    if isinstance(current, bool) or not isinstance(current, int) or current < 0:
        raise MappingError(f"currentQuantity must be a whole number ≥ 0, got {current!r}", f"{path}.currentQuantity")
    return ordered, current


def resolve_item_id(sku: str, sku_to_item: Mapping[str, str]) -> str | None:
    """SKU → item id. Exact match after trimming whitespace first; a case-insensitive match only when it is
    unambiguous (SKU case/whitespace drift is a top cause of failed imports, landscape §5.3)."""
    key = sku.strip()
    if key in sku_to_item:
        return sku_to_item[key]
    folded = [item for candidate, item in sku_to_item.items() if candidate.strip().casefold() == key.casefold()]
    return folded[0] if len(set(folded)) == 1 else None


def _item_lines(
    order: Mapping, ctx: MappingContext, currency: str, notes: list[str], *, closed: bool
) -> tuple[list[tuple[dict, Decimal]], Decimal]:
    """Item lines paired with their per-unit line-level discount, and the total line-level discount."""
    raw_lines = order.get("lineItems")
    if raw_lines is None:
        raise MappingError("order has no lineItems", "lineItems")
    lines: list[tuple[dict, Decimal]] = []
    discount_total = Decimal(0)
    for index, line in enumerate(nodes(raw_lines)):
        path = f"lineItems.nodes[{index}]"
        if not isinstance(line, Mapping):
            raise MappingError("line item must be an object", path)
        ordered, current = _quantity(line, path)
        sku = line.get("sku")
        label = line.get("name") or sku or f"line {index + 1}"
        if current == 0 and not closed:
            notes.append(f"line {index + 1} ({label}) was removed by an order edit")
            continue
        if not isinstance(sku, str) or not sku.strip():
            raise MappingError(f"line {index + 1} ({label}) has no SKU", f"{path}.sku")
        item_id = resolve_item_id(sku, ctx.sku_to_item)
        if item_id is None:
            raise MappingError(f"unknown SKU {sku!r} on line {index + 1} ({label}): no NetSuite item", f"{path}.sku")
        original = money_bag(line, "originalUnitPriceSet", path, currency=currency)
        discounted = money_bag(line, "discountedUnitPriceSet", path, currency=currency, required=False)
        unit_discount = max(Decimal(0), original - discounted) if discounted is not None else Decimal(0)
        quantity = current if current > 0 else ordered  # a cancelled order keeps its lines, closed
        discount_total += unit_discount * quantity
        body_line = {
            "item": {"id": item_id},
            "quantity": quantity,
            "rate": rate_number(original),
            "amount": cents(original * quantity),
            "description": truncate(str(label), FIELD_LIMITS["description"], f"line {index + 1} description", notes),
        }
        if closed:
            body_line["isClosed"] = True
        lines.append((body_line, unit_discount))
    if not lines:
        raise MappingError("order has no line items left to send", "lineItems")
    return lines, discount_total


def _fold_line_discounts_into_rates(lines: list[tuple[dict, Decimal]]) -> None:
    for body_line, unit_discount in lines:
        if unit_discount > 0:
            rate = Decimal(str(body_line["rate"])) - unit_discount
            body_line["rate"] = rate_number(rate)
            body_line["amount"] = cents(rate * body_line["quantity"])


def _adjustment_line(item_id: str, amount: Decimal, description: str, closed: bool) -> tuple[dict, Decimal]:
    line = {"item": {"id": item_id}, "quantity": 1, "rate": cents(amount), "amount": cents(amount),
            "description": description[: FIELD_LIMITS["description"]]}
    if closed:
        line["isClosed"] = True
    return line, Decimal(0)


def _shipping_total(order: Mapping, currency: str) -> Decimal:
    total = Decimal(0)
    for index, line in enumerate(nodes(order.get("shippingLines"))):
        total += money_bag(line, "originalPriceSet", f"shippingLines.nodes[{index}]", currency=currency)
    return total


def _tax_total(order: Mapping, currency: str) -> Decimal:
    total = money_bag(order, "totalTaxSet", "", currency=currency, required=False)
    if total is not None:
        return total
    return sum(
        (money_bag(t, "priceSet", f"taxLines[{i}]", currency=currency) for i, t in enumerate(nodes(order.get("taxLines")))),
        Decimal(0),
    )


def _tran_date(order: Mapping, tz_name: str) -> str:
    return shop_date(order.get("createdAt"), tz_name, "createdAt")


def _location_id(order: Mapping, ctx: MappingContext) -> str | None:
    for key in ("retailLocation", "physicalLocation"):
        location = order.get(key) or {}
        for ref in (location.get("id"), location.get("name")):
            if ref and ref in ctx.location_map:
                return ctx.location_map[ref]
    return ctx.default_location_id


def _ship_method(order: Mapping, ctx: MappingContext) -> str | None:
    for line in nodes(order.get("shippingLines")):
        title = line.get("title")
        if title in ctx.shipping_method_map:
            return ctx.shipping_method_map[title]
    return None


def _shipping_address(address: Mapping | None, notes: list[str]) -> dict | None:
    if not address:
        return None
    limits = FIELD_LIMITS
    name = address.get("name") or " ".join(p for p in (address.get("firstName"), address.get("lastName")) if p)
    fields = {
        "addressee": (name, limits["addressee"]),
        "addr1": (address.get("address1"), limits["addr"]),
        "addr2": (address.get("address2"), limits["addr"]),
        "city": (address.get("city"), limits["city"]),
        "state": (address.get("provinceCode") or address.get("province"), limits["state"]),
        "zip": (address.get("zip"), limits["zip"]),
        "addrPhone": (address.get("phone"), limits["addrPhone"]),
    }
    result: dict = {}
    for key, (value, limit) in fields.items():
        if value:
            result[key] = truncate(str(value), limit, f"shippingAddress.{key}", notes)
    country = address.get("countryCodeV2") or address.get("countryCode")
    if country:
        result["country"] = {"id": country}
    return result or None
