"""The storefront's inventory levels as last seen, so that the inventory flow reads only what it does not know.

Every storefront order moves a target (NetSuite commits its stock), and reading a SKU's levels to compare
costs about 12 points — at a busy store a fifth of all the points spent. But Shopify already says what its
levels are: every change fires ``inventory_levels/update`` (the level's ``available`` and ``updated_at``),
checkouts and our own writes included. So the flow keeps, per storefront inventory item, each mapped
location's ``available`` as it last saw it — from a read, from its own compare-and-set write, or from a
delivery — and uses that instead of a read.

Why this is safe:
- A write is always a compare-and-set from the value believed current: a wrong belief is refused by Shopify
  (``CHANGE_FROM_QUANTITY_STALE``) and the SKU read again, as before.
- A wrong belief that the level already shows the target (a delivery lost) leaves the storefront off until
  the SKU's next change after ``trust_seconds`` from its last *read*: knowledge older than that is not
  used, so every busy SKU is still read that often (the same bound as the flow's ``_confirmed``).
- Stamps have whole seconds: a delivery stamped in the same second as what we saw, with another value, may
  be older or newer than it — that level becomes unknown, and the SKU is read. Deliveries out of order
  are sorted out by their stamps; an older one changes nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sync_assets.domain.windows import format_ts, parse_ts
from sync_assets.state.ledger import Ledger

log = logging.getLogger(__name__)

TOPIC = "inventory_levels/update"
KNOWN_FLOW = "inventory_storefront_levels"  # key: inventory item GID; target_id: the JSON state below
_ITEM, _LOCATION = "gid://shopify/InventoryItem/", "gid://shopify/Location/"
_TAKE = 5_000  # deliveries folded in per call; the rest wait for the next run


def known(ledger: Ledger, items: Mapping[str, str], locations: Iterable[str], now: datetime,
          trust_seconds: float) -> dict[str, dict[str, Any]]:  # fmt: skip
    """SKU → the storefront item as :func:`~sync_assets.connectors.shopify.inventory.inventory_by_sku` gives it,
    for the SKUs (``items``: SKU → inventory item GID) whose every location in ``locations`` is known and
    whose last read is younger than ``trust_seconds``."""
    locations = list(locations)
    out = {}
    for sku, item in items.items():
        state = _state(ledger, item)
        if state is None or state.get("sku") != sku:
            continue
        if (now - parse_ts(state["read_at"])).total_seconds() > trust_seconds:
            continue
        levels = state["levels"]
        if any(levels.get(loc) is None or levels[loc][0] is None for loc in locations):
            continue
        out[sku] = {"id": item, "sku": sku, "tracked": state.get("tracked"),
                    "levels": {loc: {"available": value} for loc, (value, _) in levels.items() if value is not None}}
    return out


def remember_read(ledger: Ledger, storefront: Mapping[str, Mapping[str, Any]], at: datetime) -> None:
    """Items just read (``inventory_by_sku``'s shape): what they show as of ``at``."""
    for sku, item in storefront.items():
        levels = {loc: [q.get("available"), format_ts(at)] for loc, q in (item.get("levels") or {}).items()}
        _save(ledger, item["id"], {"sku": sku, "tracked": item.get("tracked"), "read_at": format_ts(at),
                                   "levels": levels})


def remember_written(ledger: Ledger, item: str, quantities: Mapping[str, int], at: datetime) -> None:
    """Our compare-and-set write of ``quantities`` (location GID → available) was applied at ``at``."""
    state = _state(ledger, item)
    if state is None:
        return  # never read: nothing to keep a write against
    for loc, value in quantities.items():
        state["levels"][loc] = [value, format_ts(at)]
    _save(ledger, item, state)


def take_deliveries(ledger: Ledger) -> int:
    """Fold the ``inventory_levels/update`` deliveries in the inbox into what is known; returns how many
    changed something. A delivery that is not a level, or for an item never read, changes nothing."""
    events = ledger.inbox_take(TOPIC, _TAKE)
    states: dict[str, dict] = {}
    changed: set[str] = set()  # items whose state moved: only those are written back
    count = 0
    for event in events:
        report = _report(event.payload)
        if report is None:
            log.warning("inventory_levels/update %s: not a level report, ignored: %.200r", event.event_id, event.payload)
            continue
        item, loc, value, stamp = report
        state = states.get(item) or _state(ledger, item)
        if state is None:
            continue
        states[item] = state
        seen = state["levels"].get(loc)
        if seen is None:
            continue  # a location the item was not read at: the read is what tells it apart
        seen_value, seen_at = seen[0], parse_ts(seen[1])
        if stamp >= seen_at.replace(microsecond=0) + timedelta(seconds=1):
            state["levels"][loc] = [value, format_ts(stamp)]
        elif stamp >= seen_at.replace(microsecond=0) and value != seen_value:
            state["levels"][loc] = [None, format_ts(max(stamp, seen_at))]  # same second, other value: unknown
        else:
            continue
        changed.add(item)
        count += 1
    for item in changed:
        _save(ledger, item, states[item])
    ledger.inbox_ack(e.event_id for e in events)
    return count


def _report(payload: object) -> tuple[str, str, int | None, datetime] | None:
    if not isinstance(payload, dict):
        return None
    try:
        item, loc = int(payload["inventory_item_id"]), int(payload["location_id"])
        value = payload.get("available")
        stamp = parse_ts(payload["updated_at"])
    except (KeyError, TypeError, ValueError):
        return None
    if value is not None and not isinstance(value, int):
        return None
    return f"{_ITEM}{item}", f"{_LOCATION}{loc}", value, stamp


def _state(ledger: Ledger, item: str) -> dict | None:
    entry = ledger.get_entry(KNOWN_FLOW, item)
    if entry is None or entry.status != "done" or not entry.target_id:
        return None
    try:
        return json.loads(entry.target_id)
    except ValueError:
        return None


def _save(ledger: Ledger, item: str, state: dict) -> None:
    ledger.mark_done(KNOWN_FLOW, item, json.dumps(state, sort_keys=True), state["read_at"])
