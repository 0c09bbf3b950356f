"""Order lifecycle: orderCreate, orderUpdate, orderCancel, fulfillmentCreate, fulfillmentTrackingInfoUpdate.

Each function runs under the store lock and returns ``(result, events)``; events are (topic, order
record) pairs the backend turns into webhook payloads after the lock is released.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from .discounts import apply_discount_code
from .store import Store, UserError, bag, gid, iso, now_dt, parse_gid

_PAID_KINDS = {"SALE", "CAPTURE"}
# Shopify's check is loose (local part, @, domain; no spaces): "buyer@localhost" passes here and is refused
# by NetSuite, which wants a dotted domain. The product must cope with exactly that difference.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def check_email(value, field: list[str]) -> None:
    if value is not None and (not isinstance(value, str) or not _EMAIL.match(value)):
        raise UserError(field, "Email is invalid", "INVALID")


def _dec(value, field: list[str]) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise UserError(field, f"{value!r} is not a decimal amount", "INVALID") from exc


def _amounts(money_bag: dict | None, field: list[str], currency: str, presentment: str) -> tuple[Decimal, Decimal]:
    if not money_bag:
        return Decimal(0), Decimal(0)
    shop = money_bag["shopMoney"]
    if shop["currencyCode"] != currency:
        raise UserError([*field, "shopMoney", "currencyCode"],
                        f"shopMoney currency {shop['currencyCode']} does not match the order currency {currency}", "INVALID")
    amount = _dec(shop["amount"], [*field, "shopMoney", "amount"])
    pres = money_bag.get("presentmentMoney")
    return amount, (_dec(pres["amount"], [*field, "presentmentMoney", "amount"]) if pres else amount)


def _address(a: dict | None) -> dict | None:
    if not a:
        return None
    first, last = a.get("firstName"), a.get("lastName")
    return {
        "address1": a.get("address1"), "address2": a.get("address2"), "city": a.get("city"),
        "company": a.get("company"), "country": None, "countryCodeV2": a.get("countryCode"),
        "firstName": first, "lastName": last, "name": " ".join(p for p in (first, last) if p) or None,
        "phone": a.get("phone"), "province": None, "provinceCode": a.get("provinceCode"), "zip": a.get("zip"),
    }


def _tax_lines(lines, field, cur, pres) -> tuple[list[dict], Decimal, Decimal]:
    out, total, total_p = [], Decimal(0), Decimal(0)
    for i, t in enumerate(lines or []):
        shop, p = _amounts(t.get("priceSet"), [*field, str(i), "priceSet"], cur, pres)
        rate = float(_dec(t["rate"], [*field, str(i), "rate"]))
        out.append({"title": t["title"], "rate": rate, "ratePercentage": rate * 100, "priceSet": bag(shop, cur, p, pres)})
        total, total_p = total + shop, total_p + p
    return out, total, total_p


def _financial_status(transactions: list[dict], total: Decimal) -> str:
    ok = [t for t in transactions if t["status"] == "SUCCESS"]
    paid = sum((Decimal(t["amountSet"]["shopMoney"]["amount"]) for t in ok if t["kind"] in _PAID_KINDS), Decimal(0))
    if paid >= total and paid > 0:
        return "PAID"
    if paid > 0:
        return "PARTIALLY_PAID"
    if any(t["kind"] == "AUTHORIZATION" for t in ok):
        return "AUTHORIZED"
    return "PAID" if total == 0 else "PENDING"


def _pick_location(store: Store, item_id: int | None, qty: int) -> int:
    """The first location with enough available stock, else the first holding the item, else the first."""
    if not store.locations:
        raise UserError(["order", "lineItems"], "The shop has no location to assign the order to", "INVALID")
    if item_id is not None:
        held = store.levels_by_item.get(item_id, [])
        for lid in held:
            if store.levels[(item_id, lid)].available >= qty:
                return lid
        if held:
            return held[0]
    return next(iter(store.locations))


def _customer(store: Store, order: dict, stamp: str) -> dict | None:
    spec = order.get("customer") or {}
    assoc, upsert = spec.get("toAssociate"), spec.get("toUpsert")
    if assoc and upsert:
        raise UserError(["order", "customer"], "Specify either toAssociate or toUpsert, not both", "REDUNDANT_CUSTOMER_FIELDS")
    if assoc:
        if assoc.get("id"):
            n = parse_gid(assoc["id"], "Customer")
            if n is None or n not in store.customers:
                raise UserError(["order", "customer", "toAssociate", "id"], "Customer does not exist", "INVALID")
            return store.customers[n]
        n = store.customer_by_email.get((assoc.get("email") or "").lower())
        if n is None:
            raise UserError(["order", "customer", "toAssociate", "email"], "Customer does not exist", "INVALID")
        return store.customers[n]
    check_email((upsert or {}).get("email"), ["order", "customer", "toUpsert", "email"])
    email = (upsert or {}).get("email") or order.get("email")
    if not email:
        return None
    n = store.customer_by_email.get(email.lower())
    if n is None:
        u = upsert or {}
        n = store._new_customer(email, u.get("firstName"), u.get("lastName"), u.get("phone"), stamp)
    return store.customers[n]


def create_order(store: Store, order: dict, options: dict | None) -> tuple[dict, list]:
    behaviour = (options or {}).get("inventoryBehaviour") or "BYPASS"
    now = now_dt()
    stamp = iso(now)
    with store.lock:
        cur = order.get("currency") or store.currency
        pres = order.get("presentmentCurrency") or cur
        check_email(order.get("email"), ["order", "email"])
        if not order.get("lineItems"):
            raise UserError(["order", "lineItems"], "An order must have at least one line item", "INVALID")
        lines, claims = [], []
        subtotal, subtotal_p = Decimal(0), Decimal(0)
        tax, tax_p = Decimal(0), Decimal(0)
        for i, li in enumerate(order["lineItems"]):
            f = ["order", "lineItems", str(i)]
            qty = li["quantity"]
            if qty <= 0:
                raise UserError([*f, "quantity"], "Quantity must be greater than 0", "INVALID")
            variant = None
            if li.get("variantId"):
                vn = parse_gid(li["variantId"], "ProductVariant")
                variant = store.variants.get(vn) if vn is not None else None
                if variant is None:
                    raise UserError([*f, "variantId"], f"Variant {li['variantId']} does not exist", "INVALID")
            elif li.get("sku") and li["sku"] in store.variant_by_sku and not li.get("title"):
                variant = store.variants[store.variant_by_sku[li["sku"]]]
            if variant is None and not (li.get("title") and li.get("priceSet")):
                raise UserError(f, "A custom line item needs a title and a priceSet", "INVALID")
            if li.get("priceSet"):
                unit, unit_p = _amounts(li["priceSet"], [*f, "priceSet"], cur, pres)
                if unit < 0 or unit_p < 0:
                    raise UserError([*f, "priceSet", "shopMoney", "amount"], "Price must be greater than or equal to 0",
                                    "INVALID")
            else:
                unit = unit_p = Decimal(variant["price"])
            product = store.products.get(variant["_product"]) if variant else None
            title = li.get("title") or (product["title"] if product else "")
            vtitle = li.get("variantTitle") or (variant["title"] if variant else None)
            tlines, t, tp = _tax_lines(li.get("taxLines"), [*f, "taxLines"], cur, pres)
            tax, tax_p = tax + t, tax_p + tp
            subtotal, subtotal_p = subtotal + unit * qty, subtotal_p + unit_p * qty
            n = store.next_id("LineItem")
            item_id = variant["_item"] if variant else None
            lines.append({
                "__typename": "LineItem", "id": gid("LineItem", n), "_n": n,
                "sku": li.get("sku") or (variant["sku"] if variant else None),
                "title": title, "variantTitle": vtitle,
                "name": f"{title} - {vtitle}" if vtitle and vtitle != "Default Title" else title,
                "vendor": li.get("vendor") or (product["vendor"] if product else None),
                "quantity": qty, "currentQuantity": qty, "fulfillableQuantity": qty, "unfulfilledQuantity": qty,
                "requiresShipping": li.get("requiresShipping", True) is not False,
                "originalUnitPriceSet": bag(unit, cur, unit_p, pres),
                "discountedUnitPriceSet": bag(unit, cur, unit_p, pres),
                "originalTotalSet": bag(unit * qty, cur, unit_p * qty, pres),
                "taxLines": tlines, "variant": variant, "product": product, "_item": item_id,
            })
            claims.append((item_id, qty))
        shipping_lines, ship, ship_p = [], Decimal(0), Decimal(0)
        for i, s in enumerate(order.get("shippingLines") or []):
            f = ["order", "shippingLines", str(i)]
            amt, amt_p = _amounts(s["priceSet"], [*f, "priceSet"], cur, pres)
            tlines, t, tp = _tax_lines(s.get("taxLines"), [*f, "taxLines"], cur, pres)
            tax, tax_p, ship, ship_p = tax + t, tax_p + tp, ship + amt, ship_p + amt_p
            n = store.next_id("ShippingLine")
            shipping_lines.append({
                "id": gid("ShippingLine", n), "_n": n, "title": s["title"], "code": s.get("code"),
                "source": s.get("source"), "originalPriceSet": bag(amt, cur, amt_p, pres),
                "discountedPriceSet": bag(amt, cur, amt_p, pres), "taxLines": tlines,
            })
        order_tax, t, tp = _tax_lines(order.get("taxLines"), ["order", "taxLines"], cur, pres)
        tax, tax_p = tax + t, tax_p + tp
        discount = apply_discount_code(order.get("discountCode"), lines, shipping_lines,
                                       lambda b, f: _amounts(b, f, cur, pres), cur, pres)
        # subtotalPriceSet is "the sum of the prices for all line items after discounts" (published schema)
        subtotal, subtotal_p = subtotal - discount.items, subtotal_p - discount.items_p
        total, total_p = subtotal + tax + ship - discount.shipping, subtotal_p + tax_p + ship_p - discount.shipping_p
        transactions = []
        for i, tx in enumerate(order.get("transactions") or []):
            amt, amt_p = _amounts(tx["amountSet"], ["order", "transactions", str(i), "amountSet"], cur, pres)
            n = store.next_id("OrderTransaction")
            transactions.append({
                "__typename": "OrderTransaction", "id": gid("OrderTransaction", n),
                "kind": tx.get("kind") or "SALE", "status": tx.get("status") or "SUCCESS",
                "gateway": tx.get("gateway") or "manual", "amountSet": bag(amt, cur, amt_p, pres),
                "createdAt": stamp, "processedAt": tx.get("processedAt") or stamp,
                "test": bool(tx.get("test")), "parentTransaction": None,
            })
        customer = _customer(store, order, stamp)
        # inventory claim happens only after every validation passed, so a rejected order changes nothing
        touched = []
        for line, (item_id, qty) in zip(lines, claims):
            lid = _pick_location(store, item_id, qty)
            line["_location"] = lid
            if item_id is not None and behaviour != "BYPASS":
                lv = store.level(item_id, lid, stamp)
                if behaviour == "DECREMENT_OBEYING_POLICY" and lv.available < qty:
                    raise UserError(["order", "lineItems"], f"Not enough inventory for {line['sku']!r}", "INVENTORY_CLAIM_FAILED")
        for line, (item_id, qty) in zip(lines, claims):
            if item_id is not None and behaviour != "BYPASS":
                lv = store.level(item_id, line["_location"], stamp)
                lv.available -= qty
                lv.committed += qty
                lv.updated_at = stamp
                touched.append(lv)
        n = store.next_id("Order")
        number = next(store.order_number)
        processed = order.get("processedAt")
        record = {
            "__typename": "Order", "id": gid("Order", n), "legacyResourceId": str(n), "_n": n,
            "name": order.get("name") or f"#{number}", "_number": number,
            "createdAt": stamp, "updatedAt": stamp, "_created": now, "_updated": now,
            "processedAt": processed if isinstance(processed, str) else iso(processed) if processed else stamp,
            "cancelledAt": None, "cancelReason": None, "closed": False, "closedAt": None,
            "displayFinancialStatus": order.get("financialStatus") or _financial_status(transactions, total),
            "displayFulfillmentStatus": "UNFULFILLED",
            "currencyCode": cur, "presentmentCurrencyCode": pres,
            "email": order.get("email") or (customer or {}).get("email"), "phone": order.get("phone"),
            "customer": customer, "shippingAddress": _address(order.get("shippingAddress")),
            "billingAddress": _address(order.get("billingAddress")),
            "subtotalPriceSet": bag(subtotal, cur, subtotal_p, pres), "totalTaxSet": bag(tax, cur, tax_p, pres),
            "totalShippingPriceSet": bag(ship, cur, ship_p, pres),
            "totalDiscountsSet": bag(discount.total, cur, discount.total_p, pres),
            "totalPriceSet": bag(total, cur, total_p, pres), "currentTotalPriceSet": bag(total, cur, total_p, pres),
            "taxLines": order_tax + [t for li in lines for t in li["taxLines"]],
            "discountCodes": discount.codes, "_discount_applications": discount.applications, "transactions": transactions, "_lines": lines, "_shipping": shipping_lines,
            "tags": sorted(set(order.get("tags") or [])), "note": order.get("note"), "test": bool(order.get("test")),
            # The sales channel; the sandbox's orders are online-store orders unless the input names another.
            "sourceName": order.get("sourceName") or "web",
            "_fulfillment_orders": [], "_fulfillments": [],
        }
        for line in lines:
            line["_order"] = n
        _open_fulfillment_orders(store, record, stamp)
        store.orders[n] = record
    events = [("orders/create", record)]
    if record["displayFinancialStatus"] == "PAID":
        events.append(("orders/paid", record))
    events += [("inventory_levels/update", lv) for lv in touched]
    return record, events


def _open_fulfillment_orders(store: Store, order: dict, stamp: str) -> None:
    by_location: dict[int, list[dict]] = {}
    for line in order["_lines"]:
        if line["requiresShipping"]:
            by_location.setdefault(line["_location"], []).append(line)
    for lid, lines in by_location.items():
        n = store.next_id("FulfillmentOrder")
        loc = store.locations[lid]
        fo = {
            "__typename": "FulfillmentOrder", "id": gid("FulfillmentOrder", n), "_n": n, "_order": order["_n"],
            "status": "OPEN", "requestStatus": "UNSUBMITTED", "createdAt": stamp, "updatedAt": stamp,
            "_updated": order["_updated"], "orderId": order["id"], "orderName": order["name"],
            "assignedLocation": {"name": loc["name"], "city": loc["address"]["city"],
                                 "countryCode": loc["address"]["countryCode"], "location": loc},
            "_location": lid, "_lines": [],
        }
        for line in lines:
            m = store.next_id("FulfillmentOrderLineItem")
            fo["_lines"].append({
                "__typename": "FulfillmentOrderLineItem", "id": gid("FulfillmentOrderLineItem", m), "_n": m,
                "sku": line["sku"], "remainingQuantity": line["quantity"], "totalQuantity": line["quantity"],
                "inventoryItemId": gid("InventoryItem", line["_item"]) if line["_item"] else None,
                "lineItem": line, "variant": line["variant"],
            })
        store.fulfillment_orders[n] = fo
        order["_fulfillment_orders"].append(n)


def _replace(store: Store, n: int, **changes) -> dict:
    """Copy-on-write update that also touches updatedAt."""
    now = now_dt()
    record = {**store.orders[n], **changes, "updatedAt": iso(now), "_updated": now}
    store.orders[n] = record
    for fo_n in record["_fulfillment_orders"]:
        store.fulfillment_orders[fo_n]["orderName"] = record["name"]
    return record


def _order_number(store: Store, order_id, field: list[str]) -> int:
    n = parse_gid(order_id, "Order")
    if n is None or n not in store.orders:
        raise UserError(field, "Order does not exist", "NOT_FOUND")
    return n


def update_order(store: Store, data: dict) -> tuple[dict, list]:
    with store.lock:
        n = _order_number(store, data["id"], ["id"])
        changes = {}
        check_email(data.get("email"), ["input", "email"])
        for key in ("email", "note"):
            if key in data:
                changes[key] = data[key]
        if "tags" in data:
            changes["tags"] = sorted(set(data["tags"] or []))
        record = _replace(store, n, **changes)
    return record, [("orders/updated", record)]


def cancel_order(store: Store, order_id: str, reason: str, restock: bool) -> tuple[dict, list]:
    """Shopify cancels asynchronously (a Job); the sandbox applies it at once and returns a finished job."""
    stamp = iso(now_dt())
    with store.lock:
        n = _order_number(store, order_id, ["orderId"])
        order = store.orders[n]
        if order["cancelledAt"]:
            raise UserError(["orderId"], "Cannot cancel an order that is already cancelled", "INVALID")
        touched = []
        if restock:
            for fo_n in order["_fulfillment_orders"]:
                fo = store.fulfillment_orders[fo_n]
                for fl in fo["_lines"]:
                    item = fl["lineItem"]["_item"]
                    if item is not None and fl["remainingQuantity"] and (item, fo["_location"]) in store.levels:
                        lv = store.levels[(item, fo["_location"])]
                        moved = min(lv.committed, fl["remainingQuantity"])
                        lv.committed -= moved
                        lv.available += moved
                        lv.updated_at = stamp
                        touched.append(lv)
        for fo_n in order["_fulfillment_orders"]:
            fo = store.fulfillment_orders[fo_n]
            if fo["status"] in ("OPEN", "IN_PROGRESS"):
                store.fulfillment_orders[fo_n] = {**fo, "status": "CANCELLED", "updatedAt": stamp}
        record = _replace(store, n, cancelledAt=stamp, cancelReason=reason, closed=True, closedAt=stamp)
        job = {"id": gid("Job", store.next_id("Job")), "done": True}
    events = [("orders/cancelled", record), ("orders/updated", record)]
    events += [("inventory_levels/update", lv) for lv in touched]
    return job, events


def create_fulfillment(store: Store, data: dict) -> tuple[dict, list]:
    now = now_dt()
    stamp = iso(now)
    groups = data["lineItemsByFulfillmentOrder"]
    if not groups:
        raise UserError(["fulfillment", "lineItemsByFulfillmentOrder"], "At least one fulfillment order is required")
    with store.lock:
        plan = []  # (fo, fo line, qty) validated before anything changes
        order_n = None
        for i, g in enumerate(groups):
            f = ["fulfillment", "lineItemsByFulfillmentOrder", str(i)]
            fn = parse_gid(g["fulfillmentOrderId"], "FulfillmentOrder")
            fo = store.fulfillment_orders.get(fn) if fn is not None else None
            if fo is None:
                raise UserError([*f, "fulfillmentOrderId"], "Fulfillment order does not exist.")
            if fo["status"] not in ("OPEN", "IN_PROGRESS"):
                raise UserError([*f, "fulfillmentOrderId"], f"Fulfillment order {fo['id']} has an unfulfillable status= {fo['status'].lower()}.")
            if order_n is not None and fo["_order"] != order_n:
                raise UserError(f, "All fulfillment orders must belong to the same order.")
            order_n = fo["_order"]
            by_id = {fl["id"]: fl for fl in fo["_lines"]}
            wanted = g.get("fulfillmentOrderLineItems")
            if not wanted:  # empty or absent: everything that remains on this fulfillment order
                plan += [(fo, fl, fl["remainingQuantity"]) for fl in fo["_lines"] if fl["remainingQuantity"]]
                continue
            for j, w in enumerate(wanted):
                fl = by_id.get(w["id"])
                if fl is None:
                    raise UserError([*f, "fulfillmentOrderLineItems", str(j), "id"], "Fulfillment order line item does not exist.")
                if w["quantity"] <= 0 or w["quantity"] > fl["remainingQuantity"]:
                    raise UserError([*f, "fulfillmentOrderLineItems", str(j), "quantity"],
                                    f"Invalid fulfillment order line item quantity requested ({w['quantity']}; {fl['remainingQuantity']} remaining).")
                plan.append((fo, fl, w["quantity"]))
        if not plan:
            raise UserError(["fulfillment"], "Nothing left to fulfill on these fulfillment orders.")
        touched = []
        for fo, fl, qty in plan:
            fl["remainingQuantity"] -= qty
            line = fl["lineItem"]
            line["fulfillableQuantity"] -= qty
            line["unfulfilledQuantity"] -= qty
            item = line["_item"]
            if item is not None and (item, fo["_location"]) in store.levels:
                lv = store.levels[(item, fo["_location"])]
                lv.committed = max(0, lv.committed - qty)  # shipped: leaves committed and on hand
                lv.updated_at = stamp
                touched.append(lv)
        for fo in {id(p[0]): p[0] for p in plan}.values():
            fo["status"] = "CLOSED" if all(fl["remainingQuantity"] == 0 for fl in fo["_lines"]) else "IN_PROGRESS"
            fo["updatedAt"] = stamp
        tracking = data.get("trackingInfo") or {}
        n = store.next_id("Fulfillment")
        order = store.orders[order_n]
        fulfillment = {
            "__typename": "Fulfillment", "id": gid("Fulfillment", n), "legacyResourceId": str(n), "_n": n,
            "name": f"{order['name']}-F{len(order['_fulfillments']) + 1}", "status": "SUCCESS",
            "createdAt": stamp, "updatedAt": stamp, "_order": order_n,
            "trackingInfo": tracking_rows(tracking),
            "_lines": [(fl["lineItem"], qty) for _, fl, qty in plan],
            "_location": plan[0][0]["_location"],
        }
        store.fulfillments[n] = fulfillment
        remaining = sum(li["fulfillableQuantity"] for li in order["_lines"] if li["requiresShipping"])
        record = _replace(
            store, order_n, _fulfillments=[*order["_fulfillments"], n],
            displayFulfillmentStatus="FULFILLED" if remaining == 0 else "PARTIALLY_FULFILLED",
        )
        fulfillment["order"] = record
    events = [("fulfillments/create", fulfillment), ("orders/updated", record)]
    events += [("inventory_levels/update", lv) for lv in touched]
    return fulfillment, events


def tracking_rows(tracking: dict | None) -> list[dict]:
    """``FulfillmentTrackingInput`` → the fulfillment's ``trackingInfo`` list: one entry per number, ``numbers``
    taking precedence over ``number`` and ``urls`` paired with ``numbers`` by position (published schema)."""
    if not tracking:
        return []
    company = tracking.get("company")
    numbers = tracking.get("numbers")
    if numbers:
        urls = list(tracking.get("urls") or [])
        return [{"company": company, "number": n, "url": urls[i] if i < len(urls) else None}
                for i, n in enumerate(numbers)]
    if tracking.get("number") is None and tracking.get("url") is None and company is None:
        return []
    return [{"company": company, "number": tracking.get("number"), "url": tracking.get("url")}]


def update_tracking(store: Store, fulfillment_id: str, tracking: dict) -> tuple[dict, list]:
    """``fulfillmentTrackingInfoUpdate``: the fulfillment's tracking is replaced by the input's."""
    stamp = iso(now_dt())
    with store.lock:
        n = parse_gid(fulfillment_id, "Fulfillment")
        current = store.fulfillments.get(n) if n is not None else None
        if current is None:
            raise UserError(["fulfillmentId"], "Fulfillment does not exist.")
        fulfillment = {**current, "trackingInfo": tracking_rows(tracking), "updatedAt": stamp}
        store.fulfillments[n] = fulfillment
    return fulfillment, [("fulfillments/update", fulfillment)]


def refund_order(store: Store, order_id: str, amount, parent_id: str | None = None,
                 unchecked: bool = False) -> tuple[dict, list]:
    """A successful ``REFUND`` transaction on a paid order, as a refund issued in the admin leaves it: its
    ``parentTransaction`` is the refunded sale or capture (``parent_id``, else the first successful one), the
    financial status moves to (PARTIALLY_)REFUNDED, ``updatedAt`` moves and ``orders/updated`` fires.
    Shopify refuses to refund more than the parent still holds; ``unchecked`` skips that check so tests can
    hand the sync a refund its NetSuite side cannot match."""
    with store.lock:
        n = _order_number(store, order_id, ["orderId"])
        order = store.orders[n]
        cur, pres = order["currencyCode"], order["presentmentCurrencyCode"]
        value = _dec(amount, ["amount"])
        if not value.is_finite() or value <= 0:
            raise UserError(["amount"], "Refund amount must be greater than 0", "INVALID")
        txns = order["transactions"]
        paid = [t for t in txns if t["kind"] in _PAID_KINDS and t["status"] == "SUCCESS"]
        parent = next((t for t in paid if t["id"] == parent_id), None) if parent_id else (paid[0] if paid else None)
        if parent is None:
            raise UserError(["parentTransactionId"], "No successful sale or capture to refund", "NOT_FOUND")

        def refunded(of: dict) -> Decimal:
            return sum((Decimal(t["amountSet"]["shopMoney"]["amount"]) for t in txns if t["kind"] == "REFUND"
                        and t["status"] == "SUCCESS" and (t["parentTransaction"] or {}).get("id") == of["id"]),
                       Decimal(0))

        if not unchecked and value > Decimal(parent["amountSet"]["shopMoney"]["amount"]) - refunded(parent):
            raise UserError(["amount"], "Refund amount exceeds the amount available to refund", "INVALID")
        tn, stamp = store.next_id("OrderTransaction"), iso(now_dt())
        shop_paid = Decimal(parent["amountSet"]["shopMoney"]["amount"])
        rate = Decimal(parent["amountSet"]["presentmentMoney"]["amount"]) / shop_paid if shop_paid else Decimal(1)
        refund = {
            "__typename": "OrderTransaction", "id": gid("OrderTransaction", tn), "kind": "REFUND",
            "status": "SUCCESS", "gateway": parent["gateway"],
            "amountSet": bag(value, cur, (value * rate).quantize(Decimal("0.01")), pres),
            "createdAt": stamp, "processedAt": stamp, "test": parent["test"], "parentTransaction": parent,
        }
        all_txns = [*txns, refund]
        total_paid = sum((Decimal(t["amountSet"]["shopMoney"]["amount"]) for t in paid), Decimal(0))
        total_refunded = sum((refunded(t) for t in paid), Decimal(0)) + value
        status = "REFUNDED" if total_refunded >= total_paid else "PARTIALLY_REFUNDED"
        record = _replace(store, n, transactions=all_txns, displayFinancialStatus=status)
    return record, [("orders/updated", record)]
