"""In-memory shop state. Records are GraphQL-shaped dicts (camelCase keys, GIDs, money as strings) so the
default resolvers serve them as they are; private links between records use keys starting with ``_``.

Every change happens under one lock and replaces an order's dict rather than editing it, so a reader
outside the lock sees either the old or the new version, never half an update.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from ..model import Catalog

# Starting numbers that look like real Shopify ids (13 digits), one sequence per resource.
_ID_BASE = {
    "Location": 63590300000, "Product": 8061536800000, "ProductVariant": 44871665700000,
    "InventoryItem": 46971665700000, "Customer": 7110987600000, "Order": 5890295200000,
    "LineItem": 13688971400000, "OrderTransaction": 7560313300000, "FulfillmentOrder": 6790204300000,
    "FulfillmentOrderLineItem": 14001234500000, "Fulfillment": 5380198700000, "BulkOperation": 4046733900000,
    "InventoryAdjustmentGroup": 30511234500000, "ShippingLine": 4801234500000, "Job": 9001234500000,
}


def now_dt() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def iso(dt: datetime | None) -> str | None:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if dt else None


def parse_iso(text: str) -> datetime:
    """The datetime of an :func:`iso` stamp."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def gid(kind: str, n: int) -> str:
    return f"gid://shopify/{kind}/{n}"


def parse_gid(value: Any, kind: str) -> int | None:
    """Numeric id of ``gid://shopify/<kind>/<n>``; None when the id is of another kind or malformed."""
    prefix = f"gid://shopify/{kind}/"
    if not isinstance(value, str) or not value.startswith(prefix):
        return None
    tail = value[len(prefix):].split("?", 1)[0]
    return int(tail) if tail.isdigit() else None


def money(amount: Decimal, currency: str) -> dict:
    return {"amount": str(amount.quantize(Decimal("0.01"))), "currencyCode": currency}


def bag(shop: Decimal, currency: str, presentment: Decimal | None = None, presentment_currency: str | None = None) -> dict:
    return {
        "shopMoney": money(shop, currency),
        "presentmentMoney": money(shop if presentment is None else presentment, presentment_currency or currency),
    }


