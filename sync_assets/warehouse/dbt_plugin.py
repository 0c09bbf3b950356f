"""A dbt-duckdb plugin that attaches the warehouse file named by ``SYNC_ASSETS_DBT_WAREHOUSE`` as ``warehouse``.

Why not ``path: "{{ env_var(...) }}"`` in profiles.yml: dbt keeps its parse (``partial_parse.msgpack``) only
while the profile's connection info hashes the same (dbt-core ``ManifestLoader.build_manifest_state_check``
hashes every ``(key, value)`` of ``credentials.connection_info()``; dbt-duckdb's keys include ``path``,
``database`` and ``attach``), and dbt-duckdb names the database after the file's stem. A path in the
profile therefore made every other file (each test's, the snapshot's) a full re-parse of the project.
With this plugin the profile is constant (an in-memory primary database, the warehouse attached under a
fixed name) and the file is chosen when the connection opens, so one parse serves every file.

``SYNC_ASSETS_DBT_WAREHOUSE_READ_ONLY=1`` attaches it read-only (``dbt docs generate`` on a snapshot).
"""

from __future__ import annotations

import os

from dbt.adapters.duckdb.plugins import BasePlugin

WAREHOUSE_ENV = "SYNC_ASSETS_DBT_WAREHOUSE"
READ_ONLY_ENV = "SYNC_ASSETS_DBT_WAREHOUSE_READ_ONLY"
ALIAS = "warehouse"  # profiles.yml `database:`; every relation dbt renders is warehouse.<schema>.<table>
DEFAULT_FILE = "data/warehouse.duckdb"  # dbt run by hand from the repository root


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class Plugin(BasePlugin):
    def configure_connection(self, conn) -> None:
        path = os.environ.get(WAREHOUSE_ENV) or DEFAULT_FILE
        read_only = os.environ.get(READ_ONLY_ENV, "").lower() in ("1", "true", "yes")
        conn.execute(f"ATTACH {_literal(path)} AS {ALIAS}" + (" (READ_ONLY)" if read_only else ""))
        conn.execute(f"USE {ALIAS}")

    def configure_cursor(self, cursor) -> None:
        cursor.execute(f"USE {ALIAS}")  # each dbt thread's cursor is a new DuckDB connection: its own USE
