"""Record writes (reference §4.2–4.4, 4.6): JSON bodies validated like NetSuite and stored in the analytics
tables, so SuiteQL sees what the record API wrote.

Field names match case-insensitively on write (Oracle's own examples send ``entityid``), references are
``{"id": ...}`` or ``{"externalId": ...}``, and an unknown reference is a 400 ``INVALID_CONTENT`` whose
``o:errorPath`` names the field (``item.items[2].item``).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from . import inventory
from .db import AccountDB
from .errors import NetSuiteError, already_exists, invalid_field_value, not_found

RECORD_TABLES = {"customer": "customer", "salesOrder": "transaction", "customerDeposit": "transaction",
                 "customerPayment": "transaction", "customerRefund": "transaction", "itemFulfillment": "transaction",
                 "inventoryItem": "item"}
TRAN_TYPES = {"salesOrder": "SalesOrd", "customerDeposit": "CustDep", "customerPayment": "CustPymt",
              "customerRefund": "CustRfnd", "itemFulfillment": "ItemShip"}


def lower_keys(body: dict) -> dict:
    return {k.lower(): v for k, v in body.items()}


def user_error(detail: str, path: str | None = None) -> NetSuiteError:
    return NetSuiteError(400, "USER_ERROR", detail, path=path)


def missing(label: str, path: str) -> NetSuiteError:
    return user_error(f"Please enter value(s) for: {label}", path)


def number(value, field: str, path: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise invalid_field_value(value, field, path)
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise invalid_field_value(value, field, path) from None
    if not result.is_finite():
        raise invalid_field_value(value, field, path)
    return result


def boolean(value, field: str, path: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("T", "F", "true", "false"):
        return value in ("T", "true")
    raise invalid_field_value(value, field, path)


def date(value, field: str, path: str) -> dt.date:
    if not isinstance(value, str):
        raise invalid_field_value(value, field, path)
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        raise invalid_field_value(value, field, path) from None


def text(value, field: str, path: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise invalid_field_value(value, field, path)
    return str(value)


# NetSuite wants a dotted domain: an address Shopify accepts ("buyer@localhost") can still be refused here.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")


def email(value, field: str, path: str) -> str | None:
    result = text(value, field, path)
    if result and not _EMAIL.match(result):
        raise invalid_field_value(result, field, path)
    return result


def resolve_ref(db: AccountDB, value, table: str, field: str, path: str, where: str = "") -> int:
    """The internal id a reference object points at, or INVALID_CONTENT at ``path``."""
    if not isinstance(value, dict) or not ({"id", "externalId", "externalid"} & value.keys()):
        raise invalid_field_value(value, field, path)
    if value.get("id") is not None:
        raw = value["id"]
        try:
            rid = int(str(raw))
        except ValueError:
            raise invalid_field_value(raw, field, path) from None
        row = db.one(f"SELECT id FROM {table} WHERE id = ? {where}", [rid])
    else:
        raw = value.get("externalId", value.get("externalid"))
        row = db.one(f"SELECT id FROM {table} WHERE externalid = ? {where}", [str(raw)])
    if row is None:
        raise invalid_field_value(raw, field, path)
    return row[0]


def find_id(db: AccountDB, record_type: str, key: str) -> int | None:
    """Internal id for ``<id>`` or ``eid:<externalId>`` path segments of this record type."""
    table = RECORD_TABLES[record_type]
    where = ""
    params: list = []
    if record_type in TRAN_TYPES:
        where, params = " AND type = ?", [TRAN_TYPES[record_type]]
    elif record_type == "inventoryItem":
        where = " AND itemtype = 'InvtPart'"
    if key.startswith("eid:"):
        row = db.one(f"SELECT id FROM {table} WHERE externalid = ?{where}", [key[4:], *params])
    else:
        try:
            rid = int(key)
        except ValueError:
            return None
        row = db.one(f"SELECT id FROM {table} WHERE id = ?{where}", [rid, *params])
    return row[0] if row else None


def check_new_external_id(db: AccountDB, record_type: str, external_id: str | None) -> None:
    if external_id is not None and find_id(db, record_type, f"eid:{external_id}") is not None:
        raise already_exists()


class Writer:
    """Create / upsert / patch for the writable record types. Every public method holds the write lock and
    runs in one DuckDB transaction, so a refused write leaves nothing behind."""

    def __init__(self, db: AccountDB) -> None:
        self.db = db
        self.extras: dict[tuple[str, int], dict] = {}  # body fields with no analytics column (addresses...)

    def reset(self) -> None:
        self.extras.clear()

    def write(self, record_type: str, body: dict, *, record_id: int | None, external_id: str | None,
              mode: str, replace: set[str] = frozenset()) -> int:
        """mode: 'create' (POST), 'upsert' (PUT eid:, full body), 'patch' (PATCH, partial body)."""
        if not isinstance(body, dict):
            raise NetSuiteError(400, "INVALID_REQUEST", "The request could not be understood by the server due "
                                                        "to malformed syntax.")
        handler = {"customer": self._customer, "salesOrder": self._sales_order,
                   "customerDeposit": self._deposit, "customerPayment": self._payment,
                   "customerRefund": self._refund, "itemFulfillment": self._item_fulfillment}.get(record_type)
        if handler is None:
            raise NetSuiteError(405, "INVALID_REQUEST", f"Record type {record_type} does not support this "
                                                        "operation.")
        with self.db.write_lock:
            cur = self.db.cursor()
            saved = dict(self.extras.get((record_type, record_id), {})) if record_id is not None else None
            cur.begin()
            try:
                rid = handler(lower_keys(body), record_id, external_id, mode, replace)
                cur.commit()
            except BaseException:
                cur.rollback()
                if saved is not None:
                    self.extras[(record_type, record_id)] = saved
                raise
        return rid

    # ------------------------------------------------------------------------------------------ customer
    def _customer(self, b: dict, rid: int | None, eid: str | None, mode: str, replace) -> int:
        db, ts = self.db, self.db.now()
        fields = {"entityid": "entityid", "companyname": "companyname", "email": "email", "firstname": "firstname",
                  "lastname": "lastname", "phone": "phone"}
        values = {col: (email if key == "email" else text)(b[key], key, key) for key, col in fields.items() if key in b}
        for key in ("isperson", "isinactive"):
            if key in b:
                values[key] = "T" if boolean(b[key], key, key) else "F"
        if "currency" in b:
            values["currency"] = resolve_ref(db, b["currency"], "currency", "currency", "currency")
        if "subsidiary" in b:
            values["subsidiary"] = resolve_ref(db, b["subsidiary"], "subsidiary", "subsidiary", "subsidiary",
                                               "AND isinactive = 'F'")
        if "externalid" in b and mode != "upsert":
            values["externalid"] = text(b["externalid"], "externalid", "externalId")
        if rid is None:
            values.setdefault("externalid", eid)
            check_new_external_id(db, "customer", values["externalid"])
            person = values.get("isperson", "T" if not values.get("companyname") else "F") == "T"
            values["isperson"] = "T" if person else "F"
            if person and not (values.get("firstname") or values.get("lastname")):
                raise missing("First Name, Last Name", "firstName")
            if not person and not values.get("companyname"):
                raise missing("Company Name", "companyName")
            name = values.get("companyname") if not person else " ".join(
                filter(None, [values.get("firstname"), values.get("lastname")]))
            values.setdefault("entityid", name)
            values.setdefault("isinactive", "F")
            values.setdefault("currency", 1)
            if db.oneworld and values.get("subsidiary") is None:
                raise missing("Primary Subsidiary", "subsidiary")
            rid = db.next_id("customer")
            values.update(id=rid, datecreated=ts, lastmodifieddate=ts)
            cols = ", ".join(values)
            db.cursor().execute(f"INSERT INTO customer ({cols}) VALUES ({', '.join('?' * len(values))})",
                                list(values.values()))
        else:
            if "externalid" in values and values["externalid"] is not None:
                other = find_id(db, "customer", f"eid:{values['externalid']}")
                if other not in (None, rid):
                    raise already_exists()
            values["lastmodifieddate"] = ts
            db.cursor().execute(f"UPDATE customer SET {', '.join(f'{c} = ?' for c in values)} WHERE id = ?",
                                [*values.values(), rid])
        return rid

    # --------------------------------------------------------------------------------------- sales order
    def _sales_order(self, b: dict, rid: int | None, eid: str | None, mode: str, replace) -> int:
        db, ts = self.db, self.db.now()
        existing = db.dicts("SELECT * FROM transaction WHERE id = ?", [rid])[0] if rid is not None else None
        head: dict = {}
        if "entity" in b:
            head["entity"] = resolve_ref(db, b["entity"], "customer", "entity", "entity")
        elif existing is None:
            raise missing("Customer", "entity")
        if "trandate" in b:
            head["trandate"] = date(b["trandate"], "trandate", "tranDate")
        if "currency" in b:
            head["currency"] = resolve_ref(db, b["currency"], "currency", "currency", "currency")
        for key in ("memo", "otherrefnum", "email"):
            if key in b:
                head[key] = (email if key == "email" else text)(b[key], key, key)
        if "shipdate" in b:
            head["shipdate"] = date(b["shipdate"], "shipdate", "shipDate") if b["shipdate"] else None
        header_location = None
        if "location" in b and b["location"] is not None:
            header_location = resolve_ref(db, b["location"], "location", "location", "location")
        if "externalid" in b and mode != "upsert":
            head["externalid"] = text(b["externalid"], "externalid", "externalId")
        status = None
        for key in ("orderstatus", "status"):
            if key in b:
                value = b[key].get("id") if isinstance(b[key], dict) else b[key]
                if value not in ("A", "B"):
                    raise invalid_field_value(value, key, key if key == "status" else "orderStatus")
                status = value

        extras: dict = {}
        for key, name in (("shippingaddress", "shippingAddress"), ("billingaddress", "billingAddress"),
                          ("shipmethod", "shipMethod"), ("discountitem", "discountItem")):
            if key in b:
                extras[name] = b[key]
        money = {}
        for key, name in (("shippingcost", "shippingCost"), ("taxtotal", "taxTotal")):
            if key in b:
                money[name] = number(b[key], key, name) if b[key] is not None else None
        if "discountrate" in b:
            money["discountRate"] = b["discountrate"]

        if existing is None:
            head.setdefault("externalid", eid)
            check_new_external_id(db, "salesOrder", head["externalid"])
            rid = db.next_id("transaction")
            head.update(id=rid, tranid=db.next_tranid("SalesOrd"), type="SalesOrd", recordtype="salesorder",
                        status=status or "B", createddate=ts, lastmodifieddate=ts, posting="F", voided="F")
            head.setdefault("trandate", ts.date())
            head.setdefault("currency", 1)
            cols = ", ".join(head)
            db.cursor().execute(f"INSERT INTO transaction ({cols}) VALUES ({', '.join('?' * len(head))})",
                                list(head.values()))
            self.extras[("salesOrder", rid)] = {"location": header_location}
        else:
            if head.get("externalid") not in (None, existing["externalid"]):
                if find_id(db, "salesOrder", f"eid:{head['externalid']}") is not None:
                    raise already_exists()
            if status is not None and existing["status"] in ("A", "B"):
                head["status"] = status
            head["lastmodifieddate"] = ts
            db.cursor().execute(f"UPDATE transaction SET {', '.join(f'{c} = ?' for c in head)} WHERE id = ?",
                                [*head.values(), rid])
            if "location" in b:
                self.extras.setdefault(("salesOrder", rid), {})["location"] = header_location
        stored = self.extras.setdefault(("salesOrder", rid), {})
        stored.update(extras)
        stored.update({k: v for k, v in money.items()})

        touched: set[tuple[int, int]] = set()
        if "item" in b:
            lines = b["item"]
            specs = lines.get("items") if isinstance(lines, dict) else None if lines is None else lines
            if lines is not None and not isinstance(specs, list):
                raise invalid_field_value(lines, "item", "item")
            mode_lines = "replace" if (mode == "upsert" or existing is None or "item" in replace) else "merge"
            touched |= self._apply_lines(rid, specs or [], mode_lines, stored.get("location"), ts)
        elif existing is None:
            raise missing("Items", "item")
        if not db.one("SELECT 1 FROM transactionline WHERE transaction = ? AND mainline = 'F' "
                      "AND item IS NOT NULL", [rid]):
            raise missing("Items", "item")
        self._summarize(rid, stored, ts)
        touched |= {(i, loc) for i, loc in db.all(
            "SELECT item, location FROM transactionline WHERE transaction = ? AND itemtype = 'InvtPart' "
            "AND location IS NOT NULL", [rid])}
        inventory.recompute(db, touched, ts)
        return rid

    def _apply_lines(self, so_id: int, specs: list, mode: str, header_location: int | None,
                     ts: dt.datetime) -> set[tuple[int, int]]:
        """Keyed-sublist semantics (reference §4.4): lines match on ``line`` (or position under replace);
        merge appends unmatched lines, replace also removes existing lines that were not matched."""
        db, cur = self.db, self.db.cursor()
        existing = {row["id"]: row for row in db.dicts(
            "SELECT * FROM transactionline WHERE transaction = ? AND mainline = 'F' AND item IS NOT NULL "
            "ORDER BY id", [so_id])}
        positional = sorted(existing)
        matched: set[int] = set()
        touched = {(r["item"], r["location"]) for r in existing.values()
                   if r["location"] is not None and r["itemtype"] == "InvtPart"}
        next_line = max([0, *db.all("SELECT coalesce(max(id), 0) FROM transactionline WHERE transaction = ?",
                                    [so_id])[0]]) + 1
        default_location = header_location or (db.one("SELECT min(id) FROM location") or [None])[0]
        for i, spec in enumerate(specs):
            path = f"item.items[{i}]"
            if not isinstance(spec, dict):
                raise invalid_field_value(spec, "item", path)
            s = lower_keys(spec)
            line_id = None
            if s.get("line") is not None:
                line_id = int(number(s["line"], "line", f"{path}.line"))
                if line_id not in existing:
                    raise invalid_field_value(s["line"], "line", f"{path}.line")
            elif mode == "replace" and i < len(positional):
                line_id = positional[i]
            old = existing.get(line_id) if line_id is not None else None
            if "item" in s:
                item = resolve_ref(db, s["item"], "item", "item", f"{path}.item", "AND matrixtype IS DISTINCT "
                                                                                  "FROM 'PARENT'")
            elif old is not None:
                item = old["item"]
            else:
                raise missing("Item", f"{path}.item")
            # Discount, tax and other non-inventory items ride on the sublist too, but commit no stock.
            itemtype = db.one("SELECT itemtype FROM item WHERE id = ?", [item])[0]
            if old is not None and old["item"] != item:
                if old["quantityshiprecv"]:
                    raise user_error("You cannot change the item on a line that has been fulfilled.",
                                     f"{path}.item")
                line_id, old = None, None  # a different item at this position: a new line
            qty = number(s["quantity"], "quantity", f"{path}.quantity") if "quantity" in s else (
                Decimal(str(-old["quantity"])) if old else Decimal(1))
            if qty <= 0:
                raise invalid_field_value(s["quantity"], "quantity", f"{path}.quantity")
            fulfilled = Decimal(str(old["quantityshiprecv"] or 0)) if old else Decimal(0)
            if qty < fulfilled:
                raise user_error("The quantity cannot be less than the quantity already fulfilled.",
                                 f"{path}.quantity")
            rate = number(s["rate"], "rate", f"{path}.rate") if s.get("rate") is not None else None
            amount = number(s["amount"], "amount", f"{path}.amount") if s.get("amount") is not None else None
            if rate is None and amount is None and old is not None and "quantity" not in s:
                rate, amount = Decimal(str(old["rate"])), Decimal(str(-old["foreignamount"]))
            if rate is None and amount is not None:
                rate = (amount / qty).quantize(Decimal("0.01"))
            if rate is None:
                rate = old and Decimal(str(old["rate"])) or self._base_price(item)
            if amount is None:
                amount = (rate * qty).quantize(Decimal("0.01"))
            if "location" in s and s["location"] is not None:
                location = resolve_ref(db, s["location"], "location", "location", f"{path}.location")
            else:
                location = old["location"] if old else default_location
            closed = boolean(s["isclosed"], "isclosed", f"{path}.isClosed") if "isclosed" in s else (
                old is not None and old["isclosed"] == "T")
            memo = text(s["description"], "description", f"{path}.description") if "description" in s else (
                old["memo"] if old else None)
            values = dict(item=item, quantity=-float(qty), rate=rate, rateamount=rate, netamount=-amount,
                          foreignamount=-amount, location=location, isclosed="T" if closed else "F", memo=memo,
                          linelastmodifieddate=ts)
            if old is not None:
                matched.add(line_id)
                cur.execute(f"UPDATE transactionline SET {', '.join(f'{c} = ?' for c in values)} "
                            "WHERE transaction = ? AND id = ?", [*values.values(), so_id, line_id])
            else:
                values.update(transaction=so_id, id=next_line, linesequencenumber=next_line, quantityshiprecv=0.0,
                              mainline="F", taxline="F", donotdisplayline="F", itemtype=itemtype,
                              isinventoryaffecting="T" if itemtype == "InvtPart" else "F")
                next_line += 1
                cur.execute(f"INSERT INTO transactionline ({', '.join(values)}) VALUES "
                            f"({', '.join('?' * len(values))})", list(values.values()))
            if location is not None and itemtype == "InvtPart":
                touched.add((item, location))
        if mode == "replace":
            for line_id in set(existing) - matched:
                if existing[line_id]["quantityshiprecv"]:
                    raise user_error("You cannot remove a line that has been fulfilled.", "item")
                cur.execute("DELETE FROM transactionline WHERE transaction = ? AND id = ?", [so_id, line_id])
        return touched

    def _base_price(self, item: int) -> Decimal:
        row = self.db.one("SELECT unitprice FROM pricing WHERE item = ? ORDER BY pricelevel LIMIT 1", [item])
        return Decimal(str(row[0])) if row else Decimal(0)

    def _summarize(self, so_id: int, stored: dict, ts: dt.datetime) -> None:
        """Rewrite the header, shipping, discount and tax lines and the totals from the item lines."""
        db, cur = self.db, self.db.cursor()
        cur.execute("DELETE FROM transactionline WHERE transaction = ? AND (mainline = 'T' OR item IS NULL "
                    "OR taxline = 'T')", [so_id])
        head = db.dicts("SELECT entity, status FROM transaction WHERE id = ?", [so_id])[0]
        subtotal = Decimal(str(db.one("SELECT coalesce(sum(-foreignamount), 0) FROM transactionline WHERE "
                                      "transaction = ? AND isclosed = 'F'", [so_id])[0]))
        open_lines = db.one("SELECT count(*) FROM transactionline WHERE transaction = ? AND isclosed = 'F'",
                            [so_id])[0]
        discount = self._discount(stored.get("discountRate"), subtotal)
        shipping = stored.get("shippingCost") or Decimal(0)
        tax = stored.get("taxTotal") or Decimal(0)
        total = subtotal + discount + shipping + tax
        next_line = db.one("SELECT coalesce(max(id), 0) + 1 FROM transactionline WHERE transaction = ?",
                           [so_id])[0]
        extra = [(0, None, total, "T", "F", None)]
        for amount, itemtype, taxline in ((shipping, "ShipItem", "F"), (discount, "Discount", "F"),
                                          (tax, None, "T")):
            if amount:
                extra.append((next_line, itemtype, -amount, "F", taxline, None))
                next_line += 1
        for line_id, itemtype, amount, mainline, taxline, _ in extra:
            cur.execute("INSERT INTO transactionline (transaction, id, linesequencenumber, foreignamount, "
                        "netamount, mainline, taxline, donotdisplayline, itemtype, entity, isclosed, "
                        "isinventoryaffecting, linelastmodifieddate, location) VALUES "
                        "(?, ?, ?, ?, ?, ?, ?, 'F', ?, ?, 'F', 'F', ?, ?)",
                        [so_id, line_id, line_id, amount, amount, mainline, taxline, itemtype, head["entity"], ts,
                         self.extras.get(("salesOrder", so_id), {}).get("location")])
        cur.execute("UPDATE transactionline SET entity = ? WHERE transaction = ?", [head["entity"], so_id])
        status = head["status"]
        if open_lines == 0 and status in ("A", "B", "D", "E"):
            status = "H"  # every line closed: the order is closed (how REST cancels an order)
        cur.execute("UPDATE transaction SET foreigntotal = ?, foreignamountunpaid = ?, status = ? WHERE id = ?",
                    [total, total, status, so_id])

    @staticmethod
    def _discount(rate, subtotal: Decimal) -> Decimal:
        """discountRate: an amount (-5.00) or a percentage string ('-10%'); discounts are negative."""
        if rate in (None, ""):
            return Decimal(0)
        if isinstance(rate, str) and rate.strip().endswith("%"):
            pct = number(rate.strip()[:-1], "discountrate", "discountRate")
            return (subtotal * pct / 100).quantize(Decimal("0.01"))
        return number(rate, "discountrate", "discountRate").quantize(Decimal("0.01"))

    # ---------------------------------------------------------------------------------- item fulfillment
    _FULFILLMENT_FIELDS = frozenset({"package", "memo"})

    def _item_fulfillment(self, b: dict, rid: int | None, eid: str | None, mode: str, replace) -> int:
        """PATCH of a shipped fulfillment's ``package`` sublist (tracking numbers) and ``memo``.

        ``package`` is not keyed (reference §4.4): its lines are appended unless ``?replace=package``, and
        ``{"package": null}`` / ``{"package": {"items": null}}`` clears it. Package lines live in the
        ``trackingnumber`` tables, so a line without a tracking number is not kept. Saving moves
        ``lastModifiedDate``, as any record save does in NetSuite."""
        if mode != "patch" or rid is None:
            raise NetSuiteError(405, "INVALID_REQUEST", "The sandbox creates item fulfillments only by shipping a "
                                "sales order; itemFulfillment supports GET and PATCH here.")
        unsupported = sorted(set(b) - self._FULFILLMENT_FIELDS - {"id", "links"})
        if unsupported:
            raise user_error(f"The sandbox can change only package and memo on an item fulfillment, not "
                             f"{', '.join(unsupported)}.", unsupported[0])
        db, cur, ts = self.db, self.db.cursor(), self.db.now()
        head: dict = {"lastmodifieddate": ts}
        if "memo" in b:
            head["memo"] = text(b["memo"], "memo", "memo")
        if "package" in b:
            numbers = self._package_numbers(b["package"])
            if numbers is None or "package" in replace:
                old = [r[0] for r in db.all("SELECT trackingnumber FROM trackingnumbermap WHERE transaction = ?",
                                            [rid])]
                cur.execute("DELETE FROM trackingnumbermap WHERE transaction = ?", [rid])
                if old:
                    cur.execute(f"DELETE FROM trackingnumber WHERE id IN ({', '.join('?' * len(old))})", old)
            for number in numbers or []:
                tracking_id = db.next_id("tracking")
                cur.execute("INSERT INTO trackingnumber VALUES (?, ?, NULL)", [tracking_id, number])
                cur.execute("INSERT INTO trackingnumbermap VALUES (?, ?)", [rid, tracking_id])
            self._relink_tracking(rid)
        cur.execute(f"UPDATE transaction SET {', '.join(f'{c} = ?' for c in head)} WHERE id = ?",
                    [*head.values(), rid])
        return rid

    @staticmethod
    def _package_numbers(value) -> list[str] | None:
        """Tracking numbers of a ``package`` body value; None when it clears the sublist."""
        if value is None:
            return None
        lines = value.get("items") if isinstance(value, dict) else None
        if isinstance(value, dict) and lines is None and "items" in value:
            return None
        if not isinstance(lines, list):
            raise invalid_field_value(value, "package", "package")
        numbers = []
        for i, line in enumerate(lines):
            if not isinstance(line, dict):
                raise invalid_field_value(line, "package", f"package.items[{i}]")
            number = text(lower_keys(line).get("packagetrackingnumber"), "packagetrackingnumber",
                          f"package.items[{i}].packageTrackingNumber")
            if number and number.strip():
                numbers.append(number.strip())
        return numbers

    def _relink_tracking(self, fulfillment_id: int) -> None:
        """Keep the sales order's ``linkedTrackingNumbers`` equal to its fulfillments' tracking numbers."""
        db = self.db
        for (so_id,) in db.all("SELECT DISTINCT previousdoc FROM previoustransactionlinelink WHERE nextdoc = ?",
                               [fulfillment_id]):
            numbers = [n for (n,) in db.all(
                "SELECT tn.trackingnumber FROM trackingnumbermap m JOIN trackingnumber tn ON tn.id = m.trackingnumber "
                "WHERE m.transaction IN (SELECT DISTINCT nextdoc FROM previoustransactionlinelink "
                "WHERE previousdoc = ? AND nexttype = 'ItemShip') ORDER BY tn.id", [so_id])]
            db.cursor().execute("UPDATE transaction SET linkedtrackingnumberlist = ? WHERE id = ?",
                                [" ".join(numbers) or None, so_id])

    # ------------------------------------------------------------------------------ deposits / payments
    def _payment_common(self, b: dict, rid, eid, mode: str, trantype: str, record_type: str,
                        amount_field: bool = True) -> tuple[int, dict]:
        """Header of a deposit, payment or refund; ``amount_field``: the body carries ``payment`` (a refund's
        total is instead the sum of what it applies)."""
        db, ts = self.db, self.db.now()
        existing = rid is not None
        head: dict = {}
        if "customer" in b:
            head["entity"] = resolve_ref(db, b["customer"], "customer", "customer", "customer")
        elif not existing:
            raise missing("Customer", "customer")
        if amount_field and "payment" in b:
            amount = number(b["payment"], "payment", "payment")
            if amount <= 0:
                raise invalid_field_value(b["payment"], "payment", "payment")
            head["foreigntotal"] = amount
        elif amount_field and not existing:
            raise missing("Payment Amount", "payment")
        if not existing and not amount_field:
            head["foreigntotal"] = Decimal(0)
        if "trandate" in b:
            head["trandate"] = date(b["trandate"], "trandate", "tranDate")
        if "currency" in b:
            head["currency"] = resolve_ref(db, b["currency"], "currency", "currency", "currency")
        if "memo" in b:
            head["memo"] = text(b["memo"], "memo", "memo")
        if "externalid" in b and mode != "upsert":
            head["externalid"] = text(b["externalid"], "externalid", "externalId")
        if not existing:
            head.setdefault("externalid", eid)
            check_new_external_id(db, record_type, head["externalid"])
            rid = db.next_id("transaction")
            head.update(id=rid, tranid=db.next_tranid(trantype), type=trantype, recordtype=record_type.lower(),
                        status={"CustPymt": "B", "CustRfnd": None}.get(trantype, "A"), createddate=ts, lastmodifieddate=ts,
                        posting="T", voided="F")
            head.setdefault("trandate", ts.date())
            head.setdefault("currency", 1)
            db.cursor().execute(f"INSERT INTO transaction ({', '.join(head)}) VALUES "
                                f"({', '.join('?' * len(head))})", list(head.values()))
        else:
            head["lastmodifieddate"] = ts
            db.cursor().execute(f"UPDATE transaction SET {', '.join(f'{c} = ?' for c in head)} WHERE id = ?",
                                [*head.values(), rid])
        for key, table in (("account", "account"), ("paymentoption", "paymentmethod")):
            if b.get(key) is not None:  # checked like any reference: a wrong id is INVALID_CONTENT at the field
                resolve_ref(db, b[key], table, key, {"paymentoption": "paymentOption"}.get(key, key), "AND isinactive = 'F'")
        stored = self.extras.setdefault((record_type, rid), {})
        for key, name in (("paymentoption", "paymentOption"), ("account", "account"),
                          ("undepfunds", "undepFunds"), ("paymentmethod", "paymentMethod")):
            if key in b:
                stored[name] = b[key]
        return rid, stored

    def _mainline(self, tran_id: int, created_from: int | None) -> None:
        db, ts = self.db, self.db.now()
        entity, total = db.one("SELECT entity, foreigntotal FROM transaction WHERE id = ?", [tran_id])
        db.cursor().execute("DELETE FROM transactionline WHERE transaction = ? AND mainline = 'T'", [tran_id])
        db.cursor().execute("INSERT INTO transactionline (transaction, id, linesequencenumber, foreignamount, "
                            "netamount, mainline, taxline, donotdisplayline, createdfrom, entity, isclosed, "
                            "isinventoryaffecting, linelastmodifieddate) VALUES (?, 0, 0, ?, ?, 'T', 'F', 'F', ?, ?, "
                            "'F', 'F', ?)", [tran_id, total, total, created_from, entity, ts])

    def _deposit(self, b: dict, rid, eid, mode: str, replace) -> int:
        rid, stored = self._payment_common(b, rid, eid, mode, "CustDep", "customerDeposit")
        if "salesorder" in b:
            stored["salesOrder"] = None if b["salesorder"] is None else resolve_ref(
                self.db, b["salesorder"], "transaction", "salesorder", "salesOrder", "AND type = 'SalesOrd'")
        self._mainline(rid, stored.get("salesOrder"))
        return rid

    def _payment(self, b: dict, rid, eid, mode: str, replace) -> int:
        rid, stored = self._payment_common(b, rid, eid, mode, "CustPymt", "customerPayment")
        if "apply" in b:
            lines = b["apply"].get("items") if isinstance(b["apply"], dict) else None
            if not isinstance(lines, list):
                raise invalid_field_value(b["apply"], "apply", "apply")
            applied = []
            for i, spec in enumerate(lines):
                path = f"apply.items[{i}]"
                if not isinstance(spec, dict):
                    raise invalid_field_value(spec, "apply", path)
                s = lower_keys(spec)
                doc = resolve_ref(self.db, s.get("doc"), "transaction", "doc", f"{path}.doc")
                apply = boolean(s.get("apply", True), "apply", f"{path}.apply")
                amount = number(s["amount"], "amount", f"{path}.amount") if "amount" in s else None
                applied.append({"doc": doc, "apply": apply, "amount": amount})
            stored["apply"] = applied
        self._mainline(rid, None)
        return rid

    def _refund(self, b: dict, rid, eid, mode: str, replace) -> int:
        """A customer refund paid out of customer deposits (its ``deposit`` sublist: ``doc``, ``apply``,
        ``amount``). Each applied amount must fit what the deposit still holds after its other refunds; the
        refund's total is the sum applied. The links land in ``previoustransactionlinelink`` (deposit →
        refund), which is how SuiteQL sees what a refund paid out of which deposit."""
        if rid is None and "deposit" not in b:
            raise missing("Deposits", "deposit")
        rid, stored = self._payment_common(b, rid, eid, mode, "CustRfnd", "customerRefund", amount_field=False)
        db, cur, ts = self.db, self.db.cursor(), self.db.now()
        entity = db.one("SELECT entity FROM transaction WHERE id = ?", [rid])[0]
        if "deposit" in b:
            lines = b["deposit"].get("items") if isinstance(b["deposit"], dict) else None
            if not isinstance(lines, list):
                raise invalid_field_value(b["deposit"], "deposit", "deposit")
            cur.execute("DELETE FROM previoustransactionlinelink WHERE nextdoc = ? AND nexttype = 'CustRfnd'", [rid])
            for i, spec in enumerate(lines):
                path = f"deposit.items[{i}]"
                if not isinstance(spec, dict):
                    raise invalid_field_value(spec, "deposit", path)
                s = lower_keys(spec)
                doc = resolve_ref(db, s.get("doc"), "transaction", "doc", f"{path}.doc", "AND type = 'CustDep'")
                if not boolean(s.get("apply", True), "apply", f"{path}.apply"):
                    continue
                dep_entity, dep_total = db.one("SELECT entity, foreigntotal FROM transaction WHERE id = ?", [doc])
                if dep_entity != entity:
                    raise user_error("The deposit belongs to another customer.", f"{path}.doc")
                if "amount" not in s:
                    raise missing("Amount", f"{path}.amount")
                amount = number(s["amount"], "amount", f"{path}.amount")
                refunded = Decimal(str(db.one(
                    "SELECT coalesce(sum(foreignamount), 0) FROM previoustransactionlinelink WHERE previousdoc = ? "
                    "AND nexttype = 'CustRfnd'", [doc])[0]))
                remaining = Decimal(str(dep_total)) - refunded
                if amount <= 0 or amount > remaining:
                    raise user_error(f"The amount to refund ({amount}) must be more than 0 and not more than "
                                     f"the deposit's remaining amount ({remaining}).", f"{path}.amount")
                cur.execute("INSERT INTO previoustransactionlinelink VALUES (?, 0, ?, 0, 'CustDep', 'CustRfnd', "
                            "'DepRfnd', ?, ?)", [doc, rid, amount, ts])
        total = db.one("SELECT sum(foreignamount) FROM previoustransactionlinelink WHERE nextdoc = ? "
                       "AND nexttype = 'CustRfnd'", [rid])[0]
        if total is None:
            raise user_error("You must apply the refund to at least one deposit.", "deposit")
        cur.execute("UPDATE transaction SET foreigntotal = ? WHERE id = ?", [total, rid])
        self._mainline(rid, None)
        return rid


def require(db: AccountDB, record_type: str, key: str) -> int:
    rid = find_id(db, record_type, key)
    if rid is None:
        raise not_found()
    return rid
