"""Every table and view of the warehouse, in one place.

Three schemas in one DuckDB file:

* ``raw`` — append-only landing tables, one per source entity. Payloads are stored exactly as landed
  (after :func:`sync_assets.warehouse.scrub.scrub`), with the natural key(s) and the source's own
  ``source_updated_at`` pulled out as typed columns so dedupe never has to parse JSON. Raw keeps
  versions, not copies: the merge (``merge.py``) appends a row only when its ``_content_hash`` is new,
  so staging picks the latest version per key and a re-landed overlap window adds nothing.
* ``staging`` — views over ``raw``: typed columns, one row per natural key (the latest version by
  ``source_updated_at`` then ``_loaded_at``). Views, not tables, so they can never go stale and loading
  the same batch twice changes nothing visible here.
* ``analytics`` — views over ``staging``: the documented marts (see ``docs/data_dictionary.md``).
  The analyst snapshot (``snapshot.py``) materialises staging and analytics as tables.

SQL notes for portability (MotherDuck runs this unchanged): ``QUALIFY``, ``json_extract_string`` /
``JSON`` type, ``quantile_cont`` and ``epoch`` are the DuckDB-isms; see the data dictionary for what a
move to another engine would change.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

SCHEMAS = ("raw", "staging", "analytics")

# Columns every raw table carries, set by the loader, never by callers.
LOADED_AT = "_loaded_at"  # when the merge wrote the row into raw
RUN_ID = "_run_id"  # the sync run that landed it
CONTENT_HASH = "_content_hash"  # 128-bit hash of the typed columns (RawTable.hash_sql): one row per version
LANDED_AT = "_landed_at"  # when the sync run made it durable in the landing area
LOAD_COLUMNS = ((LOADED_AT, "TIMESTAMPTZ NOT NULL"), (RUN_ID, "VARCHAR NOT NULL"))
# Added after the first release, so nullable (ALTER TABLE ADD COLUMN on existing files; hashes backfilled).
VERSION_COLUMNS = ((CONTENT_HASH, "UHUGEINT"), (LANDED_AT, "TIMESTAMPTZ"))


@dataclass(frozen=True)
class RawTable:
    """One append-only landing table: its typed columns (callers supply them) and its natural key."""

    name: str  # qualified, e.g. "raw.shopify_orders"
    columns: tuple[tuple[str, str], ...]  # (name, DuckDB type) supplied by the caller's frame
    keys: tuple[str, ...]  # natural key; NOT NULL
    has_payload: bool = True
    # Columns left out of the content hash: a re-read that only restamps them is not a new version.
    hash_exclude: tuple[str, ...] = ()

    @property
    def all_columns(self) -> tuple[tuple[str, str], ...]:
        return self.columns + LOAD_COLUMNS + VERSION_COLUMNS

    def hash_sql(self, alias: str = "") -> str:
        """The content hash over the typed columns, the same expression at landing and for backfill.

        128 bits from two seeded runs of DuckDB's own ``hash()`` (md5 cost as much as the rest of the
        landing: 1.4 s against 0.3 s for 300k orders here). ``hash()`` is DuckDB's, not a standard: should a
        DuckDB upgrade ever change it, re-landed rows get one more version each, nothing is lost."""
        prefix = f"{alias}." if alias else ""
        args = ", ".join(
            f"epoch_us({prefix}{name})" if typ.startswith("TIMESTAMP") else f"{prefix}{name}"
            for name, typ in self.columns if name not in self.hash_exclude
        )
        return f"((hash({args})::UHUGEINT << 64) | hash({args}, 'sync_assets')::UHUGEINT)"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    def ddl(self) -> str:
        cols = ",\n  ".join(
            f"{name} {typ}{' NOT NULL' if name in self.keys and 'NOT NULL' not in typ else ''}"
            for name, typ in self.all_columns
        )
        return f"CREATE TABLE IF NOT EXISTS {self.name} (\n  {cols}\n)"


def _payload_table(name: str, *keys: str) -> RawTable:
    columns = tuple((k, "VARCHAR") for k in keys) + (
        ("source_updated_at", "TIMESTAMPTZ"),
        ("payload", "JSON"),
    )
    return RawTable(name=name, columns=columns, keys=keys)


RAW_TABLES: dict[str, RawTable] = {
    t.name: t
    for t in (
        # Shopify Admin GraphQL Order node (docs/data_dictionary.md lists the fields staging reads).
        _payload_table("raw.shopify_orders", "order_id"),
        # NetSuite SuiteQL rows (lowercase column names, as SuiteQL returns them).
        _payload_table("raw.netsuite_items", "item_id"),
        _payload_table("raw.netsuite_item_prices", "item_id", "price_level", "currency"),
        _payload_table("raw.netsuite_locations", "location_id"),
        # NetSuite's deletedrecord rows for items (source_updated_at = when the item was deleted).
        _payload_table("raw.netsuite_deleted_items", "item_id"),
        _payload_table("raw.netsuite_inventory", "item_id", "location_id"),
        _payload_table("raw.netsuite_customers", "customer_id"),
        _payload_table("raw.netsuite_fulfillments", "fulfillment_id"),
        # Finance (flows/finance.py): a day's sales orders, customer deposits and refunds with their line
        # totals, the deposits each refund paid out of, and Shopify Payments payouts and balance transactions.
        _payload_table("raw.netsuite_transactions", "transaction_id"),
        _payload_table("raw.netsuite_refund_deposits", "refund_id", "deposit_id"),
        _payload_table("raw.shopify_payouts", "payout_id"),
        _payload_table("raw.shopify_balance_transactions", "balance_transaction_id"),
        # Every available-to-sell computation, written or not.
        RawTable(
            name="raw.inventory_snapshots",
            columns=(
                ("sku", "VARCHAR"),
                ("location", "VARCHAR"),
                ("netsuite_available", "BIGINT"),
                ("unsynced_qty", "BIGINT"),
                ("safety_stock", "BIGINT"),
                ("computed", "BIGINT"),
                ("previous_storefront", "BIGINT"),
                ("written", "BOOLEAN NOT NULL"),
                ("computed_at", "TIMESTAMPTZ NOT NULL"),
            ),
            keys=("sku", "location"),
            has_payload=False,
        ),
        # Storefront vs NetSuite, per reconciliation run (flows/reconciliation.py).
        RawTable(
            name="raw.reconciliation_findings",
            columns=(
                ("run_id", "VARCHAR"),
                ("checked_at", "TIMESTAMPTZ NOT NULL"),
                ("kind", "VARCHAR"),  # missing | duplicated | mismatched
                ("order_id", "VARCHAR"),
                ("order_name", "VARCHAR"),
                ("external_id", "VARCHAR"),
                ("netsuite_ids", "VARCHAR"),
                ("storefront_total", "DECIMAL(18,4)"),
                ("netsuite_total", "DECIMAL(18,4)"),
                ("requeued", "BOOLEAN NOT NULL"),
                ("detail", "VARCHAR"),
            ),
            keys=("run_id", "kind", "order_id"),
            has_payload=False,
        ),
        # What the sync did, one row per attempt outcome.
        RawTable(
            name="raw.sync_events",
            columns=(
                ("flow", "VARCHAR"),
                ("source_id", "VARCHAR"),
                ("target_id", "VARCHAR"),
                ("status", "VARCHAR NOT NULL"),  # synced | dead_lettered | failed | skipped
                ("reason", "VARCHAR"),
                ("event_at", "TIMESTAMPTZ NOT NULL"),
                ("source_updated_at", "TIMESTAMPTZ"),  # version of the source record this event acted on
            ),
            keys=("flow", "source_id"),
            has_payload=False,
            # A run that re-reads a record and finds the same outcome restamps event_at only.
            hash_exclude=("event_at",),
        ),
    )
}


def _latest(table: str, keys: str) -> str:
    """Latest version per natural key; ties on both timestamps are identical reloads, so any one will do."""
    return (
        f"SELECT * FROM {table} QUALIFY row_number() OVER "
        f"(PARTITION BY {keys} ORDER BY source_updated_at DESC NULLS LAST, {LOADED_AT} DESC) = 1"
    )


def _j(path: str, typ: str = "VARCHAR") -> str:
    """A typed field of the payload; TRY_CAST so one odd value becomes NULL instead of failing every query."""
    expr = f"json_extract_string(payload, '$.{path}')"
    return expr if typ == "VARCHAR" else f"TRY_CAST({expr} AS {typ})"


MONEY = "DECIMAL(18,4)"
_FLAG = "(lower({0}) IN ('t', 'true', '1', 'yes'))"  # NetSuite sends 'T'/'F'; JSON may hold true/false

VIEWS: dict[str, str] = {
    # ---------------------------------------------------------------- staging
    "staging.orders": f"""
        SELECT
          order_id,
          {_j('name')} AS order_number,
          {_j('legacyResourceId')} AS legacy_id,
          {_j('createdAt', 'TIMESTAMPTZ')} AS created_at,
          source_updated_at AS updated_at,
          {_j('processedAt', 'TIMESTAMPTZ')} AS processed_at,
          {_j('cancelledAt', 'TIMESTAMPTZ')} AS cancelled_at,
          coalesce({_j('test', 'BOOLEAN')}, false) AS is_test,
          {_j('displayFinancialStatus')} AS financial_status,
          {_j('displayFulfillmentStatus')} AS fulfillment_status,
          {_j('currencyCode')} AS currency,
          {_j('totalPriceSet.shopMoney.amount', MONEY)} AS total_price,
          {_j('subtotalPriceSet.shopMoney.amount', MONEY)} AS subtotal_price,
          {_j('totalTaxSet.shopMoney.amount', MONEY)} AS total_tax,
          {_j('totalShippingPriceSet.shopMoney.amount', MONEY)} AS total_shipping,
          {_j('totalDiscountsSet.shopMoney.amount', MONEY)} AS total_discounts,
          {_j('customer.id')} AS customer_id,
          {_j('customer.defaultEmailAddress.emailAddress')} AS customer_email,
          {_j('shippingAddress.countryCodeV2')} AS ship_country,
          coalesce({_j('retailLocation.name')}, 'online') AS location,
          {LOADED_AT}, {RUN_ID}
        FROM ({_latest('raw.shopify_orders', 'order_id')})
    """,
    "staging.order_lines": f"""
        SELECT
          o.order_id,
          l.line_number::INTEGER AS line_number,
          json_extract_string(l.line, '$.id') AS line_id,
          json_extract_string(l.line, '$.sku') AS sku,
          json_extract_string(l.line, '$.name') AS title,
          json_extract_string(l.line, '$.variant.id') AS variant_id,
          TRY_CAST(json_extract_string(l.line, '$.quantity') AS BIGINT) AS quantity,
          TRY_CAST(json_extract_string(l.line, '$.currentQuantity') AS BIGINT) AS current_quantity,
          TRY_CAST(json_extract_string(l.line, '$.originalUnitPriceSet.shopMoney.amount') AS {MONEY})
            AS unit_price,
          TRY_CAST(json_extract_string(l.line, '$.discountedUnitPriceSet.shopMoney.amount') AS {MONEY})
            AS discounted_unit_price,
          {_j('currencyCode').replace('payload', 'o.payload')} AS currency
        FROM ({_latest('raw.shopify_orders', 'order_id')}) AS o,
          unnest(json_extract(o.payload, '$.lineItems.nodes[*]')) WITH ORDINALITY AS l(line, line_number)
    """,
    "staging.items": f"""
        SELECT
          item_id,
          {_j('itemid')} AS sku,
          {_j('displayname')} AS display_name,
          {_j('itemtype')} AS item_type,
          coalesce({_FLAG.format(_j('isinactive'))}, false) AS is_inactive,
          {_j('upccode')} AS upc,
          {_j('externalid')} AS external_id,
          {_j('description')} AS description,
          source_updated_at AS updated_at,
          {LOADED_AT}, {RUN_ID}
        FROM ({_latest('raw.netsuite_items', 'item_id')})
    """,
    "staging.item_prices": f"""
        SELECT
          item_id,
          price_level,
          {_j('pricelevelname')} AS price_level_name,
          currency,
          {_j('currencyname')} AS currency_name,
          {_j('unitprice', MONEY)} AS unit_price,
          source_updated_at AS updated_at,
          {LOADED_AT}, {RUN_ID}
        FROM ({_latest('raw.netsuite_item_prices', 'item_id, price_level, currency')})
    """,
    "staging.locations": f"""
        SELECT
          location_id,
          {_j('name')} AS name,
          {_j('fullname')} AS full_name,
          {_j('externalid')} AS external_id,
          coalesce({_FLAG.format(_j('isinactive'))}, false) AS is_inactive,
          coalesce({_FLAG.format(_j('makeinventoryavailable'))}, false) AS makes_inventory_available,
          source_updated_at AS updated_at,
          {LOADED_AT}, {RUN_ID}
        FROM ({_latest('raw.netsuite_locations', 'location_id')})
    """,
    "staging.deleted_items": f"""
        SELECT
          item_id,
          {_j('name')} AS item_name,
          source_updated_at AS deleted_at,
          {LOADED_AT}, {RUN_ID}
        FROM ({_latest('raw.netsuite_deleted_items', 'item_id')})
    """,
    "staging.inventory": f"""
        SELECT
          item_id,
          location_id,
          {_j('quantityonhand', 'BIGINT')} AS quantity_on_hand,
          {_j('quantityavailable', 'BIGINT')} AS quantity_available,
          {_j('quantitycommitted', 'BIGINT')} AS quantity_committed,
          {_j('quantitybackordered', 'BIGINT')} AS quantity_backordered,
          {_j('quantityintransit', 'BIGINT')} AS quantity_in_transit,
          source_updated_at AS updated_at,
          {LOADED_AT}, {RUN_ID}
        FROM ({_latest('raw.netsuite_inventory', 'item_id, location_id')})
    """,
    "staging.customers": f"""
        SELECT
          customer_id,
          {_j('entityid')} AS entity_id,
          {_j('externalid')} AS external_id,
          {_j('email')} AS email,
          {_j('firstname')} AS first_name,
          {_j('lastname')} AS last_name,
          {_j('companyname')} AS company_name,
          coalesce({_FLAG.format(_j('isinactive'))}, false) AS is_inactive,
          {_j('datecreated', 'TIMESTAMPTZ')} AS created_at,
          source_updated_at AS updated_at,
          {LOADED_AT}, {RUN_ID}
        FROM ({_latest('raw.netsuite_customers', 'customer_id')})
    """,
    "staging.fulfillments": f"""
        SELECT
          fulfillment_id,
          {_j('tranid')} AS document_number,
          {_j('createdfrom')} AS sales_order_id,
          {_j('externalid')} AS external_id,
          {_j('status')} AS status,
          {_j('location')} AS location_id,
          {_j('trandate', 'DATE')} AS fulfilled_on,
          json_extract_string(payload, '$.trackingnumbers[*]') AS tracking_numbers,
          source_updated_at AS updated_at,
          {LOADED_AT}, {RUN_ID}
        FROM ({_latest('raw.netsuite_fulfillments', 'fulfillment_id')})
    """,
    # Event logs: reloading a batch must not double-count, so identical events collapse to one.
    "staging.sync_events": """
        SELECT flow, source_id, target_id, status, reason, event_at, source_updated_at,
               min(_loaded_at) AS _loaded_at
        FROM raw.sync_events
        GROUP BY ALL
    """,
    "staging.inventory_snapshots": """
        SELECT sku, location, netsuite_available, unsynced_qty, safety_stock, computed,
               previous_storefront, written, computed_at, min(_loaded_at) AS _loaded_at
        FROM raw.inventory_snapshots
        GROUP BY ALL
    """,
    # -------------------------------------------------------------- analytics
    "analytics.orders": """
        WITH ev AS (
          SELECT * FROM staging.sync_events WHERE flow = 'orders'
        ), latest AS (
          SELECT source_id, status, reason, event_at
          FROM ev QUALIFY row_number() OVER (PARTITION BY source_id ORDER BY event_at DESC, _loaded_at DESC) = 1
        ), synced AS (
          SELECT source_id, target_id, event_at, source_updated_at
          FROM ev WHERE status = 'synced'
          QUALIFY row_number() OVER (PARTITION BY source_id ORDER BY event_at DESC, _loaded_at DESC) = 1
        ), attempts AS (
          SELECT source_id, count(*) AS attempts FROM ev GROUP BY source_id
        )
        SELECT
          o.order_id, o.order_number, o.created_at, o.updated_at, o.cancelled_at, o.is_test,
          o.financial_status, o.fulfillment_status, o.currency, o.total_price, o.location,
          o.customer_email,
          coalesce(latest.status, 'pending') AS sync_status,
          CASE WHEN latest.status IN ('dead_lettered', 'failed') THEN latest.reason END AS sync_error,
          coalesce(attempts.attempts, 0) AS sync_attempts,
          synced.target_id AS netsuite_sales_order_id,
          synced.event_at AS sales_order_written_at,
          epoch(synced.event_at) - epoch(coalesce(synced.source_updated_at, o.updated_at)) AS latency_seconds
        FROM staging.orders o
        LEFT JOIN latest ON latest.source_id = o.order_id
        LEFT JOIN synced ON synced.source_id = o.order_id
        LEFT JOIN attempts ON attempts.source_id = o.order_id
    """,
    "analytics.daily_sales": """
        WITH lines AS (
          SELECT order_id, sum(quantity) AS units FROM staging.order_lines GROUP BY order_id
        )
        SELECT
          CAST(o.created_at AT TIME ZONE 'UTC' AS DATE) AS day,
          o.currency,
          o.location,
          count(*) AS orders,
          coalesce(sum(lines.units), 0) AS units,
          sum(o.subtotal_price) AS subtotal,
          sum(o.total_discounts) AS discounts,
          sum(o.total_shipping) AS shipping,
          sum(o.total_tax) AS tax,
          sum(o.total_price) AS total
        FROM staging.orders o
        LEFT JOIN lines ON lines.order_id = o.order_id
        WHERE NOT o.is_test AND o.cancelled_at IS NULL AND o.created_at IS NOT NULL
        GROUP BY ALL
    """,
    "analytics.inventory_position": """
        WITH latest AS (
          SELECT * FROM staging.inventory_snapshots
          QUALIFY row_number() OVER (PARTITION BY sku, location ORDER BY computed_at DESC, _loaded_at DESC) = 1
        ), last_write AS (
          SELECT sku, location, max(computed_at) AS last_written_at
          FROM staging.inventory_snapshots WHERE written GROUP BY ALL
        ), ns AS (
          -- A storefront location may gather several NetSuite locations (the policy's location map),
          -- so NetSuite's own figures are given per SKU across all its locations.
          SELECT i.sku, sum(inv.quantity_on_hand) AS quantity_on_hand,
                 sum(inv.quantity_committed) AS quantity_committed, max(inv.updated_at) AS updated_at
          FROM staging.inventory inv JOIN staging.items i USING (item_id)
          GROUP BY i.sku
        )
        SELECT
          latest.sku,
          latest.location,
          latest.netsuite_available,
          latest.unsynced_qty,
          latest.safety_stock,
          latest.computed AS computed_available,
          CASE WHEN latest.written THEN latest.computed ELSE latest.previous_storefront END
            AS storefront_available,
          CASE WHEN latest.written THEN latest.computed ELSE latest.previous_storefront END
            - latest.computed AS storefront_drift,
          latest.written AS last_computation_written,
          latest.computed_at,
          last_write.last_written_at,
          ns.quantity_on_hand AS netsuite_on_hand,
          ns.quantity_committed AS netsuite_committed,
          ns.updated_at AS netsuite_updated_at
        FROM latest
        LEFT JOIN last_write USING (sku, location)
        LEFT JOIN ns ON ns.sku = latest.sku
    """,
    "analytics.sync_health": """
        WITH latest AS (
          SELECT flow, source_id, status
          FROM staging.sync_events
          QUALIFY row_number() OVER (PARTITION BY flow, source_id ORDER BY event_at DESC, _loaded_at DESC) = 1
        ), per_flow AS (
          SELECT flow,
                 count(*) AS records,
                 count(*) FILTER (WHERE status = 'synced') AS synced,
                 count(*) FILTER (WHERE status = 'dead_lettered') AS dead_lettered,
                 count(*) FILTER (WHERE status = 'failed') AS failing
          FROM latest GROUP BY flow
        ), lat AS (
          SELECT flow,
                 count(*) FILTER (WHERE status = 'failed') AS failed_attempts,
                 quantile_cont(epoch(event_at) - epoch(source_updated_at), 0.5)
                   FILTER (WHERE status = 'synced') AS latency_p50_seconds,
                 quantile_cont(epoch(event_at) - epoch(source_updated_at), 0.95)
                   FILTER (WHERE status = 'synced') AS latency_p95_seconds,
                 max(event_at) FILTER (WHERE status = 'synced') AS last_synced_at,
                 max(event_at) AS last_event_at
          FROM staging.sync_events GROUP BY flow
        )
        SELECT per_flow.*, lat.failed_attempts, lat.latency_p50_seconds, lat.latency_p95_seconds,
               lat.last_synced_at, lat.last_event_at
        FROM per_flow JOIN lat USING (flow)
    """,
    "analytics.catalog": """
        SELECT
          i.item_id, i.sku, i.display_name, i.item_type, i.is_inactive,
          i.item_id IN (SELECT item_id FROM staging.deleted_items) AS is_deleted, i.upc,
          p.price_level, p.price_level_name, p.currency, p.currency_name, p.unit_price,
          greatest(i.updated_at, p.updated_at) AS updated_at
        FROM staging.items i
        LEFT JOIN staging.item_prices p USING (item_id)
    """,
}

STAGING_VIEWS = tuple(v for v in VIEWS if v.startswith("staging."))
ANALYTICS_VIEWS = tuple(v for v in VIEWS if v.startswith("analytics."))


def ensure_schema(conn: duckdb.DuckDBPyConnection) -> None:
    """Create every schema, raw table and view; safe to call on every run (views are replaced)."""
    conn.execute("BEGIN TRANSACTION")
    try:
        for schema in SCHEMAS:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        for table in RAW_TABLES.values():
            conn.execute(table.ddl())
            for name, typ in VERSION_COLUMNS:  # files created before raw kept versions
                conn.execute(f"ALTER TABLE {table.name} ADD COLUMN IF NOT EXISTS {name} {typ}")
            conn.execute(f"UPDATE {table.name} SET {CONTENT_HASH} = {table.hash_sql()} WHERE {CONTENT_HASH} IS NULL")
        for name, sql in VIEWS.items():
            conn.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
