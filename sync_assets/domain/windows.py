"""Polling windows for incremental sync (shopify-admin.md §4.3, landscape F2/F10).

The watermark ``(updated_at, last_id)`` means: every record whose ``(updatedAt, id)`` is ≤ it has been
durably processed. A run queries ``[watermark − overlap, now − safety_lag)``:

* ``end = now − safety_lag``: a record updated in the last ``safety_lag`` seconds may not be visible yet
  (search-index delay, clock skew between us and Shopify), so we do not claim that stretch at all.
* ``start = watermark − overlap``: re-reads a stretch already covered, because Shopify's ``>``/``<`` on
  dates behave like ``>=``/``<=`` and because "visible within the lag" is an assumption, not a promise.
  Re-read records are dropped by ``dedupe`` (and the NetSuite upsert is idempotent anyway).

Advancing: when the run drained the whole window, the watermark moves to ``(end, "")`` — also when the
window was empty (tap-shopify#247/#251 re-queried or lost data by not doing this). That is safe because a
record that turns up later with ``updatedAt < end`` broke the lag assumption by less than ``overlap``
seconds, and the next window, starting at ``end − overlap``, still sees it. Records reported at or past
``end`` are not processed in this window (they belong to the next one), so the watermark never runs
ahead of the window (tap-shopify#197). When a run processed only a prefix (batch cap), the watermark moves
to the largest ``(updatedAt, id)`` processed; records are sorted on that key, so everything before it is
done. Watermarks never move backwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sync_assets.domain.ids import id_sort_key


def parse_ts(value: str | datetime) -> datetime:
    """An aware UTC datetime from an ISO string (``Z`` or offset) or datetime; naive input is refused."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no timezone; naive times are read as shop-local by Shopify")
    return moment.astimezone(timezone.utc)


def first_start(now: datetime, start_at: datetime | None, lookback_seconds: float) -> datetime:
    """Where a flow's very first window begins (no watermark yet): the policy's ``account.start_date``,
    else ``lookback_seconds`` before now."""
    return start_at if start_at is not None else now - timedelta(seconds=lookback_seconds)


def format_ts(moment: datetime) -> str:
    """UTC ISO with microseconds and ``Z``: fixed width, so text order equals time order."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, order=False)
class Watermark:
    updated_at: datetime
    last_id: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "updated_at", parse_ts(self.updated_at))

    @property
    def key(self) -> tuple:
        return (self.updated_at, id_sort_key(self.last_id))

    def __lt__(self, other: "Watermark") -> bool:
        return self.key < other.key

    def __le__(self, other: "Watermark") -> bool:
        return self.key <= other.key

    def to_json(self) -> dict:
        return {"updated_at": format_ts(self.updated_at), "last_id": self.last_id}

    @classmethod
    def from_json(cls, data: Mapping) -> "Watermark":
        return cls(parse_ts(data["updated_at"]), str(data.get("last_id", "")))


@dataclass(frozen=True)
class QueryWindow:
    start: datetime  # inclusive
    end: datetime  # exclusive

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def shopify_query(self, field: str = "updated_at") -> str:
        """Shopify search syntax for this window; dates quoted, explicit UTC (§4.1, §4.3)."""
        start = self.start.strftime("%Y-%m-%dT%H:%M:%SZ")
        end = self.end.strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{field}:>='{start}' AND {field}:<'{end}'"


def next_window(
    watermark: Watermark | None,
    now: datetime,
    *,
    overlap_seconds: float,
    safety_lag_seconds: float,
    initial_start: datetime,
) -> QueryWindow | None:
    """The window to query now, or None when it would be empty (the lag has not elapsed yet)."""
    if overlap_seconds < 0 or safety_lag_seconds < 0:
        raise ValueError("overlap_seconds and safety_lag_seconds must be ≥ 0")
    end = parse_ts(now) - timedelta(seconds=safety_lag_seconds)
    start = parse_ts(initial_start) if watermark is None else watermark.updated_at - timedelta(seconds=overlap_seconds)
    if start >= end:
        return None
    return QueryWindow(start, end)


def record_key(record: Mapping) -> tuple[str, datetime]:
    return (str(record["id"]), parse_ts(record["updatedAt"]))


def dedupe(records: Iterable[Mapping], window: QueryWindow, already_processed: set[tuple[str, datetime]]) -> list[Mapping]:
    """Records of this window not processed before, one per id (its latest version), sorted by (updatedAt, id).

    Drops records outside ``window`` (Shopify's date filter is inclusive at both ends) and versions whose
    exact ``(id, updatedAt)`` was already processed — an edited order has a new updatedAt and passes.
    """
    latest: dict[str, Mapping] = {}
    for record in records:
        record_id, updated = record_key(record)
        if not window.contains(updated) or (record_id, updated) in already_processed:
            continue
        kept = latest.get(record_id)
        if kept is None or parse_ts(kept["updatedAt"]) < updated:
            latest[record_id] = record
    return sorted(latest.values(), key=lambda r: (parse_ts(r["updatedAt"]), id_sort_key(str(r["id"]))))


def advance(current: Watermark | None, window: QueryWindow, processed: Iterable[Mapping], *, drained: bool) -> Watermark | None:
    """The watermark after durably processing ``processed`` from ``window`` (see the module docstring)."""
    candidates = [] if current is None else [current]
    if drained:
        candidates.append(Watermark(window.end, ""))
    for record in processed:
        record_id, updated = record_key(record)
        if window.contains(updated):
            candidates.append(Watermark(updated, record_id))
    return max(candidates, key=lambda w: w.key) if candidates else None
