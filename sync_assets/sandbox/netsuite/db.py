"""The emulated account's data: an in-memory DuckDB shaped like NetSuite's analytics tables (reference §3.4).

SuiteQL runs against these tables directly and the record API writes into them, so a record created over
REST is visible to the next SuiteQL query exactly as in a real account. Booleans are stored as 'T'/'F'
text, as SuiteQL shows them. Datetimes are naive, in the integration user's time zone (``AccountDB.timezone``,
UTC unless the control API sets another): SuiteQL renders and compares them as stored, as NetSuite does in
the user's zone, while the record API converts them to UTC (netsuite-rest.md §3.3).
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading

import duckdb
from zoneinfo import ZoneInfo

from sync_assets.sandbox.model import Catalog

SCHEMA = """
CREATE TABLE item (
    id BIGINT PRIMARY KEY, itemid VARCHAR, displayname VARCHAR, fullname VARCHAR, itemtype VARCHAR,
    subtype VARCHAR, matrixtype VARCHAR, parent BIGINT, isinactive VARCHAR, externalid VARCHAR,
    upccode VARCHAR, description VARCHAR, manufacturer VARCHAR, vendorname VARCHAR, class VARCHAR,
    cost DECIMAL(18,2), averagecost DECIMAL(18,2), lastpurchaseprice DECIMAL(18,2), weight DOUBLE,
    weightunit VARCHAR, totalquantityonhand DOUBLE, createddate TIMESTAMP, lastmodifieddate TIMESTAMP
);
CREATE TABLE pricelevel (
    id BIGINT PRIMARY KEY, name VARCHAR, discountpct DECIMAL(9,2), isinactive VARCHAR, lastmodifieddate TIMESTAMP
);
CREATE TABLE pricing (
    item BIGINT, pricelevel BIGINT, unitprice DECIMAL(18,2), quantity DOUBLE, saleunit BIGINT, currency BIGINT
);
CREATE TABLE currency (id BIGINT PRIMARY KEY, name VARCHAR, symbol VARCHAR, isbasecurrency VARCHAR);
CREATE TABLE deletedrecord (
    recordid BIGINT, recordtypeid VARCHAR, type VARCHAR, name VARCHAR, iscustomrecord VARCHAR, context VARCHAR,
    deleteddate TIMESTAMP
);
CREATE TABLE location (
    id BIGINT PRIMARY KEY, name VARCHAR, fullname VARCHAR, externalid VARCHAR, isinactive VARCHAR,
    makeinventoryavailable VARCHAR, lastmodifieddate TIMESTAMP
);
CREATE TABLE inventoryitemlocations (
    item BIGINT, location BIGINT, quantityonhand DOUBLE, quantityavailable DOUBLE, quantitycommitted DOUBLE,
    quantitybackordered DOUBLE, quantityintransit DOUBLE, quantityonorder DOUBLE,
    lastquantityavailablechange TIMESTAMP, averagecostmli DECIMAL(18,2), onhandvaluemli DECIMAL(18,2),
    PRIMARY KEY (item, location)
);
CREATE TABLE customer (
    id BIGINT PRIMARY KEY, entityid VARCHAR, companyname VARCHAR, email VARCHAR, firstname VARCHAR,
    lastname VARCHAR, phone VARCHAR, isperson VARCHAR, isinactive VARCHAR, externalid VARCHAR,
    currency BIGINT, subsidiary BIGINT, datecreated TIMESTAMP, lastmodifieddate TIMESTAMP
);
CREATE TABLE subsidiary (id BIGINT PRIMARY KEY, name VARCHAR, isinactive VARCHAR, iselimination VARCHAR);
CREATE TABLE account (id BIGINT PRIMARY KEY, acctnumber VARCHAR, fullname VARCHAR, accttype VARCHAR,
                      isinactive VARCHAR);
