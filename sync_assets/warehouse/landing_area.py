"""The landing area: what a sync run saw, made durable as run-scoped Parquet files, without the warehouse.

A sync run never opens the DuckDB file (DuckDB allows one read-write process per file, and an analyst's
session or the export may hold it for minutes). Instead it writes each raw table's rows to
``<landing dir>/<raw table>/<run id>-<n>.parquet``: written to a temporary name, fsynced, renamed, the folder
fsynced — so a file either exists complete or not at all — and then queued in the sync ledger (in the same
transaction that advances the flow's watermark, where the flow has one). One writer, the
``warehouse_load`` job (:mod:`sync_assets.warehouse.merge`), moves queued files into ``raw``.

The Parquet is written by an in-memory DuckDB (no file lock), which also scrubs secrets out of payloads and
stamps each row's ``_content_hash`` (a 128-bit hash of the typed columns, :meth:`RawTable.hash_sql`), ``_run_id`` and
``_landed_at``; the merge appends only hashes raw does not hold yet.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from sync_assets.state.ledger import LandedFile, Ledger
from sync_assets.warehouse.load import (
    PAYLOAD,
    WarehouseLoadError,
    _check_columns,
    _ensure_scrub_udf,
    _prepare_payload,
    _raw_table,
    _select_expr,
    _sql_literal,
)
from sync_assets.warehouse.schema import CONTENT_HASH, LANDED_AT, RUN_ID

if TYPE_CHECKING:
    import pandas as pd

    from sync_assets.domain.windows import Watermark


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LandingArea:
    """Run-scoped Parquet files under ``root``, queued for the merge in ``ledger``."""

    def __init__(self, root: str | os.PathLike, ledger: Ledger) -> None:
        self.root = Path(root)
        self.ledger = ledger

    def write(self, table: str, df: pd.DataFrame, run_id: str) -> LandedFile | None:
        """Write ``df`` (the raw table's typed columns) as one durable Parquet file; None for an empty frame.

        Not queued yet: pass the result to :meth:`queue` or ``Ledger.advance_watermark(landed=…)``."""
        spec = _raw_table(table)
        where = f"landing({spec.name})"
        if not isinstance(run_id, str) or not run_id:
            raise WarehouseLoadError(f"{where}: run_id must be a non-empty string, got {run_id!r}")
        cols = _check_columns(where, df, spec.column_names, spec.keys)
        if df.empty:
            return None
        null_keys = df[list(spec.keys)].isna().any(axis=1)
        if null_keys.any():
            raise WarehouseLoadError(f"{where}: {int(null_keys.sum())} rows have a NULL key {list(spec.keys)}")
        folder = self.root / spec.name
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{_safe(run_id)}-{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.parquet"
        final, tmp = folder / name, folder / f".{name}.tmp"
        src, scrubbed = _prepare_payload(df)
        typed = ", ".join(f"{_typed(_select_expr(c, scrubbed) if c in cols else 'NULL', typ)} AS {c}"
                          for c, typ in spec.columns)
        now = _sql_literal(datetime.now(UTC).isoformat())
        # Parquet has no 128-bit integer: a UHUGEINT column is written as DOUBLE, keeping 53 of the hash's
        # 128 bits. As a UUID (16-byte FIXED_LEN_BYTE_ARRAY) it travels exactly; the merge casts it back.
        # No string dictionaries: payloads are unique, so DuckDB's dictionary attempt is wasted work.
        sql = (
            f"COPY (SELECT *, CAST({spec.hash_sql()} AS UUID) AS {CONTENT_HASH}, {_sql_literal(run_id)} AS {RUN_ID}, "
            f"CAST({now} AS TIMESTAMPTZ) AS {LANDED_AT} FROM (SELECT {typed} FROM _landing_src)) "
            f"TO {_sql_literal(str(tmp))} (FORMAT parquet, STRING_DICTIONARY_PAGE_SIZE_LIMIT 1)"
        )
        try:
            with duckdb.connect() as mem:  # in memory: no file lock, nothing shared with other runs
                # Row order in a landed file means nothing (the merge dedupes by hash, staging orders by
                # time); not keeping it lets both threads write row groups as they finish them.
                mem.execute("SET preserve_insertion_order = false")
                if PAYLOAD in cols and not scrubbed:
                    _ensure_scrub_udf(mem)
                mem.register("_landing_src", src)
                mem.execute(sql)
            _fsync(tmp)
            os.replace(tmp, final)
            _fsync(folder)
        except duckdb.Error as exc:
            raise WarehouseLoadError(f"{where}: {exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)
        return LandedFile(spec.name, str(final), run_id, len(df))

    def write_all(self, frames: Mapping[str, pd.DataFrame], run_id: str) -> list[LandedFile]:
        return [f for table, df in frames.items() if (f := self.write(table, df, run_id)) is not None]

    def queue(self, files: list[LandedFile]) -> list[LandedFile]:
        """Queue durable files for the merge (for flows whose bookkeeping has no watermark step)."""
        if files:
            self.ledger.record_landed(files)
        return files

    def land(self, frames: Mapping[str, pd.DataFrame], run_id: str) -> list[LandedFile]:
        """Write and queue: the one call for flows without a watermark."""
        return self.queue(self.write_all(frames, run_id))

    def land_with_watermark(
        self, frames: Mapping[str, pd.DataFrame], run_id: str, entity: str, watermark: Watermark | None
    ) -> list[LandedFile]:
        """Write, then queue the files in the same ledger transaction that advances ``entity``'s watermark."""
        files = self.write_all(frames, run_id)
        if watermark is None:
            return self.queue(files)
        self.ledger.advance_watermark(entity, watermark, landed=files)
        return files


def _typed(expr: str, typ: str) -> str:
    # JSON stays text here: the merge's insert into the JSON column validates it once (a second parse of
    # every payload cost as much as the rest of the landing).
    typ = typ.replace(" NOT NULL", "")
    return f"CAST({expr} AS {'VARCHAR' if typ == 'JSON' else typ})"


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in text)[:64]
