"""A person's edits of NetSuite transactions through the UI, for the control API: what reconciliation exists
to catch. Deleting a sales order the ledger says was written is the gap no sync run can see by itself."""

from __future__ import annotations

from .catalog_edits import CatalogEditError
from .db import AccountDB

DELETED_TYPE_ID = "salesorder"


def delete_sales_order(db: AccountDB, external_id: str) -> int:
    """Delete the sales order with ``external_id`` (its lines and links too); returns its internal id.

    Kept in ``deletedrecord`` as NetSuite keeps a deletion's trace."""
    if not isinstance(external_id, str) or not external_id:
        raise CatalogEditError(f"external_id must be a non-empty string, got {external_id!r}")
    with db.write_lock:
        row = db.one("SELECT id, tranid FROM transaction WHERE type = 'SalesOrd' AND externalid = ?", [external_id])
        if row is None:
            raise CatalogEditError(f"no sales order has externalId {external_id!r}")
        rid, tranid = int(row[0]), row[1]
        cur = db.cursor()
        cur.begin()
        try:
            cur.execute("DELETE FROM previoustransactionlinelink WHERE previousdoc = ? OR nextdoc = ?", [rid, rid])
            cur.execute("DELETE FROM transactionline WHERE transaction = ?", [rid])
            cur.execute("DELETE FROM transaction WHERE id = ?", [rid])
            cur.execute("INSERT INTO deletedrecord VALUES (?, ?, 'Sales Order', ?, 'F', 'UI', ?)",
                        [rid, DELETED_TYPE_ID, tranid, db.now()])
            cur.commit()
        except BaseException:
            cur.rollback()
            raise
    return rid
