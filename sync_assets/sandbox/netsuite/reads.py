"""Record reads (reference §4.1, 4.5): camelCase bodies, refs as ``{links, id, refName}``, enums as
``{id, refName}``, ISO-8601 UTC datetimes, sublists as link stubs unless ``expandSubResources=true``."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo
from decimal import Decimal

from .db import SALES_ORDER_STATUS, AccountDB
from .writes import Writer


class Renderer:
    def __init__(self, db: AccountDB, writer: Writer, record_base: str) -> None:
        self.db = db
        self.writer = writer
        self.base = record_base.rstrip("/")  # e.g. http://127.0.0.1:8765/services/rest/record/v1

    # ----------------------------------------------------------------------------------------- helpers
    def link(self, path: str) -> list[dict]:
        return [{"rel": "self", "href": f"{self.base}/{path}"}]

    def ref(self, record_type: str, rid, name: str | None = None) -> dict | None:
        if rid is None:
            return None
        out = {"links": self.link(f"{record_type}/{rid}"), "id": str(rid)}
        if name is not None:
            out["refName"] = name
        return out

    def entity_ref(self, rid) -> dict | None:
        row = self.db.one("SELECT entityid FROM customer WHERE id = ?", [rid]) if rid is not None else None
        return self.ref("customer", rid, row[0] if row else None)

    def location_ref(self, rid) -> dict | None:
        row = self.db.one("SELECT name FROM location WHERE id = ?", [rid]) if rid is not None else None
        return self.ref("location", rid, row[0] if row else None)

    def item_ref(self, rid) -> dict | None:
        row = self.db.one("SELECT itemid FROM item WHERE id = ?", [rid]) if rid is not None else None
        return self.ref("inventoryItem", rid, row[0] if row else None)

    def subsidiary_ref(self, rid) -> dict | None:
        row = self.db.one("SELECT name FROM subsidiary WHERE id = ?", [rid]) if rid is not None else None
        return self.ref("subsidiary", rid, row[0] if row else None)

    def currency_ref(self, rid) -> dict | None:
        row = self.db.one("SELECT name FROM currency WHERE id = ?", [rid]) if rid is not None else None
        return self.ref("currency", rid, row[0] if row else None)

    def tran_ref(self, rid) -> dict | None:
        if rid is None:
            return None
        row = self.db.one("SELECT recordtype, tranid, type FROM transaction WHERE id = ?", [rid])
        if row is None:
            return None
        record = {"salesorder": "salesOrder", "itemfulfillment": "itemFulfillment", "customerdeposit":
                  "customerDeposit", "customerpayment": "customerPayment", "customerrefund": "customerRefund"}.get(row[0], row[0])
        return self.ref(record, rid, row[1])

    def sublist(self, path: str, lines: list[dict], expand: bool) -> dict:
        if not expand:
            return {"links": self.link(path)}
        return {"links": self.link(path), "count": len(lines), "hasMore": False, "items": lines, "offset": 0,
                "totalResults": len(lines)}

    def iso(self, value) -> str | None:
        if isinstance(value, dt.datetime):  # stored in the user's zone; the record API speaks UTC
            moment = value.replace(tzinfo=ZoneInfo(self.db.timezone)).astimezone(dt.UTC)
            return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        if isinstance(value, dt.date):
            return value.isoformat()
        return None

    @staticmethod
    def num(value):
        if value is None:
            return None
        if isinstance(value, Decimal):
            return float(value)
        return value

    @staticmethod
    def clean(body: dict) -> dict:
        return {k: v for k, v in body.items() if v is not None}

    # ------------------------------------------------------------------------------------------- types
    def render(self, record_type: str, rid: int, expand: bool) -> dict:
        return getattr(self, f"_{record_type}")(rid, expand)

    def _customer(self, rid: int, expand: bool) -> dict:
        c = self.db.dicts("SELECT * FROM customer WHERE id = ?", [rid])[0]
        return self.clean({
            "links": self.link(f"customer/{rid}"), "id": str(rid), "entityId": c["entityid"],
            "companyName": c["companyname"], "firstName": c["firstname"], "lastName": c["lastname"],
            "email": c["email"], "phone": c["phone"], "isPerson": c["isperson"] == "T",
            "isInactive": c["isinactive"] == "T", "externalId": c["externalid"],
            "currency": self.currency_ref(c["currency"]), "dateCreated": self.iso(c["datecreated"]),
            "subsidiary": self.subsidiary_ref(c["subsidiary"]),
            "lastModifiedDate": self.iso(c["lastmodifieddate"]), "refName": c["entityid"],
            "addressBook": self.sublist(f"customer/{rid}/addressBook", [], expand),
        })

    def _tran_head(self, t: dict, record_type: str) -> dict:
        return {
            "links": self.link(f"{record_type}/{t['id']}"), "id": str(t["id"]), "tranId": t["tranid"],
            "tranDate": self.iso(t["trandate"]), "externalId": t["externalid"], "memo": t["memo"],
            "currency": self.currency_ref(t["currency"]), "createdDate": self.iso(t["createddate"]),
            "lastModifiedDate": self.iso(t["lastmodifieddate"]), "refName": t["tranid"],
        }

    def _salesOrder(self, rid: int, expand: bool) -> dict:
        t = self.db.dicts("SELECT * FROM transaction WHERE id = ?", [rid])[0]
        extras = self.writer.extras.get(("salesOrder", rid), {})
        lines = self.db.dicts("SELECT * FROM transactionline WHERE transaction = ? AND mainline = 'F' AND "
                              "item IS NOT NULL ORDER BY id", [rid])
        rendered = [self.clean({
            "links": self.link(f"salesOrder/{rid}/item/{ln['id']}"), "line": ln["id"],
            "item": self.item_ref(ln["item"]), "quantity": -ln["quantity"], "rate": self.num(ln["rate"]),
            "amount": -self.num(ln["foreignamount"]), "description": ln["memo"],
            "location": self.location_ref(ln["location"]), "isClosed": ln["isclosed"] == "T",
            "quantityFulfilled": ln["quantityshiprecv"] or 0.0, "itemType": {"id": ln["itemtype"],
                                                                             "refName": ln["itemtype"]},
        }) for ln in lines]
        subtotal = sum((-(ln["foreignamount"] or 0) for ln in lines if ln["isclosed"] == "F"), Decimal(0))
        body = self._tran_head(t, "salesOrder")
        body.update({
            "entity": self.entity_ref(t["entity"]), "otherRefNum": t["otherrefnum"], "email": t["email"],
            "status": {"id": t["status"], "refName": SALES_ORDER_STATUS.get(t["status"], t["status"])},
            "orderStatus": {"id": t["status"], "refName": SALES_ORDER_STATUS.get(t["status"], t["status"])},
            "location": self.location_ref(extras.get("location")), "total": self.num(t["foreigntotal"]),
            "subtotal": float(subtotal), "shippingCost": self.num(extras.get("shippingCost")),
            "taxTotal": self.num(extras.get("taxTotal")), "shipDate": self.iso(t["shipdate"]),
            "shipMethod": extras.get("shipMethod"), "discountItem": extras.get("discountItem"),
            "discountRate": extras.get("discountRate"), "linkedTrackingNumbers": t["linkedtrackingnumberlist"],
            "item": self.sublist(f"salesOrder/{rid}/item", rendered, expand),
        })
        for key in ("shippingAddress", "billingAddress"):
            if key in extras:
                body[key] = extras[key] if expand else {"links": self.link(f"salesOrder/{rid}/{key}")}
        return self.clean(body)

    def _itemFulfillment(self, rid: int, expand: bool) -> dict:
        t = self.db.dicts("SELECT * FROM transaction WHERE id = ?", [rid])[0]
        lines = self.db.dicts("SELECT l.*, p.previousline FROM transactionline l LEFT JOIN "
                              "previoustransactionlinelink p ON p.nextdoc = l.transaction AND p.nextline = l.id "
                              "WHERE l.transaction = ? AND l.mainline = 'F' ORDER BY l.id", [rid])
        created_from = self.db.one("SELECT createdfrom FROM transactionline WHERE transaction = ? AND "
                                   "mainline = 'T'", [rid])
        packages = self.db.all("SELECT tn.trackingnumber FROM trackingnumbermap m JOIN trackingnumber tn ON "
                               "tn.id = m.trackingnumber WHERE m.transaction = ? ORDER BY tn.id", [rid])
        body = self._tran_head(t, "itemFulfillment")
        body.update({
            "entity": self.entity_ref(t["entity"]),
            "createdFrom": self.tran_ref(created_from[0] if created_from else None),
            "shipStatus": {"id": "C", "refName": "Shipped"}, "status": {"id": "C", "refName": "Shipped"},
            "shippedDate": self.iso(t["actualshipdate"]),
            "item": self.sublist(f"itemFulfillment/{rid}/item", [self.clean({
                "links": self.link(f"itemFulfillment/{rid}/item/{ln['id']}"), "line": ln["id"],
                "item": self.item_ref(ln["item"]), "quantity": -ln["quantity"], "itemReceive": True,
                "orderLine": ln["previousline"], "location": self.location_ref(ln["location"]),
            }) for ln in lines], expand),
            "package": self.sublist(f"itemFulfillment/{rid}/package", [
                {"links": self.link(f"itemFulfillment/{rid}/package/{n}"), "packageTrackingNumber": number,
                 "packageWeight": 1.0} for n, (number,) in enumerate(packages, start=1)], expand),
        })
        return self.clean(body)

    def _payment_head(self, rid: int, record_type: str) -> tuple[dict, dict]:
        t = self.db.dicts("SELECT * FROM transaction WHERE id = ?", [rid])[0]
        extras = self.writer.extras.get((record_type, rid), {})
        body = self._tran_head(t, record_type)
        body.update({"customer": self.entity_ref(t["entity"]), "payment": self.num(t["foreigntotal"]),
                     "total": self.num(t["foreigntotal"]), "paymentOption": extras.get("paymentOption"),
                     "account": extras.get("account"), "undepFunds": extras.get("undepFunds")})
        return body, extras

    def _customerDeposit(self, rid: int, expand: bool) -> dict:
        body, extras = self._payment_head(rid, "customerDeposit")
        body["salesOrder"] = self.tran_ref(extras.get("salesOrder"))
        return self.clean(body)

    def _customerPayment(self, rid: int, expand: bool) -> dict:
        body, extras = self._payment_head(rid, "customerPayment")
        lines = [self.clean({"doc": self.tran_ref(a["doc"]), "apply": a["apply"], "amount": self.num(a["amount"]),
                             "line": n}) for n, a in enumerate(extras.get("apply", []))]
        body["apply"] = self.sublist(f"customerPayment/{rid}/apply", lines, expand)
        return self.clean(body)

    def _customerRefund(self, rid: int, expand: bool) -> dict:
        """Like NetSuite, a GET leaves the ``deposit`` sublist empty (Oracle: "the deposit sublist in the GET
        request is empty"); what the refund paid out of which deposit is in SuiteQL's
        ``previoustransactionlinelink``."""
        body, _ = self._payment_head(rid, "customerRefund")
        del body["payment"]
        body["deposit"] = self.sublist(f"customerRefund/{rid}/deposit", [], expand)
        return self.clean(body)

    def _inventoryItem(self, rid: int, expand: bool) -> dict:
        i = self.db.dicts("SELECT * FROM item WHERE id = ?", [rid])[0]
        stock = self.db.dicts("SELECT * FROM inventoryitemlocations WHERE item = ? ORDER BY location", [rid])
        return self.clean({
            "links": self.link(f"inventoryItem/{rid}"), "id": str(rid), "itemId": i["itemid"],
            "displayName": i["displayname"], "description": i["description"], "upcCode": i["upccode"],
            "externalId": i["externalid"], "isInactive": i["isinactive"] == "T", "cost": self.num(i["cost"]),
            "averageCost": self.num(i["averagecost"]), "weight": i["weight"], "manufacturer": i["manufacturer"],
            "parent": self.item_ref(i["parent"]), "createdDate": self.iso(i["createddate"]),
            "lastModifiedDate": self.iso(i["lastmodifieddate"]), "refName": i["itemid"],
            "locations": self.sublist(f"inventoryItem/{rid}/locations", [self.clean({
                "links": self.link(f"inventoryItem/{rid}/locations/{s['location']}"),
                "location": self.location_ref(s["location"]), "locationId": self.location_ref(s["location"]),
                "quantityOnHand": s["quantityonhand"], "quantityAvailable": s["quantityavailable"],
                "quantityCommitted": s["quantitycommitted"], "quantityBackOrdered": s["quantitybackordered"],
                "quantityInTransit": s["quantityintransit"], "quantityOnOrder": s["quantityonorder"],
            }) for s in stock], expand),
        })
