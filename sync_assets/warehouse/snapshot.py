"""The analysts' snapshot: a whole, consistent set (DuckDB file + one Parquet file per mart), switched atomically.

Analysts never open the live file (the loader writes it; a read-only open of theirs would block it). Each
export builds a new version folder and then makes it current with one atomic step::

    <snapshot dir>/
      current -> versions/20261206T221500123456Z-1a2b3c   (a symlink, replaced by rename: the one switch)
      warehouse.duckdb -> current/warehouse.duckdb         (stable convenience paths, never rewritten)
      parquet -> current/parquet
      docs -> current/docs                                 (when the current version has a docs site)
      versions/<version>/warehouse.duckdb                  raw tables, staging + analytics as tables
      versions/<version>/parquet/analytics.<table>.parquet one per table of the analytics schema
      versions/<version>/docs/index.html                   dbt's docs site, its catalog read from this copy
      versions/<version>/manifest.json                     version, exported_at, row count per table,
                                                           docs_version (the version the docs were built from)

Steps: (1) ATTACH the live file READ_ONLY — the only moment a lock is held, waiting briefly if the loader
holds it — and ``COPY FROM DATABASE`` it into the new version's file, then DETACH; (2) on that copy,
materialise every view of ``staging`` and ``analytics`` (whatever models exist, discovered from the
catalog) as a table, each after the views it reads, so a mart reads its staging tables, not their views;
(3) write the Parquet files from the copy (and, given ``build_docs``, the docs site
from it: no lock on the live file while it works); (4) write the manifest, rename the
version folder into ``versions/`` and swap ``current``. Old versions stay for a grace period (a reader
that resolved ``current`` a moment ago can finish), then are removed.

A reader gets a consistent set by resolving ``current`` once (``realpath``) and reading everything from
that folder; ``manifest.json`` there says which version it is and how many rows each table holds.

Docs that fail to build never fail the export: the data is what analysts need. The new version then carries
the last good docs site forward (copied from the version that was current, ``docs_version`` in the manifest
saying which version it describes, ``docs_error`` why it is not this one's), so ``<snapshot>/docs/index.html``
keeps opening a page rather than a dangling link; with no good docs before (or docs switched off) the
version has none and the ``docs`` link is removed until a version has them again.
"""

from __future__ import annotations

import graphlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from sync_assets.warehouse.locking import WarehouseLockedError, retry_locked
from sync_assets.warehouse.schema import SCHEMAS, ensure_schema

__all__ = ["SnapshotResult", "WarehouseLockedError", "export_snapshot", "open_current"]

_SRC = "live_src"
_SNAP = "snap_out"
MATERIALISED_SCHEMAS = ("staging", "analytics")
PARQUET_SCHEMAS = ("analytics",)
DB_FILE = "warehouse.duckdb"
DOCS_DIR = "docs"
MANIFEST = "manifest.json"
CURRENT = "current"
VERSIONS = "versions"


@dataclass(frozen=True)
class SnapshotResult:
    path: Path  # the version's DuckDB file
    version: str
    parquet_files: dict[str, Path]  # "analytics.orders" -> file
    docs: Path | None  # the docs site's page in this version (built now, or carried forward: docs_version)
    row_counts: dict[str, int]  # every table in the snapshot
    exported_at: datetime
    lock_wait_seconds: float  # waiting for the live file's lock
    lock_held_seconds: float  # holding it (the copy)
    removed_versions: int
    docs_version: str | None = None  # the version the docs page was built from (== version when built now)
    docs_error: str | None = None  # why build_docs failed for this version (the export went on)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_live(hub: duckdb.DuckDBPyConnection, source: Path, lock_timeout_s: float) -> tuple[float, float]:
    """Copy the whole live file into ``_SNAP``; returns (seconds waited for its lock, seconds held)."""
    _, waited = retry_locked(lambda: hub.execute(f"ATTACH {_literal(str(source))} AS {_SRC} (READ_ONLY)"),
                             str(source), lock_timeout_s)
    started = time.monotonic()
    try:
        hub.execute(f"COPY FROM DATABASE {_SRC} TO {_SNAP}")  # one statement: one consistent read
    finally:
        hub.execute(f"DETACH {_SRC}")
    return waited, time.monotonic() - started


