"""Every SuiteQL query the flows run, in one registry.

The flows import these by name, so the text NetSuite receives in a run is the text ``sync-assets doctor``
runs under the integration role (once each, one row): a table the role may not read, or a column the
account lacks, shows up in the preflight, not in the first run. ``sample`` gives each placeholder a
harmless value for that check (one that matches nothing, where a list is expected).

Timestamps are bound as naive datetimes in the integration user's time zone (see :func:`suiteql.ts_literal`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sync_assets.connectors.netsuite.suiteql import TS_FORMAT, ts_column


@dataclass(frozen=True)
class Query:
    name: str  # who runs it and what for, as the doctor prints it
    sql: str
    sample: Mapping[str, Any] = field(default_factory=dict)


_EPOCH = datetime(2000, 1, 1)
_NONE = ["sync-assets-doctor-matches-nothing"]

# -------------------------------------------------------------------------------- reference lookups
ITEMS_BY_SKU = Query(
    "orders: items by SKU",
    "SELECT id, itemid FROM item WHERE UPPER(itemid) IN :skus AND isinactive = 'F' "
    "AND (matrixtype IS NULL OR matrixtype <> 'PARENT') ORDER BY id",
    {"skus": _NONE},
)
SKUS_BY_ITEM_ID = Query("fulfillments: SKUs by item id", "SELECT id, itemid FROM item WHERE id IN :ids ORDER BY id",
                        {"ids": [-1]})
CURRENCIES = Query("orders: currencies", "SELECT id, name, symbol FROM currency ORDER BY id")
_CUSTOMERS = "SELECT id, externalid, email FROM customer WHERE {} IN :values AND isinactive = 'F' ORDER BY id"
CUSTOMERS_BY_EXTERNAL_ID = Query("orders: customers by external id", _CUSTOMERS.format("externalid"), {"values": _NONE})
CUSTOMERS_BY_EMAIL = Query("orders: customers by email", _CUSTOMERS.format("LOWER(email)"), {"values": _NONE})
SALES_ORDER_TOTALS = Query(
    "orders: sales order totals (check)",
    "SELECT id, externalid, foreigntotal, status FROM transaction "
    "WHERE type = 'SalesOrd' AND externalid IN :eids ORDER BY id",
    {"eids": _NONE},
)
COUNT_BY_EXTERNAL_ID = Query(
    "checks: transactions per external id",
    "SELECT externalid, COUNT(*) AS n FROM transaction WHERE type = :type AND externalid IN :eids "
    "GROUP BY externalid ORDER BY externalid",
    {"type": "SalesOrd", "eids": _NONE},
)

# ---------------------------------------------------------------------------------------- inventory
CHANGED_LEVELS = Query(
    "inventory: changed item locations",
    "SELECT l.item, l.location, l.quantityavailable, l.quantityonhand, i.itemid, "
    f"{ts_column('l.lastquantityavailablechange', 'changed_at')} "
    "FROM inventoryitemlocations l JOIN item i ON i.id = l.item "
    "WHERE l.lastquantityavailablechange >= :since AND i.isinactive = 'F' ORDER BY l.item, l.location",
    {"since": datetime(2999, 1, 1)},
)
LOCATIONS = Query("inventory: locations", "SELECT id, name FROM location WHERE isinactive = 'F' ORDER BY id")
LEVELS_BY_ITEM = Query(
    "inventory: levels by item",
    "SELECT item, location, quantityavailable, quantityonhand, quantitycommitted, quantitybackordered, "
    f"quantityintransit, {ts_column('lastquantityavailablechange', 'lastquantityavailablechange')} "
    "FROM inventoryitemlocations WHERE item IN :items ORDER BY item, location",
    {"items": [-1]},
)

# ------------------------------------------------------------------------------------- fulfillments
# Tracking numbers come in the same query (a row per number): the probe compares them with what Shopify
# was sent, and the run reuses them, so neither asks NetSuite again.
SHIPPED_FULFILLMENTS = Query(
    "fulfillments: shipped item fulfillments",
    f"SELECT DISTINCT f.id, f.tranid, {ts_column('f.lastmodifieddate', 'modified')}, so.id AS salesorder, "
    "so.externalid AS orderexternalid, t.id AS trackingid, t.trackingnumber FROM transaction f "
    "JOIN previoustransactionlinelink l ON l.nextdoc = f.id "
    "JOIN transaction so ON so.id = l.previousdoc "
    "LEFT JOIN trackingnumbermap m ON m.transaction = f.id "
    "LEFT JOIN trackingnumber t ON t.id = m.trackingnumber "
    "WHERE f.type = 'ItemShip' AND f.status = 'C' AND so.type = 'SalesOrd' "
    "AND f.lastmodifieddate >= :since AND so.externalid LIKE :prefix ORDER BY f.id, t.id",
    {"since": datetime(2999, 1, 1), "prefix": "shopify-order-%"},
)
FULFILLMENT_LINES = Query(
    "fulfillments: fulfillment lines",
    "SELECT transaction, id, item, quantity FROM transactionline WHERE transaction IN :ids "
    "AND mainline = 'F' AND taxline = 'F' AND item IS NOT NULL ORDER BY transaction, id",
    {"ids": [-1]},
)

# ------------------------------------------------------------------------------------------ catalog
CATALOG_ITEMS = Query(
    "catalog: items",
    "SELECT id, itemid, displayname, itemtype, matrixtype, parent, isinactive, externalid, upccode, description, "
    f"manufacturer, class, TO_CHAR(lastmodifieddate, '{TS_FORMAT}') AS lastmodifieddate FROM item "
    # The storefront catalog is what is stocked and sold; discount, tax and service items are not products.
    "WHERE itemtype = 'InvtPart'",
)
CATALOG_PRICES = Query(
    "catalog: prices",
    "SELECT p.item, p.pricelevel, BUILTIN.DF(p.pricelevel) AS pricelevelname, p.unitprice, p.currency, "
    "BUILTIN.DF(p.currency) AS currencyname, "
    f"TO_CHAR(i.lastmodifieddate, '{TS_FORMAT}') AS lastmodifieddate "
    "FROM pricing p JOIN item i ON i.id = p.item WHERE p.item >= :first AND p.item <= :last "
    "ORDER BY p.item, p.pricelevel, p.currency",
    {"first": -1, "last": -1},
)
CATALOG_CHANGES = Query(
    "catalog: items modified since",
    # ">=" with a count at the mark: NetSuite stamps whole seconds, so a change in the same second as the
    # last run's latest one is told apart from what that run saw by the count, not by the time.
    "SELECT COUNT(*) AS n, SUM(CASE WHEN lastmodifieddate = :since THEN 1 ELSE 0 END) AS at_since, "
    f"TO_CHAR(MAX(lastmodifieddate), '{TS_FORMAT}') AS latest FROM item "
    "WHERE itemtype = 'InvtPart' AND lastmodifieddate >= :since",
    {"since": _EPOCH},
)
CATALOG_LOCATIONS = Query(
    "catalog: locations",
    "SELECT id, name, fullname, externalid, isinactive, makeinventoryavailable, "
    f"TO_CHAR(lastmodifieddate, '{TS_FORMAT}') AS lastmodifieddate FROM location",
)
# SuiteQL keeps no deleted items, only this trace of them (reference netsuite-rest.md §3, Deletions).
CATALOG_DELETED = Query(
    "catalog: deleted items",
    f"SELECT recordid, recordtypeid, name, TO_CHAR(deleteddate, '{TS_FORMAT}') AS deleteddate FROM deletedrecord "
    "WHERE recordtypeid = 'inventoryitem'",
)
CATALOG_DELETIONS = Query(
    "catalog: items deleted since",
    "SELECT COUNT(*) AS n, SUM(CASE WHEN deleteddate = :since THEN 1 ELSE 0 END) AS at_since, "
    f"TO_CHAR(MAX(deleteddate), '{TS_FORMAT}') AS latest FROM deletedrecord "
    "WHERE recordtypeid = 'inventoryitem' AND deleteddate >= :since",
    {"since": _EPOCH},
)

# ---------------------------------------------------------------------------------------------- crm
CRM_CUSTOMERS = Query(
    "crm: customers modified since",
    # ">=": NetSuite stamps whole seconds, so the last run's latest second is read again; the landing
    # merge adds only versions whose content changed. Keyset-paged by id past the 100k cap.
    "SELECT id, entityid, externalid, email, firstname, lastname, companyname, isperson, isinactive, "
    f"TO_CHAR(datecreated, '{TS_FORMAT}') AS datecreated, TO_CHAR(lastmodifieddate, '{TS_FORMAT}') AS lastmodifieddate "
    "FROM customer WHERE lastmodifieddate >= :since",
    {"since": datetime(2999, 1, 1)},
)

# ----------------------------------------------------------------------------------- reconciliation
_SALES_ORDERS = ("SELECT id, tranid, externalid, otherrefnum, foreigntotal, status FROM transaction "
                 "WHERE type = 'SalesOrd' AND {} IN :vals ORDER BY id")
SALES_ORDERS_BY_EXTERNAL_ID = Query("reconciliation: sales orders by external id",
                                    _SALES_ORDERS.format("externalid"), {"vals": _NONE})
SALES_ORDERS_BY_ORDER_NAME = Query("reconciliation: sales orders by order name",
                                   _SALES_ORDERS.format("otherrefnum"), {"vals": _NONE})
# A day partition's sales orders in one query: the orders flow writes the storefront order's shop-local
# creation day as tranDate (account.order_date_timezone), so the day's orders have that day's tranDate.
# Keyset-paged by id (the pager adds "AND id > :last ORDER BY id"): a day may exceed the offset cap.
SALES_ORDERS_OF_DAY = Query("reconciliation: sales orders of a day",
                            "SELECT id, tranid, externalid, otherrefnum, foreigntotal, status FROM transaction "
                            "WHERE type = 'SalesOrd' AND trandate = :day", {"day": _EPOCH.date()})

# ------------------------------------------------------------------------------------------ finance
# One day's transactions as the finance marts need them: sales orders, the customer deposits that pay
# them and the refunds paid out of those deposits. Headers are keyset-paged; their line totals (tax,
# discount, shipping, and the sales order a deposit pays) come by id in a second query, since the pager
# cannot extend a GROUP BY.
FINANCE_TRANSACTIONS = Query(
    "finance: transactions of a day",
    "SELECT t.id, t.tranid, t.type, t.externalid, t.otherrefnum, t.entity, BUILTIN.DF(t.entity) AS entityname, "
    "t.status, TO_CHAR(t.trandate, 'YYYY-MM-DD') AS trandate, t.foreigntotal, t.currency, "
    "BUILTIN.DF(t.currency) AS currencyname, t.voided, "
    f"{ts_column('t.lastmodifieddate', 'lastmodifieddate')} FROM transaction t "
    "WHERE t.type IN ('SalesOrd', 'CustDep', 'CustRfnd') AND t.trandate = :day",
    {"day": datetime(2999, 1, 1).date()},
)
FINANCE_LINE_TOTALS = Query(
    "finance: transaction line totals",
    # Income lines of a sales order are credits (negative); discount lines debits: signs are NetSuite's.
    "SELECT transaction, "
    "SUM(CASE WHEN taxline = 'T' THEN -foreignamount ELSE 0 END) AS taxtotal, "
    "SUM(CASE WHEN itemtype = 'Discount' THEN foreignamount ELSE 0 END) AS discounttotal, "
    "SUM(CASE WHEN itemtype = 'ShipItem' THEN -foreignamount ELSE 0 END) AS shippingtotal, "
    "SUM(CASE WHEN mainline = 'F' AND taxline = 'F' AND itemtype = 'InvtPart' THEN -foreignamount ELSE 0 END) "
    "AS itemtotal, MAX(CASE WHEN mainline = 'T' THEN createdfrom END) AS createdfrom, "
    "MAX(location) AS location "
    "FROM transactionline WHERE transaction IN :ids GROUP BY transaction ORDER BY transaction",
    {"ids": [-1]},
)
FINANCE_REFUND_DEPOSITS = Query(
    "finance: deposits a refund paid out of",
    "SELECT previousdoc AS deposit, nextdoc AS refund, foreignamount AS amount FROM previoustransactionlinelink "
    "WHERE nextdoc IN :ids AND previoustype = 'CustDep' AND nexttype = 'CustRfnd' ORDER BY nextdoc, previousdoc",
    {"ids": [-1]},
)

REGISTRY: tuple[Query, ...] = tuple(v for v in list(globals().values()) if isinstance(v, Query))

# ------------------------------------------------------------- the doctor's own (not run by the flows)
# Whether what the sync policy names exists in the account.
SUBSIDIARIES = Query("account: subsidiaries", "SELECT id, name FROM subsidiary WHERE isinactive = 'F' "
                     "AND iselimination = 'F' ORDER BY id")
CUSTOMERS_BY_ID = Query("orders: default customers", "SELECT id, entityid FROM customer WHERE id IN :ids "
                        "AND isinactive = 'F' ORDER BY id", {"ids": [-1]})
PRICE_LEVELS = Query("catalog: price levels", "SELECT id, name FROM pricelevel WHERE isinactive = 'F' ORDER BY id")
ACCOUNTS_BY_ID = Query("payments: deposit account", "SELECT id, fullname FROM account WHERE id IN :ids "
                       "AND isinactive = 'F' ORDER BY id", {"ids": [-1]})
PAYMENT_METHODS_BY_ID = Query("payments: payment methods", "SELECT id, name FROM paymentmethod WHERE id IN :ids "
                              "AND isinactive = 'F' ORDER BY id", {"ids": [-1]})
SHIP_ITEMS_BY_ID = Query("orders: shipping items", "SELECT id, itemid FROM item WHERE id IN :ids AND isinactive = 'F' "
                         "ORDER BY id", {"ids": [-1]})
