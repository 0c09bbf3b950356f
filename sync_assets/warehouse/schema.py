"""Every table and view of the warehouse, in one place.

Three schemas in one DuckDB file:

* ``raw`` — append-only landing tables, one per source entity. Payloads are stored exactly as landed
  (after :func:`sync_assets.warehouse.scrub.scrub`), with the natural key(s) and the source's own
  ``source_updated_at`` pulled out as typed columns so dedupe never has to parse JSON.
* ``staging`` and ``analytics`` — the dbt project in ``dbt/`` (views over ``raw`` with typed columns and
  the latest version per natural key; the documented marts as tables, see ``docs/data_dictionary.md``).
  Only the raw DDL lives here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

SCHEMAS = ("raw", "staging", "analytics")

# Columns every raw table carries, set by the loader, never by callers.
LOADED_AT = "_loaded_at"
RUN_ID = "_run_id"
LOAD_COLUMNS = ((LOADED_AT, "TIMESTAMPTZ NOT NULL"), (RUN_ID, "VARCHAR NOT NULL"))


@dataclass(frozen=True)
class RawTable:
    """One append-only landing table: its typed columns (callers supply them) and its natural key."""

    name: str  # qualified, e.g. "raw.shopify_orders"
    columns: tuple[tuple[str, str], ...]  # (name, DuckDB type) supplied by the caller's frame
    keys: tuple[str, ...]  # natural key; NOT NULL
    has_payload: bool = True

    @property
    def all_columns(self) -> tuple[tuple[str, str], ...]:
        return self.columns + LOAD_COLUMNS

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
        _payload_table("raw.netsuite_inventory", "item_id", "location_id"),
        _payload_table("raw.netsuite_customers", "customer_id"),
        _payload_table("raw.netsuite_fulfillments", "fulfillment_id"),
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
        ),
    )
}


# staging and analytics are the dbt project's models (``dbt/models/<schema>/<schema>__<table>.sql``), built by
# the ``warehouse_models`` assets. Their relations, for the snapshot that copies them:
DBT_MODELS_DIR = Path(__file__).resolve().parent / "dbt" / "models"


def _models(schema: str) -> tuple[str, ...]:
    return tuple(f"{schema}.{p.stem.split('__', 1)[1]}" for p in sorted((DBT_MODELS_DIR / schema).glob(f"{schema}__*.sql")))


STAGING_VIEWS = _models("staging")
ANALYTICS_VIEWS = _models("analytics")  # dbt materialises the marts as tables; the name stays for callers
MODELS = STAGING_VIEWS + ANALYTICS_VIEWS


def ensure_schema(conn: duckdb.DuckDBPyConnection) -> None:
    """Create every schema and raw table; safe to call on every run. staging and analytics are dbt's."""
    conn.execute("BEGIN TRANSACTION")
    try:
        for schema in SCHEMAS:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        for table in RAW_TABLES.values():
            conn.execute(table.ddl())
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