class UserError(Exception):
    """A business-rule failure that becomes a ``userErrors`` entry (HTTP 200), not a GraphQL error."""

    def __init__(self, field: list[str] | None, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.field, self.message, self.code = field, message, code

    def as_dict(self) -> dict:
        return {"field": self.field, "message": self.message, "code": self.code}


@dataclass
class Level:
    item_id: int
    location_id: int
    available: int = 0
    committed: int = 0
    created_at: str = ""
    updated_at: str = ""

    @property
    def on_hand(self) -> int:
        return self.available + self.committed


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self._seq = {k: itertools.count(v + 1) for k, v in _ID_BASE.items()}
            self.currency = "USD"
            self.timezone = "UTC"  # the shop's ianaTimezone (Settings > General > Time zone)
            self.history = None  # a seeded order history (history.History), served to bulk queries only
            self.locations: dict[int, dict] = {}
            self.location_by_key: dict[str, int] = {}
            self.products: dict[int, dict] = {}
            self.variants: dict[int, dict] = {}
            self.items: dict[int, dict] = {}
            self.variant_by_sku: dict[str, int] = {}
            self.levels: dict[tuple[int, int], Level] = {}
            self.levels_by_item: dict[int, list[int]] = {}
            self.customers: dict[int, dict] = {}
            self.customer_by_email: dict[str, int] = {}
            self.orders: dict[int, dict] = {}
            self.order_number = itertools.count(1001)
            self.fulfillment_orders: dict[int, dict] = {}
            self.fulfillments: dict[int, dict] = {}
            self.bulk_operations: dict[int, dict] = {}
            self.idempotency: dict[tuple[str, str], tuple[str, Any]] = {}

    def next_id(self, kind: str) -> int:
        return next(self._seq[kind])

    # ---- catalog -------------------------------------------------------------------------------------
    def load_catalog(self, catalog: Catalog) -> None:
        stamp = iso(now_dt())
        with self.lock:
            self.currency = catalog.currency
            for loc in catalog.locations:
                n = self.next_id("Location")
                self.location_by_key[loc.key] = n
                self.locations[n] = {
                    "__typename": "Location", "id": gid("Location", n), "legacyResourceId": str(n), "_n": n,
                    "name": loc.name, "isActive": True, "fulfillsOnlineOrders": True,
                    "createdAt": stamp, "updatedAt": stamp,
                    "address": {"address1": None, "address2": None, "city": loc.city, "country": None,
                                "countryCode": loc.country_code, "province": None, "provinceCode": None, "zip": None},
                }
            for product in catalog.products:
                pid = self._new_product(product.title, product.vendor, product.product_type,
                                        f"<p>{product.description}</p>", product.key, stamp)
                for pos, v in enumerate(product.variants, start=1):
                    self._new_variant(pid, v.sku, v.title, v.price, v.cost, v.barcode, pos, stamp)
            for (sku, loc_key), qty in catalog.inventory.items():
                vid, lid = self.variant_by_sku.get(sku), self.location_by_key.get(loc_key)
                if vid is None or lid is None:
                    raise ValueError(f"catalog.inventory names unknown sku {sku!r} or location {loc_key!r}")
                self.level(self.variants[vid]["_item"], lid, stamp).available = qty
            for c in catalog.customers:
                self._new_customer(c.email, c.first_name, c.last_name, c.phone, stamp)

    def _new_product(self, title, vendor, product_type, description_html, handle, stamp) -> int:
        n = self.next_id("Product")
        self.products[n] = {
            "__typename": "Product", "id": gid("Product", n), "legacyResourceId": str(n), "_n": n,
            "title": title, "handle": handle, "vendor": vendor, "productType": product_type,
            "status": "ACTIVE", "descriptionHtml": description_html, "tags": [],
            "createdAt": stamp, "updatedAt": stamp, "_variants": [],
        }
        return n

    def _new_variant(self, pid, sku, title, price, cost, barcode, position, stamp) -> int:
        vn, itn = self.next_id("ProductVariant"), self.next_id("InventoryItem")
        product = self.products[pid]
        variant = {
            "__typename": "ProductVariant", "id": gid("ProductVariant", vn), "legacyResourceId": str(vn), "_n": vn,
            "sku": sku, "title": title, "displayName": f"{product['title']} - {title}",
            "price": str(Decimal(price).quantize(Decimal("0.01"))), "compareAtPrice": None, "barcode": barcode,
            "position": position, "createdAt": stamp, "updatedAt": stamp, "_product": pid, "_item": itn,
        }
        self.variants[vn] = variant
        self.items[itn] = {
            "__typename": "InventoryItem", "id": gid("InventoryItem", itn), "legacyResourceId": str(itn), "_n": itn,
            "sku": sku, "tracked": True, "createdAt": stamp, "updatedAt": stamp,
            "unitCost": money(Decimal(cost), self.currency) if cost is not None else None, "_variant": vn,
        }
        if sku:
            self.variant_by_sku[sku] = vn
        product["_variants"].append(vn)
        return vn

    def _drop_variant(self, vn: int) -> None:
        v = self.variants.pop(vn)
        if v.get("sku") and self.variant_by_sku.get(v["sku"]) == vn:
            del self.variant_by_sku[v["sku"]]
        itn = v["_item"]
        self.items.pop(itn, None)
        for lid in self.levels_by_item.pop(itn, []):
            self.levels.pop((itn, lid), None)

    def _new_customer(self, email, first, last, phone, stamp) -> int:
        n = self.next_id("Customer")
        self.customers[n] = {
            "__typename": "Customer", "id": gid("Customer", n), "legacyResourceId": str(n), "_n": n,
            "email": email, "firstName": first, "lastName": last, "phone": phone,
            "displayName": " ".join(p for p in (first, last) if p) or (email or ""),
            # A checkout creates a customer without an account (DISABLED), not subscribed to marketing.
            "defaultEmailAddress": {"emailAddress": email, "marketingState": "NOT_SUBSCRIBED"} if email else None,
            "createdAt": stamp, "updatedAt": stamp, "tags": [], "state": "DISABLED",
            "_created": parse_iso(stamp), "_updated": parse_iso(stamp),  # parsed once: searches sort by them
        }
        if email:
            self.customer_by_email[email.lower()] = n
        return n

    def level(self, item_id: int, location_id: int, stamp: str | None = None) -> Level:
        key = (item_id, location_id)
        lv = self.levels.get(key)
        if lv is None:
            stamp = stamp or iso(now_dt())
            lv = self.levels[key] = Level(item_id, location_id, created_at=stamp, updated_at=stamp)
            self.levels_by_item.setdefault(item_id, []).append(location_id)
        return lv

    # ---- views ---------------------------------------------------------------------------------------
    def level_node(self, lv: Level) -> dict:
        item, loc = self.items.get(lv.item_id), self.locations.get(lv.location_id)
        return {
            "__typename": "InventoryLevel",
            "id": f"gid://shopify/InventoryLevel/{lv.location_id}?inventory_item_id={lv.item_id}",
            "_n": lv.item_id, "_level": lv, "createdAt": lv.created_at,
            "updatedAt": lv.updated_at, "isActive": True, "item": item, "location": loc,
        }

    def quantity(self, lv: Level, name: str) -> int:
        return {"available": lv.available, "committed": lv.committed, "on_hand": lv.on_hand}.get(name, 0)

    def node(self, value: str) -> dict | None:
        """Resolve any supported GID (node/nodes queries)."""
        if not isinstance(value, str) or not value.startswith("gid://shopify/"):
            return None
        kind = value[len("gid://shopify/"):].split("/", 1)[0]
        if kind == "ShopifyPaymentsPayout":
            from .payouts import payout  # derived from the orders, see payouts.py

            n = parse_gid(value, kind)
            return payout(self, n) if n is not None else None
        if kind == "InventoryLevel":
            loc = parse_gid(value, "InventoryLevel")
            item = value.rsplit("inventory_item_id=", 1)[-1] if "inventory_item_id=" in value else ""
            lv = self.levels.get((int(item), loc)) if item.isdigit() and loc is not None else None
            return self.level_node(lv) if lv else None
        table = {
            "Order": self.orders, "Customer": self.customers, "Product": self.products,
            "ProductVariant": self.variants, "InventoryItem": self.items, "Location": self.locations,
            "FulfillmentOrder": self.fulfillment_orders, "Fulfillment": self.fulfillments,
            "BulkOperation": self.bulk_operations,
        }.get(kind)
        n = parse_gid(value, kind)
        if table is None or n is None:
            return None
        if kind == "Order":
            return self.orders.get(n)
        return table.get(n)
