"""Every table and view of the warehouse, in one place.

Three schemas in one DuckDB file:

* ``raw`` — append-only landing tables, one per source entity. Payloads are stored exactly as landed
  (after :func:`sync_assets.warehouse.scrub.scrub`), with the natural key(s) and the source's own
  ``source_updated_at`` pulled out as typed columns so dedupe never has to parse JSON. Raw keeps
  versions, not copies: the merge (``merge.py``) appends a row only when its ``_content_hash`` is new,
  so staging picks the latest version per key and a re-landed overlap window adds nothing.
* ``staging`` and ``analytics`` — the dbt project in ``dbt/`` (views over ``raw`` with typed columns and
  the latest version per natural key; the documented marts, see ``docs/data_dictionary.md``).
  Only the raw DDL lives here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
        # Shopify Admin GraphQL Customer node (flows/customers.py: documents._CUSTOMER_FIELDS).
        _payload_table("raw.shopify_customers", "customer_id"),
        # Shopify Location nodes as the inventory flow read them, plus the NetSuite location each maps to.
        _payload_table("raw.shopify_locations", "location_id"),
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
        # Storefront vs NetSuite per shop-local day (flows/reconciliation.py): each finding's state as the
        # ledger tracks it; a re-run that changes nothing adds no version (run_id / checked_at not hashed).
        RawTable(
            name="raw.reconciliation_findings",
            columns=(
                ("run_id", "VARCHAR"),
                ("checked_at", "TIMESTAMPTZ NOT NULL"),
                ("kind", "VARCHAR"),  # missing | duplicated | mismatched_total
                ("order_id", "VARCHAR"),
                ("order_name", "VARCHAR"),
                ("external_id", "VARCHAR"),
                ("netsuite_ids", "VARCHAR"),
                ("storefront_total", "DECIMAL(18,4)"),
                ("netsuite_total", "DECIMAL(18,4)"),
                ("requeued", "BOOLEAN NOT NULL"),
                ("detail", "VARCHAR"),
                # Added with daily partitions (nullable in files that predate them, see ensure_schema).
                ("partition_date", "DATE"),
                ("status", "VARCHAR"),  # open | healed
                ("first_seen_at", "TIMESTAMPTZ"),
                ("opened_at", "TIMESTAMPTZ"),  # a finding seen again after it healed is a new version
                ("healed_at", "TIMESTAMPTZ"),
            ),
            keys=("partition_date", "kind", "order_id"),
            has_payload=False,
            hash_exclude=("run_id", "checked_at"),
        ),
        # One row per run of any job (defs/run_record.py): what it moved and what it cost, success or failure.
        # Each of a run's steps lands the run's totals so far, and the failure sensor the row of a run that died
        # before a hook could (API counters NULL): staging.flow_runs keeps the latest outcome per run.
        RawTable(
            name="raw.flow_runs",
            columns=(
                ("run_id", "VARCHAR"),
                ("flow", "VARCHAR"),
                ("lane", "VARCHAR"),  # realtime | batch
                ("trigger", "VARCHAR"),  # sensor | webhook | schedule | backfill | manual
                ("partition_key", "VARCHAR"),
                ("started_at", "TIMESTAMPTZ"),
                ("ended_at", "TIMESTAMPTZ NOT NULL"),
                ("outcome", "VARCHAR NOT NULL"),  # success | failure
                ("records_examined", "BIGINT"),
                ("records_synced", "BIGINT"),
                ("records_failed", "BIGINT"),
                ("records_dead_lettered", "BIGINT"),
                ("shopify_calls", "BIGINT"),
                ("shopify_cost_points", "DOUBLE"),
                ("shopify_throttled", "BIGINT"),
                ("shopify_throttle_wait_seconds", "DOUBLE"),
                ("netsuite_calls", "BIGINT"),
                ("netsuite_throttled", "BIGINT"),
            ),
            keys=("run_id",),
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


# staging and analytics are the dbt project's models (``dbt/models/<schema>/<schema>__<table>.sql``), built by
# the ``warehouse_models`` assets. Their relations, for the snapshot that copies them:
DBT_MODELS_DIR = Path(__file__).resolve().parent / "dbt" / "models"


def _models(schema: str) -> tuple[str, ...]:
    return tuple(f"{schema}.{p.stem.split('__', 1)[1]}" for p in sorted((DBT_MODELS_DIR / schema).glob(f"{schema}__*.sql")))


STAGING_VIEWS = _models("staging")
ANALYTICS_VIEWS = _models("analytics")
MODELS = STAGING_VIEWS + ANALYTICS_VIEWS


def ensure_schema(conn: duckdb.DuckDBPyConnection) -> None:
    """Create every schema and raw table; safe to call on every run. staging and analytics are dbt's."""
    conn.execute("BEGIN TRANSACTION")
    try:
        for schema in SCHEMAS:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        for table in RAW_TABLES.values():
            conn.execute(table.ddl())
            for name, typ in table.columns:  # columns added to a raw table after files were created with it
                plain = typ.replace(" NOT NULL", "")
                conn.execute(f"ALTER TABLE {table.name} ADD COLUMN IF NOT EXISTS {name} {plain}")
            for name, typ in VERSION_COLUMNS:  # files created before raw kept versions
                conn.execute(f"ALTER TABLE {table.name} ADD COLUMN IF NOT EXISTS {name} {typ}")
            conn.execute(f"UPDATE {table.name} SET {CONTENT_HASH} = {table.hash_sql()} WHERE {CONTENT_HASH} IS NULL")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