CREATE TABLE paymentmethod (id BIGINT PRIMARY KEY, name VARCHAR, isinactive VARCHAR);
CREATE TABLE transaction (
    id BIGINT PRIMARY KEY, tranid VARCHAR, type VARCHAR, recordtype VARCHAR, entity BIGINT, status VARCHAR,
    trandate DATE, createddate TIMESTAMP, lastmodifieddate TIMESTAMP, externalid VARCHAR, otherrefnum VARCHAR,
    foreigntotal DECIMAL(18,2), foreignamountunpaid DECIMAL(18,2), currency BIGINT, email VARCHAR,
    shipdate DATE, actualshipdate DATE, memo VARCHAR, posting VARCHAR, voided VARCHAR,
    linkedtrackingnumberlist VARCHAR
);
CREATE TABLE transactionline (
    transaction BIGINT, id BIGINT, linesequencenumber BIGINT, item BIGINT, quantity DOUBLE,
    quantityshiprecv DOUBLE, rate DECIMAL(18,2), rateamount DECIMAL(18,2), netamount DECIMAL(18,2),
    foreignamount DECIMAL(18,2), location BIGINT, mainline VARCHAR, taxline VARCHAR, donotdisplayline VARCHAR,
    itemtype VARCHAR, createdfrom BIGINT, entity BIGINT, memo VARCHAR, isclosed VARCHAR,
    isinventoryaffecting VARCHAR, linelastmodifieddate TIMESTAMP, PRIMARY KEY (transaction, id)
);
CREATE TABLE previoustransactionlinelink (
    previousdoc BIGINT, previousline BIGINT, nextdoc BIGINT, nextline BIGINT, previoustype VARCHAR,
    nexttype VARCHAR, linktype VARCHAR, foreignamount DECIMAL(18,2), lastmodifieddate TIMESTAMP
);
CREATE VIEW nexttransactionlinelink AS SELECT * FROM previoustransactionlinelink;
CREATE TABLE trackingnumber (id BIGINT PRIMARY KEY, trackingnumber VARCHAR, carrier VARCHAR);
CREATE TABLE trackingnumbermap (transaction BIGINT, trackingnumber BIGINT);
CREATE TABLE transactionstatus (id VARCHAR, trantype VARCHAR, name VARCHAR, fullname VARCHAR);
CREATE MACRO ns_df_item(x) AS (SELECT _df.itemid FROM item AS _df WHERE _df.id = x);
CREATE MACRO ns_df_customer(x) AS (SELECT _df.entityid FROM customer AS _df WHERE _df.id = x);
CREATE MACRO ns_df_location(x) AS (SELECT _df.name FROM location AS _df WHERE _df.id = x);
CREATE MACRO ns_df_pricelevel(x) AS (SELECT _df.name FROM pricelevel AS _df WHERE _df.id = x);
CREATE MACRO ns_df_currency(x) AS (SELECT _df.name FROM currency AS _df WHERE _df.id = x);
CREATE MACRO ns_df_status(s, t) AS (SELECT _df.fullname FROM transactionstatus AS _df WHERE _df.id = s
                                    AND _df.trantype = t);
CREATE VIEW aggregateitemlocation AS
    SELECT item, location, quantityavailable, quantityonhand, quantitycommitted, quantityonorder,
           quantityintransit, quantitybackordered, averagecostmli, onhandvaluemli
    FROM inventoryitemlocations;