def _materialise_views(hub: duckdb.DuckDBPyConnection) -> None:
    """Every staging/analytics view of the copy becomes a table (fast to query, no JSON parsing at read)."""
    views = hub.execute(
        "SELECT schema_name, view_name, sql FROM duckdb_views() WHERE database_name = ? AND NOT internal "
        "AND schema_name IN (SELECT unnest(?::VARCHAR[]))", [_SNAP, list(MATERIALISED_SCHEMAS)],
    ).fetchall()
    hub.execute("BEGIN TRANSACTION")
    try:
        # One view at a time, each after the views it reads: its table takes the view's name at once, so the
        # views read later get the table (staging.orders' JSON, read by a dozen marts, is parsed once).
        for schema, name in _in_dependency_order(views):
            table = f"{_SNAP}.{_ident(schema)}.{_ident(name)}"
            hub.execute(f"CREATE TABLE {_SNAP}.{_ident(schema)}.{_ident('__mat_' + name)} AS SELECT * FROM {table}")
            hub.execute(f"DROP VIEW {table}")
            hub.execute(f"ALTER TABLE {_SNAP}.{_ident(schema)}.{_ident('__mat_' + name)} RENAME TO {_ident(name)}")
        hub.execute("COMMIT")
    except BaseException:
        hub.execute("ROLLBACK")
        raise


def _in_dependency_order(views: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    """``(schema, name)`` of ``views`` (schema, name, SQL), each after the views its SQL names.

    Read from the SQL text: a reference missed (or one found in a string literal) costs time, never
    correctness — a view materialised before the views it reads still reads them, as views."""
    names = [(schema, name) for schema, name, _ in views]

    def named(sql: str, schema: str, name: str) -> bool:
        return re.search(rf'(?<![\w"]){re.escape(_ident(schema))}\.{re.escape(_ident(name))}(?![\w"])|'
                         rf"(?<!\w){re.escape(schema)}\.{re.escape(name)}(?!\w)", sql) is not None

    reads = {(schema, name): {other for other in names if other != (schema, name) and named(sql, *other)}
             for schema, name, sql in views}
    try:
        return list(graphlib.TopologicalSorter(reads).static_order())
    except graphlib.CycleError:  # only a false reference can make one: the catalog's order is as correct
        return names


def _tables(conn: duckdb.DuckDBPyConnection, database: str) -> list[tuple[str, str]]:
    return conn.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? AND NOT internal "
        "ORDER BY schema_name, table_name", [database],
    ).fetchall()


def _row_counts(conn: duckdb.DuckDBPyConnection, database: str) -> dict[str, int]:
    return {
        f"{schema}.{name}": conn.execute(
            f"SELECT count(*) FROM {_ident(database)}.{_ident(schema)}.{_ident(name)}").fetchall()[0][0]
        for schema, name in _tables(conn, database)
    }


def _bound_memory(conn: duckdb.DuckDBPyConnection, memory_limit: str, spill_dir: Path) -> None:
    # Row order means nothing in a mart; dropping it lets big CTAS/COPY stream instead of buffering,
    # and DuckDB spills to disk past the limit rather than growing the run's RSS — into ``spill_dir``,
    # beside the versions: an in-memory connection would spill into the run's working directory (``.tmp``).
    conn.execute("SET preserve_insertion_order = false")
    conn.execute(f"SET memory_limit = {_literal(memory_limit)}")
    conn.execute(f"SET temp_directory = {_literal(str(spill_dir))}")


