"""REST-shaped (snake_case, numeric ids) webhook payloads for the topics the sandbox emits (reference §9)."""

from __future__ import annotations

from .store import Level, Store


def _money_set(b: dict | None) -> dict | None:
    if not b:
        return None
    return {k2: {"amount": b[k1]["amount"], "currency_code": b[k1]["currencyCode"]}
            for k1, k2 in (("shopMoney", "shop_money"), ("presentmentMoney", "presentment_money"))}


def _address(a: dict | None) -> dict | None:
    if not a:
        return None
    return {"first_name": a["firstName"], "last_name": a["lastName"], "name": a["name"], "address1": a["address1"],
            "address2": a["address2"], "city": a["city"], "zip": a["zip"], "province_code": a["provinceCode"],
            "country_code": a["countryCodeV2"], "phone": a["phone"], "company": a["company"]}


def order_payload(o: dict) -> dict:
    c = o["customer"]
    return {
        "id": o["_n"], "admin_graphql_api_id": o["id"], "name": o["name"], "order_number": o["_number"],
        "email": o["email"], "created_at": o["createdAt"], "updated_at": o["updatedAt"],
        "processed_at": o["processedAt"], "cancelled_at": o["cancelledAt"],
        "cancel_reason": o["cancelReason"].lower() if o["cancelReason"] else None, "test": o["test"],
        "currency": o["currencyCode"], "presentment_currency": o["presentmentCurrencyCode"],
        "financial_status": (o["displayFinancialStatus"] or "").lower() or None,
        "fulfillment_status": {"FULFILLED": "fulfilled", "PARTIALLY_FULFILLED": "partial"}.get(o["displayFulfillmentStatus"]),
        "total_price": o["totalPriceSet"]["shopMoney"]["amount"],
        "subtotal_price": o["subtotalPriceSet"]["shopMoney"]["amount"],
        "total_tax": o["totalTaxSet"]["shopMoney"]["amount"],
        "total_discounts": o["totalDiscountsSet"]["shopMoney"]["amount"],
        "total_price_set": _money_set(o["totalPriceSet"]), "tags": ", ".join(o["tags"]), "note": o["note"],
        "customer": {"id": c["_n"], "email": c["email"], "first_name": c["firstName"], "last_name": c["lastName"],
                     "admin_graphql_api_id": c["id"]} if c else None,
        "billing_address": _address(o["billingAddress"]), "shipping_address": _address(o["shippingAddress"]),
        "line_items": [{
            "id": li["_n"], "admin_graphql_api_id": li["id"], "sku": li["sku"], "name": li["name"],
            "title": li["title"], "quantity": li["quantity"], "price": li["originalUnitPriceSet"]["shopMoney"]["amount"],
            "price_set": _money_set(li["originalUnitPriceSet"]),
            "product_id": li["product"]["_n"] if li["product"] else None,
            "variant_id": li["variant"]["_n"] if li["variant"] else None,
            "fulfillable_quantity": li["fulfillableQuantity"], "tax_lines": [], "discount_allocations": [],
        } for li in o["_lines"]],
        "shipping_lines": [{"id": s["_n"], "title": s["title"], "code": s["code"],
                            "price": s["originalPriceSet"]["shopMoney"]["amount"]} for s in o["_shipping"]],
        "current_total_price": o["currentTotalPriceSet"]["shopMoney"]["amount"],
        "discount_applications": [], "refunds": _refunds(o), "fulfillments": [],
    }


def _refunds(o: dict) -> list[dict]:
    """Each REFUND transaction as a refund with its one transaction (the REST ``refunds`` list)."""
    return [{"id": int(t["id"].rsplit("/", 1)[1]), "created_at": t["processedAt"],
             "transactions": [{"id": int(t["id"].rsplit("/", 1)[1]), "kind": "refund", "status": t["status"].lower(),
                               "amount": t["amountSet"]["shopMoney"]["amount"],
                               "parent_id": int(t["parentTransaction"]["id"].rsplit("/", 1)[1])
                               if t.get("parentTransaction") else None}]}
            for t in o.get("transactions") or () if t["kind"] == "REFUND"]


def level_payload(store: Store, lv: Level) -> dict:
    return {"inventory_item_id": lv.item_id, "location_id": lv.location_id, "available": lv.available,
            "updated_at": lv.updated_at,
            "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{lv.location_id}?inventory_item_id={lv.item_id}"}


def fulfillment_payload(store: Store, f: dict) -> dict:
    t = f["trackingInfo"][0] if f["trackingInfo"] else {}
    return {
        "id": f["_n"], "admin_graphql_api_id": f["id"], "order_id": f["_order"], "name": f["name"],
        "status": "success", "created_at": f["createdAt"], "updated_at": f["updatedAt"],
        "location_id": f["_location"], "tracking_company": t.get("company"), "tracking_number": t.get("number"),
        "tracking_url": t.get("url"), "tracking_numbers": [x["number"] for x in f["trackingInfo"] if x.get("number")],
        "tracking_urls": [x["url"] for x in f["trackingInfo"] if x.get("url")],
        "line_items": [{"id": li["_n"], "sku": li["sku"], "quantity": qty} for li, qty in f["_lines"]],
    }


def payload(store: Store, topic: str, obj) -> dict:
    if topic.startswith("orders/"):
        return order_payload(obj)
    if topic == "inventory_levels/update":
        return level_payload(store, obj)
    return fulfillment_payload(store, obj)
