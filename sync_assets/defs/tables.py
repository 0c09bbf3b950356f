"""Rows as Dagster table metadata (``MetadataValue.table``): sortable in the UI, typed columns."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import dagster as dg

MAX_ROWS = 100  # the UI shows this many; counts beside the table cover all


def _cell(value: Any) -> str | int | float | bool | None:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def table_metadata(columns: Sequence[tuple[str, str]], rows: Iterable[Mapping[str, Any]]) -> dg.MetadataValue:
    """``columns`` are (name, type) with type one of Dagster's names (string, int, float, bool, …)."""
    names = [name for name, _ in columns]
    records = [dg.TableRecord({n: _cell(row.get(n)) for n in names}) for _, row in zip(range(MAX_ROWS), rows)]
    schema = dg.TableSchema(columns=[dg.TableColumn(name, typ) for name, typ in columns])
    return dg.MetadataValue.table(records=records, schema=schema)
