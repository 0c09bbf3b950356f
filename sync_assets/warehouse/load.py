"""Bulk loading of pandas frames into the warehouse.

Both loaders hand the whole frame to DuckDB's pandas scan (``INSERT … SELECT … FROM <frame>``) inside one
transaction; nothing is ever inserted row by row (``executemany`` manages about 1,000 rows/s, the scan
well over a million). Payload text is checked for secrets inside that same statement: DuckDB runs
:data:`~sync_assets.warehouse.scrub.PREFILTER_REGEX` over every payload in parallel and calls back into
Python only for the rare rows that match.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import duckdb

from sync_assets.warehouse.schema import LOADED_AT, RAW_TABLES, RUN_ID, RawTable
from sync_assets.warehouse.scrub import PREFILTER_REGEX, scrub_json_text, to_json_text

if TYPE_CHECKING:  # pandas costs a second to import; a run that lands nothing should not pay it
    import pandas as pd

PAYLOAD = "payload"
_SCRUB_UDF = "sync_assets_scrub_json"
UPSERT_METHODS = ("delete_insert", "insert_or_replace")


class WarehouseLoadError(Exception):
    """A frame could not be loaded; the message names the table and what was wrong. Nothing was written."""


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _quote_qualified(name: str) -> str:
    return ".".join(_quote(part) for part in name.split("."))


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _raw_table(table: str) -> RawTable:
    name = table if "." in table else f"raw.{table}"
    try:
        return RAW_TABLES[name]
    except KeyError:
        raise WarehouseLoadError(
            f"append_frame: unknown raw table {table!r}; known: {', '.join(sorted(RAW_TABLES))}"
        ) from None


def _ensure_scrub_udf(conn: duckdb.DuckDBPyConnection) -> None:
    from duckdb.sqltypes import VARCHAR

    found = conn.execute(
        "SELECT count(*) FROM duckdb_functions() WHERE function_name = ?", [_SCRUB_UDF]
    ).fetchall()
    if not found[0][0]:
        conn.create_function(_SCRUB_UDF, scrub_json_text, [VARCHAR], VARCHAR, null_handling="special")


def _prepare_payload(df: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """Serialise dict/list payloads (scrubbing them on the way); text payloads pass through untouched.

    Also says whether every payload is scrubbed already (none arrived as text): then the SQL check of
    :func:`_select_expr` would only repeat the work (it costs about 0.3 s per million payloads)."""
    import pandas as pd

    if PAYLOAD not in df.columns:
        return df, True
    kind = pd.api.types.infer_dtype(df[PAYLOAD], skipna=True)
    if kind in ("string", "empty"):
        return df, kind == "empty"
    scrubbed = not any(isinstance(p, str) for p in df[PAYLOAD])
    return df.assign(**{PAYLOAD: df[PAYLOAD].map(to_json_text)}), scrubbed


def _select_expr(column: str, scrubbed: bool = False) -> str:
    quoted = _quote(column)
    if column != PAYLOAD or scrubbed:
        return quoted
    return (
        f"CASE WHEN regexp_matches({quoted}, {_sql_literal(PREFILTER_REGEX)}) "
        f"THEN {_SCRUB_UDF}({quoted}) ELSE {quoted} END"
    )


def _check_columns(where: str, df: pd.DataFrame, allowed: Sequence[str], required: Sequence[str]) -> list[str]:
    cols = [str(c) for c in df.columns]
    if len(set(cols)) != len(cols):
        raise WarehouseLoadError(f"{where}: frame has duplicate column names: {cols}")
    unknown = [c for c in cols if c not in allowed]
    if unknown:
        raise WarehouseLoadError(f"{where}: frame columns {unknown} are not in the table (allowed: {list(allowed)})")
    missing = [c for c in required if c not in cols]
    if missing:
        raise WarehouseLoadError(f"{where}: frame lacks required columns {missing}")
    return cols


def _in_transaction(conn: duckdb.DuckDBPyConnection, where: str, statements) -> None:
    """Run ``statements(conn)`` in one transaction; any failure rolls back and names ``where``."""
    conn.execute("BEGIN TRANSACTION")
    try:
        statements(conn)
        conn.execute("COMMIT")
    except BaseException as exc:
        conn.execute("ROLLBACK")
        if isinstance(exc, duckdb.Error):
            raise WarehouseLoadError(f"{where}: {exc}") from exc
        raise


def append_frame(conn: duckdb.DuckDBPyConnection, table: str, df: pd.DataFrame, run_id: str) -> int:
    """Append ``df`` to raw table ``table`` (``"raw.shopify_orders"`` or ``"shopify_orders"``) in one transaction.

    The frame carries the table's typed columns (natural keys required, others may be absent → NULL);
    ``_loaded_at`` and ``_run_id`` are stamped here. ``payload`` may hold dicts/lists or JSON text.
    Returns the number of rows appended. Raw keeps every load; staging dedupes.
    """
    spec = _raw_table(table)
    where = f"append_frame({spec.name})"
    if not isinstance(run_id, str) or not run_id:
        raise WarehouseLoadError(f"{where}: run_id must be a non-empty string, got {run_id!r}")
    cols = _check_columns(where, df, spec.column_names, spec.keys)
    if df.empty:
        return 0
    src, scrubbed = _prepare_payload(df)
    view = f"_append_{uuid.uuid4().hex}"
    target_cols = ", ".join(_quote(c) for c in [*cols, LOADED_AT, RUN_ID])
    select = ", ".join(_select_expr(c, scrubbed) for c in cols)
    sql = (
        f"INSERT INTO {spec.name} ({target_cols}) "
        f"SELECT {select}, CAST(? AS TIMESTAMPTZ), ? FROM {_quote(view)}"
    )
    if PAYLOAD in cols:
        _ensure_scrub_udf(conn)
    conn.register(view, src)
    try:
        _in_transaction(conn, where, lambda c: c.execute(sql, [datetime.now(UTC), run_id]))
    finally:
        conn.unregister(view)
    return len(df)


def _table_columns(conn: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    parts = table.split(".")
    if len(parts) != 2 or not all(parts):
        raise WarehouseLoadError(f"upsert_frame: table must be 'schema.table', got {table!r}")
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        parts,
    ).fetchall()
    if not rows:
        raise WarehouseLoadError(f"upsert_frame: table {table!r} does not exist")
    return [r[0] for r in rows]


def upsert_frame(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    df: pd.DataFrame,
    keys: Sequence[str],
    *,
    method: str = "delete_insert",
) -> int:
    """Make ``table`` hold exactly one row per key from ``df`` (last occurrence in the frame wins).

    ``delete_insert`` (default: needs no primary key; within noise of the other in ``bench/warehouse.py``)
    deletes the frame's keys and inserts the frame in one transaction. ``insert_or_replace`` needs a
    primary key on ``keys``. Duplicates inside the batch are dropped first: neither DuckDB path dedupes
    within one statement. Returns the number of rows written.
    """
    where = f"upsert_frame({table})"
    if method not in UPSERT_METHODS:
        raise WarehouseLoadError(f"{where}: method must be one of {UPSERT_METHODS}, got {method!r}")
    keys = list(keys)
    if not keys:
        raise WarehouseLoadError(f"{where}: keys must name at least one column")
    table_cols = _table_columns(conn, table)
    missing_keys = [k for k in keys if k not in table_cols]
    if missing_keys:
        raise WarehouseLoadError(f"{where}: key columns {missing_keys} are not in the table")
    cols = _check_columns(where, df, table_cols, keys)
    if df.empty:
        return 0
    null_keys = df[keys].isna().any(axis=1)
    if null_keys.any():
        raise WarehouseLoadError(f"{where}: {int(null_keys.sum())} rows have a NULL key (first at index {df.index[null_keys][0]!r})")
    src, scrubbed = _prepare_payload(df.drop_duplicates(subset=keys, keep="last"))
    view = f"_upsert_{uuid.uuid4().hex}"
    qtable = _quote_qualified(table)
    target_cols = ", ".join(_quote(c) for c in cols)
    select = ", ".join(_select_expr(c, scrubbed) for c in cols)
    qview = _quote(view)
    verb = "INSERT OR REPLACE INTO" if method == "insert_or_replace" else "INSERT INTO"
    insert = f"{verb} {qtable} ({target_cols}) SELECT {select} FROM {qview}"
    match = " AND ".join(f"{qtable}.{_quote(k)} = {qview}.{_quote(k)}" for k in keys)
    delete = f"DELETE FROM {qtable} USING {qview} WHERE {match}"

    def statements(c: duckdb.DuckDBPyConnection) -> None:
        if method == "delete_insert":
            c.execute(delete)
        c.execute(insert)

    if PAYLOAD in cols:
        _ensure_scrub_udf(conn)
    conn.register(view, src)
    try:
        _in_transaction(conn, where, statements)
    finally:
        conn.unregister(view)
    return len(src)
