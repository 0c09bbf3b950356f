"""Stock movement: commitments from open sales orders, receipts, and item fulfillments with tracking numbers.

Committed quantity is derived from the open sales-order lines rather than counted up and down, so every
write path (create, upsert, line close, fulfillment) leaves ``inventoryitemlocations`` consistent.
"""

from __future__ import annotations

import datetime as dt

from .db import AccountDB

OPEN_SO_STATUSES = ("B", "D", "E")  # pending fulfillment / partially fulfilled: these commit stock


def recompute(db: AccountDB, pairs: set[tuple[int, int]], ts: dt.datetime | None = None) -> None:
    """Refresh committed/available/backordered for the given (item, location) pairs. Caller holds write_lock."""
    if not pairs:
        return
    ts = ts or db.now()
    cur = db.cursor()
    for item, loc in sorted(pairs):
        committed = cur.execute(
            "SELECT coalesce(sum(-tl.quantity - coalesce(tl.quantityshiprecv, 0)), 0) FROM transactionline tl "
            "JOIN transaction t ON t.id = tl.transaction WHERE t.type = 'SalesOrd' AND t.status IN (?, ?, ?) "
            "AND tl.mainline = 'F' AND tl.isclosed = 'F' AND tl.item = ? AND tl.location = ?",
            [*OPEN_SO_STATUSES, item, loc]).fetchone()[0]
        row = cur.execute("SELECT quantityonhand, quantityavailable FROM inventoryitemlocations "
                          "WHERE item = ? AND location = ?", [item, loc]).fetchone()
        if row is None:
            cur.execute("INSERT INTO inventoryitemlocations VALUES (?, ?, 0, 0, 0, 0, 0, 0, ?, NULL, NULL)",
                        [item, loc, ts])
            row = (0.0, 0.0)
        onhand, old_available = row
        available = max(onhand - committed, 0.0)
        cur.execute("UPDATE inventoryitemlocations SET quantitycommitted = ?, quantityavailable = ?, "
                    "quantitybackordered = ?, lastquantityavailablechange = CASE WHEN ? THEN ? "
                    "ELSE lastquantityavailablechange END WHERE item = ? AND location = ?",
                    [min(committed, onhand) if onhand > 0 else 0.0, available, max(committed - onhand, 0.0),
                     available != old_available, ts, item, loc])
        if available != old_available:
            cur.execute("UPDATE item SET lastmodifieddate = ? WHERE id = ?", [ts, item])


def adjust_on_hand(db: AccountDB, item: int, location: int, delta: float, ts: dt.datetime) -> None:
    """On hand += delta (receipt or shipment); caller holds write_lock and recomputes afterwards."""
    cur = db.cursor()
    if cur.execute("SELECT 1 FROM inventoryitemlocations WHERE item = ? AND location = ?",
                   [item, location]).fetchone() is None:
        cur.execute("INSERT INTO inventoryitemlocations VALUES (?, ?, 0, 0, 0, 0, 0, 0, ?, NULL, NULL)",
                    [item, location, ts])
    cur.execute("UPDATE inventoryitemlocations SET quantityonhand = quantityonhand + ? "
                "WHERE item = ? AND location = ?", [delta, item, location])
    cur.execute("UPDATE item SET totalquantityonhand = coalesce(totalquantityonhand, 0) + ?, lastmodifieddate = ? "
                "WHERE id = ?", [delta, ts, item])


def receive(db: AccountDB, item: int, location: int, quantity: int) -> None:
    ts = db.now()
    with db.write_lock:
        cur = db.cursor()
        cur.begin()
        try:
            adjust_on_hand(db, item, location, float(quantity), ts)
            recompute(db, {(item, location)}, ts)
            # lastquantityavailablechange moves even when a backorder soaks up the receipt: on hand changed.
            cur.execute("UPDATE inventoryitemlocations SET lastquantityavailablechange = ? "
                        "WHERE item = ? AND location = ?", [ts, item, location])
            cur.commit()
        except BaseException:
            cur.rollback()
            raise


