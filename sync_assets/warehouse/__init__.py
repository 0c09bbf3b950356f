"""The DuckDB warehouse: raw landing tables → staging → analytics marts (a dbt project, ``dbt/``), plus the analysts' snapshot.

Nothing Dagster here: the Dagster layer passes in a ``duckdb`` connection (from ``DuckDBResource``).
The data dictionary for analysts is ``docs/data_dictionary.md``.
"""

from sync_assets.warehouse.load import WarehouseLoadError, append_frame, upsert_frame
from sync_assets.warehouse.schema import MODELS, RAW_TABLES, ensure_schema
from sync_assets.warehouse.scrub import scrub
from sync_assets.warehouse.locking import WarehouseLockedError
from sync_assets.warehouse.snapshot import SnapshotResult, export_snapshot, open_current

__all__ = [
    "MODELS",
    "RAW_TABLES",
    "SnapshotResult",
    "WarehouseLoadError",
    "WarehouseLockedError",
    "append_frame",
    "ensure_schema",
    "export_snapshot",
    "open_current",
    "scrub",
    "upsert_frame",
]
