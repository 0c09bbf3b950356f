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
# Rows per merge transaction (at least one file): what a merge holds grows with its rows (measured:
# 1.25 GiB at 100,000 orders, 7 GiB at 1,000,000), and a million-order backfill queued at once would be
# one 7 GB transaction. The rest waits for the next warehouse_load run, which the landing-queue sensor
# starts at once. Not a DuckDB memory_limit: a 1 GB one made a million-row merge fail with out of memory
# (and 512 MB one of 200,000 rows), where a batch bound keeps the peak flat without a failure mode.
MAX_ROWS_PER_MERGE = 100_000


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
    source = f"read_parquet([{listed}], union_by_name = true, filename = true, file_row_number = true)"
    # Within the batch one row per hash too (the same version landed by two runs), the first landed wins.
    # Chosen by a semi-join on (file, row) from a pass over the small columns only: a window over the rows
    # would hold every payload of the batch in memory at once (7 GB for a million-order backfill).
    # One file holds one version per key already (a run lands what it read once), so it skips that step.
    dedupe = ""
    if len(paths) > 1:
        firsts = (f"SELECT min(struct_pack(l := {LANDED_AT}, r := {RUN_ID}, f := filename, n := file_row_number)) AS k "
                  f"FROM {source} GROUP BY {CONTENT_HASH}")
        dedupe = f" SEMI JOIN ({firsts}) d ON d.k.f = s.filename AND d.k.n = s.file_row_number"
    return (
        f"INSERT INTO {table} ({', '.join(cols)}, {LOADED_AT}) "
        f"SELECT {select}, CAST(? AS TIMESTAMPTZ) FROM {source} s{dedupe} "
        f"ANTI JOIN {table} r ON r.{CONTENT_HASH} = {hashed}"
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
    max_rows: int = MAX_ROWS_PER_MERGE,
) -> MergeResult:
    """Merge what is queued in ``ledger`` into the warehouse at ``warehouse_path`` (see the module docstring):
    the oldest files, up to ``max_files`` and ``max_rows`` (at least one file)."""
    result = MergeResult()
    queued, rows = [], 0
    for f in ledger.pending_landed(limit=max_files):
        if queued and rows + f.rows > max_rows:
            break
        queued.append(f)
        rows += f.rows
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


def merge_all_pending(warehouse_path: str, ledger: Ledger, **options) -> MergeResult:
    """:func:`merge_pending` until nothing is left (or the lock is held elsewhere), as successive
    ``warehouse_load`` runs would: one transaction per batch, totals summed."""
    total = MergeResult()
    while True:
        step = merge_pending(warehouse_path, ledger, **options)
        total.files += step.files
        total.landed_rows += step.landed_rows
        for table, rows in step.appended.items():
            total.appended[table] = total.appended.get(table, 0) + rows
        total.missing += step.missing
        total.lock_wait_seconds += step.lock_wait_seconds
        total.merge_seconds += step.merge_seconds
        total.deferred, total.pending_after = step.deferred, step.pending_after
        if step.deferred or not step.files or not step.pending_after:
            return total
