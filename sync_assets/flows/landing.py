"""Landing what a flow run saw and did in the warehouse, after the target writes.

Called last, so a warehouse lock (an analyst's read-write session, another run) never delays a sales
order. Raw tables are append-only; the ``staging`` views dedupe, so landing the same batch twice (a
re-run) changes nothing analysts see. pandas is imported here, only when landing, to keep the import of
a run light.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from typing import Any

from sync_assets.domain.windows import parse_ts

ConnectionFactory = Callable[[], AbstractContextManager[Any]]


def _ts(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return parse_ts(value)
    except (TypeError, ValueError):
        return None


def _ensure_schema(conn: Any) -> None:
    from sync_assets.warehouse import ensure_schema

    # ensure_schema also replaces every view: only run it on a fresh file, not on every real-time run.
    # fetchall, not fetchone: a result left unfinished makes DuckDB refuse the loader's conn.register.
    exists = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'raw' AND table_name = 'sync_events'"
    ).fetchall()[0][0]
    if not exists:
        ensure_schema(conn)


def land_payloads_and_events(
    connect: ConnectionFactory,
    table: str,
    key_column: str,
    payloads: Iterable[Mapping[str, Any]],
    events: Iterable[Mapping[str, Any]],
    run_id: str,
) -> tuple[int, int]:
    """Append source payloads (``{key, updated_at, payload}``) to raw ``table`` and outcome rows to
    ``raw.sync_events``; returns the row counts. One connection, opened only for this."""
    import pandas as pd

    from sync_assets.warehouse import append_frame

    payload_rows = [
        {key_column: str(p["key"]), "source_updated_at": _ts(p.get("updated_at")), "payload": p["payload"]}
        for p in payloads
    ]
    now = datetime.now(timezone.utc)
    event_rows = [
        {
            "flow": e["flow"],
            "source_id": str(e["source_id"]),
            "target_id": e.get("target_id"),
            "status": e["status"],
            "reason": e.get("reason"),
            "event_at": e.get("event_at") or now,
            "source_updated_at": _ts(e.get("source_updated_at")),
        }
        for e in events
    ]
    if not payload_rows and not event_rows:
        return 0, 0
    payload_frame = pd.DataFrame(payload_rows, columns=[key_column, "source_updated_at", "payload"])
    event_frame = pd.DataFrame(event_rows)
    for frame, column in ((payload_frame, "source_updated_at"), (event_frame, "source_updated_at"), (event_frame, "event_at")):
        if column in frame:
            frame[column] = pd.to_datetime(frame[column], utc=True)
    with connect() as conn:
        _ensure_schema(conn)
        landed = append_frame(conn, table, payload_frame, run_id) if payload_rows else 0
        logged = append_frame(conn, "raw.sync_events", event_frame, run_id) if event_rows else 0
    return landed, logged
