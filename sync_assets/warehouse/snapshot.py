"""The analysts' snapshot: a consistent, self-contained copy of the warehouse, swapped in atomically.

Analysts never open the live file: a run holds its write lock, and any open of theirs either blocks the run
(DuckDB is single-writer across processes) or fails with a lock error. Instead this module copies the live
file, in one read transaction, into a temporary file next to the target, materialises the staging and
analytics views as tables there (fast to query, no JSON parsing at read time), writes Parquet files of the
analytics tables, then ``os.replace``s everything into place. A reader that opens the target sees either the
old complete file or the new complete file, never a half-written one; a reader already holding the old file
open keeps reading it (the old inode lives until it closes).
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from sync_assets.connectors.http import Backoff
from sync_assets.warehouse.schema import ANALYTICS_VIEWS, RAW_TABLES, SCHEMAS, STAGING_VIEWS

_SRC = "live_src"
_SNAP = "snap_out"


class WarehouseLockedError(Exception):
    """The live warehouse stayed locked by another process for the whole retry window."""


@dataclass(frozen=True)
class SnapshotResult:
    path: Path
    parquet_files: dict[str, Path]  # "analytics.orders" -> file
    row_counts: dict[str, int]  # every table in the snapshot
    exported_at: datetime
    lock_wait_seconds: float


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, duckdb.IOException) and ("lock" in text or "resource temporarily unavailable" in text)


def _attach_source(conn: duckdb.DuckDBPyConnection, source: Path, timeout_s: float) -> float:
    """ATTACH the live file read-only, retrying the writer's lock with jittered backoff; returns seconds waited."""
    backoff = Backoff(max_attempts=1_000, base_seconds=0.02, cap_seconds=1.0)
    start = time.monotonic()
    attempt = 0
    while True:
        try:
            conn.execute(f"ATTACH {_literal(str(source))} AS {_SRC} (READ_ONLY)")
            return time.monotonic() - start
        except duckdb.Error as exc:
            waited = time.monotonic() - start
            if not _is_lock_error(exc):
                raise
            if waited >= timeout_s:
                raise WarehouseLockedError(
                    f"live warehouse {source} stayed locked by another process for {waited:.1f}s "
                    f"({attempt + 1} attempts); the snapshot was not refreshed and the previous one is "
                    f"still in place. Last error: {exc}"
                ) from exc
            time.sleep(min(backoff.delay(attempt), max(0.0, timeout_s - waited)))
            attempt += 1


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _copy_into(conn: duckdb.DuckDBPyConnection, src: str, tmp: Path, exported_at: datetime) -> dict[str, int]:
    """Copy raw tables and materialise staging/analytics from catalog ``src`` into ``tmp``, in one transaction."""
    conn.execute(f"ATTACH {_literal(str(tmp))} AS {_SNAP}")
    counts: dict[str, int] = {}
    try:
        conn.execute("BEGIN TRANSACTION")  # one MVCC read view: every table reflects the same commit
        try:
            for schema in SCHEMAS:
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {_SNAP}.{schema}")
            for name in (*RAW_TABLES, *_flow_raw_tables(conn, src), *STAGING_VIEWS, *ANALYTICS_VIEWS):
                created = conn.execute(f"CREATE TABLE {_SNAP}.{name} AS SELECT * FROM {src}.{name}").fetchall()
                counts[name] = created[0][0]  # CTAS answers with its row count
            conn.execute(
                f"CREATE TABLE {_SNAP}.main.snapshot_info AS SELECT CAST(? AS TIMESTAMPTZ) AS exported_at, "
                f"(SELECT max(_loaded_at) FROM {src}.raw.shopify_orders) AS orders_loaded_until",
                [exported_at],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.execute(f"DETACH {_SNAP}")  # checkpoints: the file is complete, no WAL beside it
    return counts


def _flow_raw_tables(conn: duckdb.DuckDBPyConnection, src: str) -> list[str]:
    """Raw tables a flow creates itself (e.g. ``raw.reconciliation_findings``), beyond the shared schema's."""
    rows = conn.execute(
        "SELECT schema_name || '.' || table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'raw'",
        [src.strip('"')],
    ).fetchall()
    return sorted(name for (name,) in rows if name not in RAW_TABLES)


def _write_parquet(tmp_db: Path, parquet_dir: Path, tag: str) -> dict[str, Path]:
    """Parquet of each analytics table, written to temp names; returns final name -> temp file."""
    parquet_dir.mkdir(parents=True, exist_ok=True)
    pending: dict[str, Path] = {}
    with duckdb.connect(str(tmp_db), read_only=True) as snap:
        for name in ANALYTICS_VIEWS:
            tmp_file = parquet_dir / f".{name}.parquet.{tag}"
            snap.execute(f"COPY (SELECT * FROM {name}) TO {_literal(str(tmp_file))} (FORMAT parquet)")
            pending[name] = tmp_file
    return pending


def export_snapshot(
    source_path: str | os.PathLike,
    target_path: str | os.PathLike,
    *,
    conn: duckdb.DuckDBPyConnection | None = None,
    parquet_dir: str | os.PathLike | None = None,
    lock_timeout_s: float = 60.0,
) -> SnapshotResult:
    """Write a consistent copy of the warehouse at ``source_path`` to ``target_path`` and swap it in atomically.

    Parquet files of the analytics tables go to ``parquet_dir`` (default ``<target dir>/parquet``), one file
    per table, each swapped in atomically. Pass ``conn`` (the writer's own connection, e.g. from
    ``DuckDBResource``) to copy through it with no lock to wait for; otherwise the live file is attached
    read-only, retrying its lock for up to ``lock_timeout_s`` before :class:`WarehouseLockedError`.
    """
    source = Path(source_path).resolve()
    target = Path(target_path).resolve()
    if source == target:
        raise ValueError(f"export_snapshot: target {target} is the live file itself")
    if conn is None and not source.exists():
        raise FileNotFoundError(f"export_snapshot: live warehouse {source} does not exist")
    target.parent.mkdir(parents=True, exist_ok=True)
    out_dir = Path(parquet_dir).resolve() if parquet_dir is not None else target.parent / "parquet"
    tag = f"tmp-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    tmp_db = target.with_name(f".{target.name}.{tag}")
    exported_at = datetime.now(UTC)
    pending: dict[str, Path] = {}
    try:
        if conn is None:
            with duckdb.connect() as own:  # in-memory hub: source attached read-only, temp file read-write
                waited = _attach_source(own, source, lock_timeout_s)
                counts = _copy_into(own, _SRC, tmp_db, exported_at)
        else:
            waited = 0.0
            src = conn.execute("SELECT current_database()").fetchall()[0][0]
            counts = _copy_into(conn, f'"{src}"', tmp_db, exported_at)
        pending = _write_parquet(tmp_db, out_dir, tag)
        final_parquet = {name: out_dir / f"{name}.parquet" for name in pending}
        for name, tmp_file in pending.items():
            os.replace(tmp_file, final_parquet[name])
        pending = {}
        os.replace(tmp_db, target)
    finally:
        for leftover in (tmp_db, tmp_db.with_name(tmp_db.name + ".wal"), *pending.values()):
            leftover.unlink(missing_ok=True)
    return SnapshotResult(
        path=target,
        parquet_files=final_parquet,
        row_counts=counts,
        exported_at=exported_at,
        lock_wait_seconds=waited,
    )