"""

SALES_ORDER_STATUS = {
    "A": "Pending Approval", "B": "Pending Fulfillment", "C": "Cancelled", "D": "Partially Fulfilled",
    "E": "Pending Billing/Partially Fulfilled", "F": "Pending Billing", "G": "Billed", "H": "Closed",
}
_STATUSES = (
    [("SalesOrd", "Sales Order", k, v) for k, v in SALES_ORDER_STATUS.items()]
    + [("ItemShip", "Item Fulfillment", k, v) for k, v in {"A": "Picked", "B": "Packed", "C": "Shipped"}.items()]
    + [("CustDep", "Customer Deposit", k, v) for k, v in
       {"A": "Not Deposited", "B": "Deposited", "C": "Fully Applied", "R": "Unapproved Payment"}.items()]
    + [("CustPymt", "Payment", k, v) for k, v in {"A": "Unapproved Payment", "B": "Not Deposited",
                                                   "C": "Deposited"}.items()]
)
# The ns_df_* macro giving the display value (BUILTIN.DF) of a reference column, by column name.
DISPLAY_VALUE = {
    "item": "ns_df_item", "parent": "ns_df_item", "entity": "ns_df_customer", "customer": "ns_df_customer",
    "location": "ns_df_location", "pricelevel": "ns_df_pricelevel", "currency": "ns_df_currency",
}


def now(tz: str = "UTC") -> dt.datetime:
    """The current whole second as the integration user in zone ``tz`` sees it (naive)."""
    return dt.datetime.now(ZoneInfo(tz)).replace(tzinfo=None, microsecond=0)


class AccountDB:
    """One account's tables plus the id sequences NetSuite would assign."""

    def __init__(self) -> None:
        self.write_lock = threading.RLock()
        self.timezone = "UTC"  # the integration user's time zone (Set Preferences > Time Zone)
        self.oneworld = False  # OneWorld: a customer needs a subsidiary
        self._local = threading.local()
        self._con = duckdb.connect(":memory:")
        self._generation = 0
        self._create()

    def _create(self) -> None:
        self._con.execute(SCHEMA)
        self._con.executemany("INSERT INTO transactionstatus VALUES (?, ?, ?, ?)",
                              [(k, t, v, f"{label} : {v}") for t, label, k, v in _STATUSES])
        # A multi-currency account: USD is the base; prices in the others exist only once someone sets them.
        # No EUR: tests rely on a currency the account does not have (orders in it are dead-lettered).
        self._con.execute("INSERT INTO currency VALUES (1, 'USD', '$', 'T'), (2, 'CAD', 'CA$', 'F'), "
                          "(3, 'GBP', '£', 'F')")
        self._con.execute("INSERT INTO subsidiary VALUES (1, 'Parent Company', 'F', 'F'), "
                          "(2, 'Sandbox EMEA', 'T', 'F'), (3, 'Consolidation Elimination', 'F', 'T')")
        self._con.execute("INSERT INTO account VALUES (1, '1000', 'Checking', 'Bank', 'F'), "
                          "(2, '1099', 'Undeposited Funds', 'OthCurrAsset', 'F'), (12, '1010', 'Shopify Payouts', 'Bank', 'F')")
        self._con.execute("INSERT INTO paymentmethod VALUES (1, 'Cash', 'F'), (3, 'Shopify Payments', 'F'), "
                          "(4, 'PayPal', 'F')")
        # SuiteQL text comes from clients: no read_csv('/etc/passwd'), no ATTACH, no COPY TO.
        self._con.execute("SET enable_external_access = false")
        self._con.execute("SET lock_configuration = true")
        self._ids = {kind: itertools.count(start) for kind, start in
                     {"item": 1, "location": 1, "pricelevel": 1, "customer": 1, "transaction": 1,
                      "tracking": 1}.items()}
        self._tranids = {t: itertools.count(1001) for t in ("SalesOrd", "ItemShip", "CustDep", "CustPymt", "CustRfnd")}

    def reset(self) -> None:
        with self.write_lock:
            self._con.close()
            self._con = duckdb.connect(":memory:")
            self._generation += 1
            self._create()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A per-thread cursor: DuckDB connections must not be shared between threads."""
        local = self._local
        if getattr(local, "generation", None) != self._generation:
            local.cursor = self._con.cursor()
            local.generation = self._generation
        return local.cursor

    def now(self) -> dt.datetime:
        return now(self.timezone)

    def set_oneworld(self, on: bool) -> None:
        """OneWorld: a second active subsidiary, and customers must name theirs."""
        with self.write_lock:
            self.oneworld = on
            self.cursor().execute("UPDATE subsidiary SET isinactive = ? WHERE id = 2", ["F" if on else "T"])

    def set_timezone(self, tz: str) -> None:
        """The user moves to zone ``tz``: the same instants now show (and compare) as that zone's times.
        One offset for all rows (today's), which is exact for stamps on the same side of a DST change."""
        utc_now = dt.datetime.now(dt.UTC)
        shift = utc_now.astimezone(ZoneInfo(tz)).utcoffset() - utc_now.astimezone(ZoneInfo(self.timezone)).utcoffset()
        with self.write_lock:
            self.timezone = tz
            if not shift:
                return
            cur = self.cursor()
            columns = cur.execute("SELECT table_name, column_name FROM information_schema.columns "
                                  "WHERE data_type = 'TIMESTAMP' AND table_name IN (SELECT table_name FROM "
                                  "information_schema.tables WHERE table_type = 'BASE TABLE')").fetchall()
            seconds = int(shift.total_seconds())
            for table, column in columns:
                cur.execute(f"UPDATE {table} SET {column} = {column} + to_seconds({seconds})")

    def next_id(self, kind: str) -> int:
        with self.write_lock:
            return next(self._ids[kind])

    def reserve_ids(self, kind: str, n: int) -> range:
        """n consecutive ids in one step (bulk loads)."""
        with self.write_lock:
            start = next(self._ids[kind])
            self._ids[kind] = itertools.count(start + n)
            return range(start, start + n)

    def next_tranid(self, trantype: str) -> str:
        prefix = {"SalesOrd": "SO", "ItemShip": "IF", "CustDep": "DEP", "CustPymt": "PYMT", "CustRfnd": "RFND"}[trantype]
        with self.write_lock:
            return f"{prefix}{next(self._tranids[trantype])}"

    def one(self, sql: str, params: list | tuple = ()) -> tuple | None:
        return self.cursor().execute(sql, params).fetchone()

    def all(self, sql: str, params: list | tuple = ()) -> list[tuple]:
        return self.cursor().execute(sql, params).fetchall()

    def dicts(self, sql: str, params: list | tuple = ()) -> list[dict]:
        cur = self.cursor().execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def insert_frame(self, table: str, rows: list[dict]) -> None:
        """Bulk insert (DuckDB scans the DataFrame; row-by-row inserts would take minutes at 100k items)."""
        if not rows:
            return
        import pandas as pd  # ~1 s to import: only paths that load data pay it, not server start-up or --help

        frame = pd.DataFrame(rows)
        cur = self.cursor()
        cols = ", ".join(frame.columns)
        cur.register("_frame", frame)
        try:
            cur.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _frame")
        finally:
            cur.unregister("_frame")

    # ----------------------------------------------------------------------------------------- catalog
    def load_catalog(self, catalog: Catalog) -> dict[str, int]:
        """Load locations, price levels, matrix items, prices, customers and stock; returns location ids."""
        ts = self.now()
        with self.write_lock:
            location_ids: dict[str, int] = {}
            rows = []
            for loc in catalog.locations:
                lid = self.next_id("location")
                location_ids[loc.key] = lid
                rows.append(dict(id=lid, name=loc.name, fullname=loc.name, externalid=loc.key, isinactive="F",
                                 makeinventoryavailable="T", lastmodifieddate=ts))
            self.insert_frame("location", rows)

            level_ids = []
            rows = []
            for level in catalog.price_levels:
                pid = self.next_id("pricelevel")
                level_ids.append((pid, level.discount_pct))
                rows.append(dict(id=pid, name=level.name, discountpct=float(level.discount_pct), isinactive="F",
                                 lastmodifieddate=ts))
            self.insert_frame("pricelevel", rows)

            # Columnar lists and set-based SQL: 100,000 items must load in a few seconds.
            cols: dict[str, list] = {k: [] for k in (
                "id", "itemid", "displayname", "fullname", "matrixtype", "parent", "externalid", "upccode",
                "description", "manufacturer", "class", "cost", "weight")}
            base_prices: dict[str, list] = {"item": [], "price": []}
            sku_ids: dict[str, int] = {}

            def add(**values) -> None:
                for key, column in cols.items():
                    column.append(values.get(key))

            ids = iter(self.reserve_ids("item", sum(1 + len(p.variants) for p in catalog.products)))
            for product in catalog.products:
                parent_id = next(ids)
                add(id=parent_id, itemid=product.key, displayname=product.title, fullname=product.key,
                    matrixtype="PARENT", externalid=product.key, description=product.description,
                    manufacturer=product.vendor, **{"class": product.product_type})
                for v in product.variants:
                    iid = next(ids)
                    sku_ids[v.sku] = iid
                    add(id=iid, itemid=v.sku, displayname=f"{product.title} - {v.title}",
                        fullname=f"{product.key} : {v.sku}", matrixtype="CHILD", parent=parent_id,
                        externalid=v.sku, upccode=v.barcode, description=product.description,
                        manufacturer=product.vendor, **{"class": product.product_type}, cost=float(v.cost),
                        weight=v.weight_grams / 1000.0)
                    base_prices["item"].append(iid)
                    base_prices["price"].append(float(v.price))
            stock: dict[str, list] = {"item": [], "location": [], "qty": []}
            for (sku, loc_key), qty in catalog.inventory.items():
                if sku not in sku_ids or loc_key not in location_ids:
                    raise ValueError(f"catalog.inventory names unknown sku/location {(sku, loc_key)!r}")
                stock["item"].append(sku_ids[sku])
                stock["location"].append(location_ids[loc_key])
                stock["qty"].append(float(qty))
            import pandas as pd  # lazily, as in insert_frame

            cur = self.cursor()
            for name, data in (("_items", cols), ("_prices", base_prices), ("_stock", stock)):
                cur.register(name, pd.DataFrame(data))
            try:
                cur.execute(
                    "INSERT INTO item (id, itemid, displayname, fullname, itemtype, subtype, matrixtype, parent, "
                    "isinactive, externalid, upccode, description, manufacturer, vendorname, class, cost, "
                    "averagecost, lastpurchaseprice, weight, weightunit, totalquantityonhand, createddate, "
                    "lastmodifieddate) SELECT id, itemid, displayname, fullname, 'InvtPart', 'Sale', matrixtype, "
                    "parent::BIGINT, 'F', externalid, upccode, description, manufacturer, manufacturer, class, cost, "
                    "cost, cost, weight, CASE WHEN weight IS NULL THEN NULL ELSE 'kg' END, "
                    "CASE WHEN matrixtype = 'CHILD' THEN 0 END, ?, ? FROM _items", [ts, ts])
                cur.execute("INSERT INTO pricing SELECT p.item, l.id, round(p.price * (1 - l.discountpct / 100), 2), "
                            "0, NULL, 1 FROM _prices p CROSS JOIN pricelevel l")
                cur.execute("INSERT INTO inventoryitemlocations SELECT item, location, qty, qty, 0, 0, 0, 0, ?, "
                            "NULL, NULL FROM _stock", [ts])
            finally:
                for name in ("_items", "_prices", "_stock"):
                    cur.unregister(name)
            cur.execute(
                "UPDATE item SET totalquantityonhand = s.q FROM "
                "(SELECT item, sum(quantityonhand) AS q FROM inventoryitemlocations GROUP BY item) s "
                "WHERE item.id = s.item")

            rows = []
            for c in catalog.customers:
                cid = self.next_id("customer")
                rows.append(dict(id=cid, entityid=f"{c.first_name} {c.last_name}".strip() or c.email,
                                 email=c.email, firstname=c.first_name, lastname=c.last_name, phone=c.phone,
                                 isperson="T", isinactive="F", externalid=c.key, currency=1, datecreated=ts,
                                 lastmodifieddate=ts))
            self.insert_frame("customer", rows)

            if catalog.discount_item:
                self.insert_frame("item", [dict(
                    id=self.next_id("item"), itemid=catalog.discount_item, displayname=catalog.discount_item,
                    fullname=catalog.discount_item, itemtype="Discount", subtype="Sale", isinactive="F",
                    createddate=ts, lastmodifieddate=ts)])
        return location_ids