def fulfill_open_orders(db: AccountDB, older_than_seconds: float) -> int:
    """Ship every open sales order created at least ``older_than_seconds`` ago, in full; return the count."""
    ts = db.now()
    cutoff = ts - dt.timedelta(seconds=older_than_seconds)
    count = 0
    with db.write_lock:
        orders = db.all("SELECT id, entity FROM transaction WHERE type = 'SalesOrd' AND status IN (?, ?, ?) "
                        "AND createddate <= ? ORDER BY id", [*OPEN_SO_STATUSES, cutoff])
        for so_id, entity in orders:
            lines = db.all("SELECT id, item, -quantity - coalesce(quantityshiprecv, 0), location, rate "
                           "FROM transactionline WHERE transaction = ? AND mainline = 'F' AND isclosed = 'F' "
                           "AND itemtype = 'InvtPart' AND -quantity - coalesce(quantityshiprecv, 0) > 0 "
                           "ORDER BY id", [so_id])
            if not lines:
                continue
            _ship(db, so_id, entity, lines, ts)
            count += 1
    return count


def _ship(db: AccountDB, so_id: int, entity: int, lines: list[tuple], ts: dt.datetime) -> None:
    cur = db.cursor()
    cur.begin()
    try:
        if_id = db.next_id("transaction")
        tranid = db.next_tranid("ItemShip")
        total = sum(float(q) * float(rate or 0) for _, _, q, _, rate in lines)
        cur.execute("INSERT INTO transaction (id, tranid, type, recordtype, entity, status, trandate, createddate, "
                    "lastmodifieddate, foreigntotal, currency, actualshipdate, shipdate, posting, voided) "
                    "VALUES (?, ?, 'ItemShip', 'itemfulfillment', ?, 'C', ?, ?, ?, ?, 1, ?, ?, 'T', 'F')",
                    [if_id, tranid, entity, ts.date(), ts, ts, total, ts.date(), ts.date()])
        rows = [(if_id, 0, 0, None, None, None, None, None, total, total, None, "T", "F", "F", None, so_id, entity,
                 None, "F", "F", ts)]
        pairs = set()
        for n, (line_id, item, qty, loc, rate) in enumerate(lines, start=1):
            rows.append((if_id, n, n, item, -float(qty), None, rate, rate, None, None, loc, "F", "F", "F",
                         "InvtPart", so_id, entity, None, "F", "T", ts))
            cur.execute("INSERT INTO previoustransactionlinelink VALUES (?, ?, ?, ?, 'SalesOrd', 'ItemShip', "
                        "'ShipRcpt', NULL, ?)", [so_id, line_id, if_id, n, ts])
            cur.execute("UPDATE transactionline SET quantityshiprecv = coalesce(quantityshiprecv, 0) + ?, "
                        "linelastmodifieddate = ? WHERE transaction = ? AND id = ?", [float(qty), ts, so_id, line_id])
            if loc is not None:
                adjust_on_hand(db, item, loc, -float(qty), ts)
                pairs.add((item, loc))
        cur.executemany("INSERT INTO transactionline (transaction, id, linesequencenumber, item, quantity, "
                        "quantityshiprecv, rate, rateamount, netamount, foreignamount, location, mainline, taxline, "
                        "donotdisplayline, itemtype, createdfrom, entity, memo, isclosed, isinventoryaffecting, "
                        "linelastmodifieddate) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        rows)
        tracking_id = db.next_id("tracking")
        number = f"1ZSBX{if_id:010d}"
        cur.execute("INSERT INTO trackingnumber VALUES (?, ?, 'ups')", [tracking_id, number])
        cur.execute("INSERT INTO trackingnumbermap VALUES (?, ?)", [if_id, tracking_id])
        cur.execute("UPDATE transaction SET status = 'F', lastmodifieddate = ?, linkedtrackingnumberlist = "
                    "CASE WHEN linkedtrackingnumberlist IS NULL THEN ? ELSE linkedtrackingnumberlist || ' ' || ? END "
                    "WHERE id = ?", [ts, number, number, so_id])
        recompute(db, pairs, ts)
        cur.commit()
    except BaseException:
        cur.rollback()
        raise
