"""inventorySetQuantities with the 2026-04+ rules (reference §5) and productSet (reference §6)."""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation

from .store import Store, UserError, gid, iso, now_dt, parse_gid

SETTABLE_NAMES = ("available", "on_hand")
REASONS = {
    "correction", "cycle_count_available", "damaged", "movement_created", "movement_updated", "movement_received",
    "movement_canceled", "other", "promotion", "quality_control", "received", "reservation_created",
    "reservation_deleted", "reservation_updated", "restock", "safety_stock", "shrinkage",
}
MAX_QUANTITY = 1_000_000_000


def fingerprint(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def idempotent(store: Store, mutation: str, key: str, params, apply):
    """Run ``apply()`` once per key: a replay with the same parameters returns the first result unchanged;
    other parameters under a used key are refused, as Shopify does."""
    fp = fingerprint(params)
    with store.lock:
        seen = store.idempotency.get((mutation, key))
        if seen is not None:
            if seen[0] != fp:
                raise UserError(None, "The same idempotency key was used with different parameters.",
                                "IDEMPOTENCY_KEY_PARAMETER_MISMATCH")
            return seen[1], []
        result, events = apply()
        store.idempotency[(mutation, key)] = (fp, result)
        return result, events


def set_quantities(store: Store, data: dict) -> tuple[dict, list]:
    name = data["name"]
    if name not in SETTABLE_NAMES:
        raise UserError(["input", "name"], f"The quantity name must be one of: {', '.join(SETTABLE_NAMES)}.", "INVALID_NAME")
    if data["reason"] not in REASONS:
        raise UserError(["input", "reason"], f"The reason {data['reason']!r} is not a valid reason.", "INVALID_REASON")
    stamp = iso(now_dt())
    with store.lock:
        plan, seen = [], set()
        for i, q in enumerate(data["quantities"]):
            f = ["input", "quantities", str(i)]
            if "changeFromQuantity" not in q:
                # 2026-04: omission is an error; an explicit null opts out of the compare-and-set check.
                raise UserError([*f, "changeFromQuantity"],
                                "changeFromQuantity is required; pass null to skip the compare-and-set check.")
            item = parse_gid(q["inventoryItemId"], "InventoryItem")
            if item is None or item not in store.items:
                raise UserError([*f, "inventoryItemId"], "The specified inventory item could not be found.", "INVALID_INVENTORY_ITEM")
            loc = parse_gid(q["locationId"], "Location")
            if loc is None or loc not in store.locations:
                raise UserError([*f, "locationId"], "The specified location could not be found.", "INVALID_LOCATION")
            if (item, loc) in seen:
                raise UserError(f, "The combination of inventoryItemId and locationId must be unique.",
                                "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR")
            seen.add((item, loc))
            if q["quantity"] > MAX_QUANTITY:
                raise UserError([*f, "quantity"], "The quantity is too high.", "INVALID_QUANTITY_TOO_HIGH")
            if q["quantity"] < -MAX_QUANTITY:
                raise UserError([*f, "quantity"], "The quantity is too low.", "INVALID_QUANTITY_TOO_LOW")
            lv = store.levels.get((item, loc))
            current = store.quantity(lv, name) if lv else 0
            expected = q["changeFromQuantity"]
            if expected is not None and expected != current:
                raise UserError([*f, "changeFromQuantity"],
                                f"The specified compare quantity does not match the current quantity ({current}).",
                                "CHANGE_FROM_QUANTITY_STALE")
            plan.append((item, loc, q["quantity"] - current))
        changes, touched = [], []
        for item, loc, delta in plan:
            lv = store.level(item, loc, stamp)
            lv.available += delta  # setting on_hand moves available by the same delta; committed stays
            lv.updated_at = stamp
            touched.append(lv)
            for qname in (name, "on_hand") if name == "available" else ("on_hand", "available"):
                changes.append({"name": qname, "delta": delta, "quantityAfterChange": store.quantity(lv, qname),
                                "item": store.items[item], "location": store.locations[loc]})
        n = store.next_id("InventoryAdjustmentGroup")
        group = {"__typename": "InventoryAdjustmentGroup", "id": gid("InventoryAdjustmentGroup", n),
                 "createdAt": stamp, "reason": data["reason"],
                 "referenceDocumentUri": data.get("referenceDocumentUri"), "changes": changes}
    return group, [("inventory_levels/update", lv) for lv in touched]


def _handle(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "product"


def product_set(store: Store, data: dict, identifier: dict | None) -> dict:
    stamp = iso(now_dt())
    identifier = identifier or {}
    for i, v in enumerate(data.get("variants") or []):  # checked before anything changes
        try:
            negative = v.get("price") is not None and Decimal(str(v["price"])) < 0
        except InvalidOperation:
            raise UserError(["input", "variants", str(i), "price"], "Price is invalid", "INVALID_VARIANT") from None
        if negative:
            raise UserError(["input", "variants", str(i), "price"], "Price must be greater than or equal to 0",
                            "INVALID_VARIANT")
    with store.lock:
        product = None
        if identifier.get("id"):
            n = parse_gid(identifier["id"], "Product")
            product = store.products.get(n) if n is not None else None
            if product is None:
                raise UserError(["identifier", "id"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")
        else:
            handle = identifier.get("handle") or data.get("handle")
            if handle:
                product = next((p for p in store.products.values() if p["handle"] == handle), None)
        if product is None:
            if not data.get("title"):
                raise UserError(["input", "title"], "Title can't be blank", "INVALID_INPUT")
            handle = identifier.get("handle") or data.get("handle") or _handle(data["title"])
            if any(p["handle"] == handle for p in store.products.values()):
                raise UserError(["input", "handle"], f"Handle {handle!r} already in use", "HANDLE_NOT_UNIQUE")
            pn = store._new_product(data["title"], data.get("vendor") or "", data.get("productType") or "",
                                    data.get("descriptionHtml") or "", handle, stamp)
            product = store.products[pn]
        pn = product["_n"]
        for key in ("title", "vendor", "productType", "descriptionHtml", "status"):
            if data.get(key) is not None:
                product[key] = data[key]
        if data.get("tags") is not None:
            product["tags"] = list(data["tags"])
        product["updatedAt"] = stamp
        if data.get("variants") is not None:
            _replace_variants(store, product, data["variants"], stamp)
        return product


def _replace_variants(store: Store, product: dict, variants: list[dict], stamp: str) -> None:
    """List-replacement: variants named by id are updated, others created, the rest deleted."""
    keep = {}
    for i, v in enumerate(variants):
        if v.get("id"):
            vn = parse_gid(v["id"], "ProductVariant")
            if vn not in product["_variants"]:
                raise UserError(["input", "variants", str(i), "id"], "Variant does not exist on this product", "INVALID_VARIANT")
            keep[vn] = v
    for vn in [vn for vn in product["_variants"] if vn not in keep]:
        store._drop_variant(vn)
    product["_variants"] = [vn for vn in product["_variants"] if vn in keep]
    for i, v in enumerate(variants, start=1):
        sku = (v.get("inventoryItem") or {}).get("sku") or v.get("sku")
        title = " / ".join(o["name"] for o in v.get("optionValues") or [] if o.get("name")) or "Default Title"
        price = Decimal(str(v["price"])) if v.get("price") is not None else Decimal(0)
        if v.get("id"):
            vn = parse_gid(v["id"], "ProductVariant")
            var = store.variants[vn]
            if sku is not None and sku != var["sku"]:
                if store.variant_by_sku.get(var["sku"]) == vn:
                    del store.variant_by_sku[var["sku"]]
                var["sku"] = store.items[var["_item"]]["sku"] = sku
                store.variant_by_sku[sku] = vn
            if v.get("price") is not None:
                var["price"] = str(price.quantize(Decimal("0.01")))
            if v.get("optionValues"):
                var["title"] = title
        else:
            cost = (v.get("inventoryItem") or {}).get("cost")
            vn = store._new_variant(product["_n"], sku, title, price, Decimal(str(cost)) if cost is not None else None,
                                    v.get("barcode"), i, stamp)
            var = store.variants[vn]
        for key in ("barcode", "compareAtPrice"):
            if key in v:
                var[key] = None if v[key] is None else str(v[key])
        var["position"] = v.get("position") or i
        var["displayName"] = f"{product['title']} - {var['title']}"
        var["updatedAt"] = stamp
        for inv in v.get("inventoryQuantities") or []:
            loc = parse_gid(inv["locationId"], "Location")
            if loc not in store.locations:
                raise UserError(["input", "variants", str(i - 1), "inventoryQuantities"], "Location does not exist", "INVALID_INPUT")
            lv = store.level(var["_item"], loc, stamp)
            lv.available = inv["quantity"] - (lv.committed if inv["name"] == "on_hand" else 0)
        if vn not in product["_variants"]:
            product["_variants"].append(vn)
