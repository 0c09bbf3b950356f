"""What a merchandiser does to items in the NetSuite UI: change a price, a description, deactivate, delete.

Every edit moves the item's ``lastmodifieddate`` as NetSuite does (a price lives on the item record, so a
price change modifies the item). NetSuite keeps whole seconds; an edit within the second of the previous
version still gets a later stamp here, so "modified since" probes always see it. A deletion removes the
item (a matrix parent takes its children with it) with its prices and stock, and leaves a row in
``deletedrecord`` (reference §3: Deletions), which is the only trace SuiteQL keeps of it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from .db import AccountDB

EDITABLE_FIELDS = ("description", "displayname", "isinactive")
DELETED_TYPE_ID = "inventoryitem"  # the record type's script id, as deletedrecord.recordtypeid shows it


class CatalogEditError(ValueError):
    """An edit naming something the account does not have; the message says what."""


def item_id(db: AccountDB, item: Any) -> int:
    """An item by internal id (number) or by name (``itemid``, the SKU for matrix children)."""
    if isinstance(item, bool) or not isinstance(item, (int, str)) or item == "":
        raise CatalogEditError(f"item must be an internal id or an item name, got {item!r}")
    row = db.one("SELECT id FROM item WHERE id = ?", [item]) if isinstance(item, int) else \
        db.one("SELECT id FROM item WHERE itemid = ?", [item])
    if row is None:
        raise CatalogEditError(f"item {item!r} does not exist")
    return int(row[0])


def _named(db: AccountDB, table: str, value: Any, what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        row = db.one(f"SELECT id FROM {table} WHERE id = ?", [value])
    elif isinstance(value, str):
        row = db.one(f"SELECT id FROM {table} WHERE name = ?", [value])
    else:
        row = None
    if row is None:
        known = [r[0] for r in db.all(f"SELECT name FROM {table} ORDER BY id")]
        raise CatalogEditError(f"{what} {value!r} does not exist (known: {', '.join(known)})")
    return int(row[0])


def _touch(db: AccountDB, ids: list[int]) -> dt.datetime:
    """Stamp the items as modified now, strictly after each one's previous version."""
    ts = db.now()
    latest = db.one(f"SELECT max(lastmodifieddate) FROM item WHERE id IN ({', '.join('?' * len(ids))})", ids)[0]
    if latest is not None and latest >= ts:
        ts = latest + dt.timedelta(seconds=1)
    db.cursor().execute(f"UPDATE item SET lastmodifieddate = ? WHERE id IN ({', '.join('?' * len(ids))})", [ts, *ids])
    return ts


def set_price(db: AccountDB, item: Any, price_level: Any, currency: Any, unit_price: Any) -> dict[str, Any]:
    """Set (or add) the item's price at one price level in one currency."""
    try:
        price = Decimal(str(unit_price)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise CatalogEditError(f"unit_price must be a decimal amount, got {unit_price!r}") from None
    if isinstance(unit_price, bool) or price < 0:
        raise CatalogEditError(f"unit_price must be a decimal amount ≥ 0, got {unit_price!r}")
    with db.write_lock:
        iid = item_id(db, item)
        level = _named(db, "pricelevel", price_level, "price level")
        cur_id = _named(db, "currency", currency, "currency")
        cur = db.cursor()
        cur.begin()
        try:
            found = cur.execute("SELECT count(*) FROM pricing WHERE item = ? AND pricelevel = ? AND currency = ?",
                                [iid, level, cur_id]).fetchone()[0]
            if found:
                cur.execute("UPDATE pricing SET unitprice = ? WHERE item = ? AND pricelevel = ? AND currency = ?",
                            [price, iid, level, cur_id])
            else:
                cur.execute("INSERT INTO pricing VALUES (?, ?, ?, 0, NULL, ?)", [iid, level, price, cur_id])
            ts = _touch(db, [iid])
            cur.commit()
        except BaseException:
            cur.rollback()
            raise
    return {"item": iid, "pricelevel": level, "currency": cur_id, "unitprice": str(price), "lastmodifieddate": ts.isoformat()}


def update_item(db: AccountDB, item: Any, changes: dict[str, Any]) -> dict[str, Any]:
    """Change body fields (description, displayname, isinactive as true/false)."""
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown or not changes:
        raise CatalogEditError(f"item fields: give some of {list(EDITABLE_FIELDS)}; got {sorted(changes)}")
    values: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "isinactive":
            if not isinstance(value, bool):
                raise CatalogEditError(f"isinactive must be true or false, got {value!r}")
            values[key] = "T" if value else "F"
        elif not isinstance(value, str):
            raise CatalogEditError(f"{key} must be text, got {value!r}")
        else:
            values[key] = value
    with db.write_lock:
        iid = item_id(db, item)
        cur = db.cursor()
        cur.begin()
        try:
            cur.execute(f"UPDATE item SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?", [*values.values(), iid])
            ts = _touch(db, [iid])
            cur.commit()
        except BaseException:
            cur.rollback()
            raise
    return {"item": iid, **values, "lastmodifieddate": ts.isoformat()}


def delete_item(db: AccountDB, item: Any) -> list[int]:
    """Delete an item (and a matrix parent's children); returns the deleted internal ids."""
    with db.write_lock:
        iid = item_id(db, item)
        rows = db.all("SELECT id, itemid FROM item WHERE id = ? OR parent = ? ORDER BY id", [iid, iid])
        ids = [int(r[0]) for r in rows]
        marks = ", ".join("?" * len(ids))
        ts = db.now()
        cur = db.cursor()
        cur.begin()
        try:
            for table, column in (("pricing", "item"), ("inventoryitemlocations", "item"), ("item", "id")):
                cur.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", ids)
            cur.executemany("INSERT INTO deletedrecord VALUES (?, ?, 'Inventory Item', ?, 'F', 'UI', ?)",
                            [(int(rid), DELETED_TYPE_ID, name, ts) for rid, name in rows])
            cur.commit()
        except BaseException:
            cur.rollback()
            raise
    return ids
