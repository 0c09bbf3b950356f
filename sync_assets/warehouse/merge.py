"""The one writer: landed Parquet files → ``raw``, appending only versions raw does not hold yet.

:func:`merge_pending` opens the warehouse read-write only for the merge itself, after a short wait for
the file lock; if someone else holds it (an analyst's read-write session, a stuck process) it gives up for
now and says so — the files stay queued and the next ``warehouse_load`` run takes them. Nothing is lost
and no sync run ever waits. Per raw table, one bulk statement over every queued file::

    INSERT INTO raw.t SELECT … FROM read_parquet([files]) s ANTI JOIN raw.t r ON r._content_hash = s._content_hash

so a re-landed overlap window, a re-run or an unchanged nightly catalog adds nothing. Files are marked
merged in the ledger after the commit (a crash in between re-merges them, which adds nothing either) and
then deleted.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from sync_assets.state.ledger import LandedFile, Ledger
from sync_assets.warehouse.load import WarehouseLoadError, _in_transaction, _sql_literal
from sync_assets.warehouse.locking import WarehouseLockedError, retry_locked
from sync_assets.warehouse.schema import CONTENT_HASH, LANDED_AT, LOADED_AT, RAW_TABLES, RUN_ID, ensure_schema

DEFAULT_LOCK_WAIT_S = 10.0
MAX_FILES_PER_MERGE = 2_000  # one statement per table reads them all; bounded so one merge stays short


@dataclass
class MergeResult:
    files: int = 0
    landed_rows: int = 0  # rows in the files
    appended: dict[str, int] = field(default_factory=dict)  # raw table → new versions
    missing: list[str] = field(default_factory=list)  # queued files that were gone
    deferred: str | None = None  # why nothing was merged (the lock was held elsewhere)
    lock_wait_seconds: float = 0.0
    merge_seconds: float = 0.0  # time holding the write lock
    pending_after: int = 0

    @property
    def appended_rows(self) -> int:
        return sum(self.appended.values())

    @property
    def duplicate_rows(self) -> int:
        return self.landed_rows - self.appended_rows


def _merge_sql(table: str, paths: list[str]) -> str:
    spec = RAW_TABLES[table]
    cols = [*spec.column_names, CONTENT_HASH, RUN_ID, LANDED_AT]
    listed = ", ".join(_sql_literal(p) for p in paths)
    select = ", ".join(f"s.{c}" for c in cols)
    # Landed as UUID (Parquet has no 128-bit integer, landing_area.py), held in raw as UHUGEINT: same bits.
    hashed = f"CAST(s.{CONTENT_HASH} AS UHUGEINT)"
    select = select.replace(f"s.{CONTENT_HASH}", hashed)
    # Within the batch one row per hash too (the same version landed by two runs), the first landed wins.
    # One file holds one version per key already (a run lands what it read once), so it skips that step.
    dedupe = (f" QUALIFY row_number() OVER (PARTITION BY s.{CONTENT_HASH} ORDER BY s.{LANDED_AT}, s.{RUN_ID}) = 1"
              if len(paths) > 1 else "")
    return (
        f"INSERT INTO {table} ({', '.join(cols)}, {LOADED_AT}) "
        f"SELECT {select}, CAST(? AS TIMESTAMPTZ) FROM read_parquet([{listed}], union_by_name = true) s "
        f"ANTI JOIN {table} r ON r.{CONTENT_HASH} = {hashed}{dedupe}"
    )


def _by_hash_type(conn: duckdb.DuckDBPyConnection, paths: list[str]) -> list[list[str]]:
    """``paths`` grouped by how their hash column was written: one ``read_parquet`` cannot mix the UUID of
    today's landing with the DOUBLE of files landed before it, still queued across an upgrade."""
    listed = ", ".join(_sql_literal(p) for p in paths)
    types = dict(conn.execute(
        f"SELECT file_name, type FROM parquet_schema([{listed}]) WHERE name = {_sql_literal(CONTENT_HASH)}"
    ).fetchall())  # fmt: skip
    groups: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        groups[types.get(path, "")].append(path)
    return [group for _, group in sorted(groups.items())]


def merge_files(conn: duckdb.DuckDBPyConnection, files: list[LandedFile]) -> dict[str, int]:
    """Append the new versions in ``files`` to their raw tables in one transaction; returns rows appended."""
    by_table: dict[str, list[str]] = defaultdict(list)
    for f in files:
        if f.raw_table not in RAW_TABLES:
            raise WarehouseLoadError(f"merge: {f.path} is queued for unknown raw table {f.raw_table!r}")
        by_table[f.raw_table].append(f.path)
    appended: dict[str, int] = {}
    now = datetime.now(UTC)

    def statements(c: duckdb.DuckDBPyConnection) -> None:
        for table, paths in sorted(by_table.items()):
            appended[table] = sum(c.execute(_merge_sql(table, same), [now]).fetchall()[0][0]
                                  for same in _by_hash_type(c, paths))

    # Raw rows have no order (staging picks versions by time): an insert that need not keep the files' order
    # writes in parallel without buffering to reorder. The caller's setting is put back after.
    kept = conn.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
    conn.execute("SET preserve_insertion_order = false")
    try:
        _in_transaction(conn, f"merge({len(files)} files)", statements)
    finally:
        conn.execute(f"SET preserve_insertion_order = {'true' if kept else 'false'}")
    return appended


def merge_pending(
    warehouse_path: str,
    ledger: Ledger,
    *,
    lock_wait_s: float = DEFAULT_LOCK_WAIT_S,
    max_files: int = MAX_FILES_PER_MERGE,
) -> MergeResult:
    """Merge what is queued in ``ledger`` into the warehouse at ``warehouse_path`` (see the module docstring)."""
    result = MergeResult()
    queued = ledger.pending_landed(limit=max_files)
    present = [f for f in queued if Path(f.path).exists()]
    result.missing = [f.path for f in queued if not Path(f.path).exists()]
    if result.missing:
        ledger.mark_merged([f.id for f in queued if f.path in set(result.missing)], status="missing")
        ledger.record_alert("landing_file_missing", f"{len(result.missing)} landed file(s) were gone before the "
                            f"merge, their rows are not in raw: {', '.join(result.missing[:5])}")
    if not present:
        result.pending_after = ledger.landed_summary()["files"]
        return result
    try:
        conn, result.lock_wait_seconds = retry_locked(lambda: duckdb.connect(warehouse_path), warehouse_path,
                                                      lock_wait_s)
    except WarehouseLockedError as exc:
        result.deferred = str(exc)
        result.pending_after = ledger.landed_summary()["files"]
        return result
    started = time.monotonic()
    try:
        ensure_schema(conn)
        result.appended = merge_files(conn, present)
    finally:
        conn.close()
        result.merge_seconds = time.monotonic() - started
    ledger.mark_merged([f.id for f in present])
    for f in present:
        Path(f.path).unlink(missing_ok=True)
    result.files = len(present)
    result.landed_rows = sum(f.rows for f in present)
    result.pending_after = ledger.landed_summary()["files"]
    return result
