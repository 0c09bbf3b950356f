"""What a flow run saw and did, as frames for the landing area (:mod:`sync_assets.warehouse.landing_area`).

A run never opens the warehouse: it writes durable Parquet files and queues them in the ledger before its
watermark moves past what they hold; the ``warehouse_load`` job merges them into ``raw``, keeping one
row per version, so landing the same batch twice (a re-run, an overlap window) adds nothing. pandas is
imported here, only when landing, to keep the import of a run light.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sync_assets.domain.windows import parse_ts

if TYPE_CHECKING:
    import pandas as pd

    from sync_assets.warehouse.landing_area import LandingArea


def _ts(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return parse_ts(value)
    except (TypeError, ValueError):
        return None


def _utc(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    import pandas as pd

    for column in columns:
        if column in frame:
            frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def payload_frame(key_column: str, payloads: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Source payloads (``{key, updated_at, payload}``) as rows of a raw payload table."""
    import pandas as pd

    rows = [{key_column: str(p["key"]), "source_updated_at": _ts(p.get("updated_at")), "payload": p["payload"]}
            for p in payloads]  # fmt: skip
    return _utc(pd.DataFrame(rows, columns=[key_column, "source_updated_at", "payload"]), "source_updated_at")


def event_frame(events: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Outcome rows of ``raw.sync_events``."""
    import pandas as pd

    now = datetime.now(timezone.utc)
    rows = [
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
    columns = ["flow", "source_id", "target_id", "status", "reason", "event_at", "source_updated_at"]
    return _utc(pd.DataFrame(rows, columns=columns), "event_at", "source_updated_at")


def payloads_and_events(
    table: str, key_column: str, payloads: Iterable[Mapping[str, Any]], events: Iterable[Mapping[str, Any]]
) -> dict[str, pd.DataFrame]:
    return {table: payload_frame(key_column, payloads), "raw.sync_events": event_frame(events)}


def land_payloads_and_events(
    landing: LandingArea,
    table: str,
    key_column: str,
    payloads: Iterable[Mapping[str, Any]],
    events: Iterable[Mapping[str, Any]],
    run_id: str,
) -> tuple[int, int]:
    """Land payloads in ``table`` and outcomes in ``raw.sync_events`` and queue them; returns the row counts."""
    files = landing.land(payloads_and_events(table, key_column, payloads, events), run_id)
    return landed_rows(files, table), landed_rows(files, "raw.sync_events")


def landed_rows(files, table: str) -> int:
    return sum(f.rows for f in files if f.raw_table == table)