def _write_parquet(db_file: Path, out_dir: Path, memory_limit: str, spill_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    with duckdb.connect(str(db_file), read_only=True) as snap:
        _bound_memory(snap, memory_limit, spill_dir)
        database = snap.execute("SELECT current_database()").fetchall()[0][0]
        for schema, name in _tables(snap, database):
            if schema not in PARQUET_SCHEMAS:
                continue
            path = out_dir / f"{schema}.{name}.parquet"
            snap.execute(f"COPY (SELECT * FROM {_ident(schema)}.{_ident(name)}) TO {_literal(str(path))} "
                         "(FORMAT parquet, COMPRESSION zstd)")
            files[f"{schema}.{name}"] = path
    return files


def _switch_current(root: Path, version: str) -> None:
    link = root / CURRENT
    tmp = root / f".{CURRENT}.{uuid.uuid4().hex[:8]}"
    os.symlink(f"{VERSIONS}/{version}", tmp)
    os.replace(tmp, link)  # rename(2) over the old link: readers see the old version or the new, never none
    for name in (DB_FILE, "parquet", DOCS_DIR):  # stable paths through `current`, made once
        stable = root / name
        if not (root / VERSIONS / version / name).exists():
            if name == DOCS_DIR and stable.is_symlink():
                stable.unlink()  # no docs in this version (none ever built, or switched off): no dangling link
            continue
        if stable.is_symlink():
            continue
        if stable.is_dir():
            shutil.rmtree(stable)  # the pre-versions layout's folder
        stable.unlink(missing_ok=True)
        os.symlink(f"{CURRENT}/{name}", stable)
    _fsync_dir(root)


def _remove_old(root: Path, keep: str, grace_seconds: float, keep_previous: int) -> int:
    versions = root / VERSIONS
    now = time.time()
    entries = sorted((p for p in versions.iterdir() if p.is_dir()), key=lambda p: p.name, reverse=True)
    removed = 0
    previous = 0
    for path in entries:
        if path.name == keep:
            continue
        if path.name.startswith("."):  # an export that died while building
            if now - path.stat().st_mtime > grace_seconds:
                shutil.rmtree(path, ignore_errors=True)
            continue
        previous += 1
        if previous > keep_previous and now - path.stat().st_mtime > grace_seconds:
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


def _docs(
    build_docs: Callable[[Path, Path], Path] | None, db_file: Path, root: Path, building: Path, version: str
) -> tuple[Path | None, str | None, str | None]:
    """The version's docs page, the version it describes, and why it is not this one (see the module docstring)."""
    if build_docs is None:
        return None, None, None
    try:
        return build_docs(db_file, building / DOCS_DIR), version, None
    except Exception as exc:  # noqa: BLE001 - any failure of the docs (dbt, its project, the disk) leaves the data
        error = f"{type(exc).__name__}: {exc}"[:2000]
    shutil.rmtree(building / DOCS_DIR, ignore_errors=True)  # whatever the failed build left half-written
    previous = Path(os.path.realpath(root / CURRENT))
    try:
        manifest = json.loads((previous / MANIFEST).read_text())
    except (OSError, ValueError):  # no current version yet (or not readable): nothing to carry
        return None, None, error
    if not manifest.get("docs") or not (previous / manifest["docs"]).is_file():
        return None, None, error
    shutil.copytree(previous / DOCS_DIR, building / DOCS_DIR)
    return building / manifest["docs"], manifest.get("docs_version") or manifest["version"], error


def _ensure_live(source: Path) -> None:
    """A fresh install exports an empty but complete warehouse (the only case the export writes the file)."""
    if not source.exists():
        with duckdb.connect(str(source)) as conn:
            ensure_schema(conn)


def export_snapshot(
    source_path: str | os.PathLike,
    snapshot_dir: str | os.PathLike,
    *,
    lock_timeout_s: float = 60.0,
    grace_seconds: float = 3600.0,
    keep_previous: int = 2,
    memory_limit: str = "512MB",
    build_docs: Callable[[Path, Path], Path] | None = None,
) -> SnapshotResult:
    """Export the live warehouse at ``source_path`` as a new version under ``snapshot_dir`` and make it current.

    Versions other than the current one are removed once older than ``grace_seconds``, except the newest
    ``keep_previous``. ``build_docs(db_file, folder)`` writes the docs site for the version's DuckDB file
    into ``folder`` and returns its page; if it raises, the export goes on with the last good docs
    (``SnapshotResult.docs_error`` says why, see the module docstring). Raises :class:`WarehouseLockedError` when the live file stayed locked for
    ``lock_timeout_s`` (the current version stays in place)."""
    source = Path(source_path).resolve()
    root = Path(snapshot_dir).resolve()
    if root == source.parent and source.name == DB_FILE:
        raise ValueError(f"export_snapshot: snapshot dir {root} would replace the live file {source}")
    _ensure_live(source)
    exported_at = datetime.now(UTC)
    version = f"{exported_at:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:6]}"
    (root / VERSIONS).mkdir(parents=True, exist_ok=True)
    building = root / VERSIONS / f".{version}"
    building.mkdir()
    spill = root / VERSIONS / f".{version}.spill"  # a dot name: _remove_old clears it if an export dies
    try:
        db_file = building / DB_FILE
        with duckdb.connect() as hub:  # in-memory hub: live attached read-only, the new file read-write
            _bound_memory(hub, memory_limit, spill)
            hub.execute(f"ATTACH {_literal(str(db_file))} AS {_SNAP}")
            waited, held = _copy_live(hub, source, lock_timeout_s)
            for schema in SCHEMAS:
                hub.execute(f"CREATE SCHEMA IF NOT EXISTS {_SNAP}.{schema}")
            _materialise_views(hub)
            hub.execute(f"CREATE OR REPLACE TABLE {_SNAP}.main.snapshot_info AS SELECT "
                        f"CAST(? AS TIMESTAMPTZ) AS exported_at, ? AS version", [exported_at, version])
            counts = _row_counts(hub, _SNAP)
            hub.execute(f"DETACH {_SNAP}")  # checkpoints: the file is complete, no WAL beside it
        parquet = _write_parquet(db_file, building / "parquet", memory_limit, spill)
        docs, docs_version, docs_error = _docs(build_docs, db_file, root, building, version)
        manifest = {
            "version": version,
            "exported_at": exported_at.isoformat(),
            "duckdb": DB_FILE,
            "tables": counts,
            "parquet": {name: f"parquet/{path.name}" for name, path in parquet.items()},
            "docs": docs.relative_to(building).as_posix() if docs else None,
            "docs_version": docs_version,
            **({"docs_error": docs_error} if docs_error else {}),
        }
        (building / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        for path in (db_file, building / MANIFEST, *parquet.values(), *([docs] if docs else [])):
            fd = os.open(path, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
        final = root / VERSIONS / version
        os.replace(building, final)
        _fsync_dir(root / VERSIONS)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(spill, ignore_errors=True)
    _switch_current(root, version)
    removed = _remove_old(root, version, grace_seconds, keep_previous)
    return SnapshotResult(
        path=final / DB_FILE,
        version=version,
        parquet_files={name: final / "parquet" / path.name for name, path in parquet.items()},
        docs=final / docs.relative_to(building) if docs else None,
        row_counts=counts,
        exported_at=exported_at,
        lock_wait_seconds=waited,
        lock_held_seconds=held,
        removed_versions=removed,
        docs_version=docs_version,
        docs_error=docs_error,
    )


def open_current(snapshot_dir: str | os.PathLike) -> tuple[Path, dict]:
    """The current version's folder (``current`` resolved once) and its manifest: read everything from there."""
    folder = Path(os.path.realpath(Path(snapshot_dir) / CURRENT))
    return folder, json.loads((folder / MANIFEST).read_text())
