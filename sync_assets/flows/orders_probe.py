"""Is there order work pending? The cheap, read-only question a sensor asks every tick (< 1-2 s).

Pending = webhook events still ``new`` in the inbox, plus orders updated after the watermark (the
watermark means "everything up to here is durably done", so anything past it is work) that the ledger
has not already handled in that version. Only ids and ``updatedAt`` are read from Shopify, one page.

The probe only decides *whether* to launch; the run decides *what* to do, re-reading the window with
its overlap. So a probe that errs towards "pending" costs a short idle run, never an order.

With webhooks flowing the watermark stays put between polling runs (webhook runs leave the window to the
poller), so every tick would page the same growing list of done keys — at 20 orders a minute a tenth of
the store's whole spend. The probe keeps a cursor of its own (``PROBE_FLOW``): how far the ledger has
done every key, i.e. the oldest key not done yet (an order in flight), else the end of the range read.
Ticks read from there, and once per ``webhook_poll_after_seconds`` (``FULL_SCAN_FLOW`` stamps the last) a
tick reads from the watermark as before. That full scan is what
finds an order a webhook run wrote within its own second (whole-second stamps: a same-second edit would
hide behind it, so the safety net reads it again; DESIGN.md) once the cursor has passed it. A key behind
the cursor that becomes work again by a re-queue or a replay reaches the flow through the inbox, which
every tick counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sync_assets.connectors.shopify import documents as docs
from sync_assets.connectors.shopify.orders import updated_between_query
from sync_assets.domain.ids import id_sort_key, short_digest
from sync_assets.domain.policy import EntityPolicy
from sync_assets.domain.windows import Watermark, first_start, parse_ts
from sync_assets.flows.orders import FLOW, TOPICS, OrdersFlowConfig, version_handled
from sync_assets.state.ledger import Ledger

PROBE_PAGE = 250
PROBE_FLOW = "orders_probe"  # the probe's cursor: everything updated before it was found done
FULL_SCAN_FLOW = "orders_probe_full_scan"  # when a tick last read from the watermark
_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class OrdersPending:
    keys: tuple[tuple[str, str], ...]  # (order gid, updatedAt) past the watermark, not handled yet
    inbox_events: int
    more: bool  # the page was full: there may be more than ``keys`` says

    @property
    def count(self) -> int:
        return len(self.keys) + self.inbox_events

    @property
    def fingerprint(self) -> str:
        text = "|".join(f"{i}@{u}" for i, u in self.keys) + f"|inbox:{self.inbox_events}"
        return short_digest(text)

    @property
    def summary(self) -> str:
        more = "+" if self.more else ""
        return f"{len(self.keys)}{more} order version(s) past the watermark, {self.inbox_events} webhook event(s)"


def probe_cursor_start(ledger: Ledger) -> datetime | None:
    """Where a keys read of recently updated orders may start instead of the orders watermark: the later
    of the two (the cursor is only ever set by a read that found everything before it done)."""
    watermark, cursor = ledger.get_watermark(FLOW), ledger.get_watermark(PROBE_FLOW)
    if watermark is None:
        return None
    return max(watermark.updated_at, cursor.updated_at) if cursor is not None else watermark.updated_at


def advance_probe_cursor(ledger: Ledger, nodes, *, end: datetime, complete: bool) -> None:
    """Move the probe's cursor after a keys read (``{id, updatedAt}`` nodes, read from at most a second
    before :func:`probe_cursor_start`): up to the oldest key whose version the ledger has not done or
    dead-lettered (its second is read again), else — when the read saw everything up to ``end`` — to
    ``end``. ``end`` must be far enough behind now that no order stamped before it can still be missing
    from Shopify's search. Every reader of that range advances it (the orders probe and the inventory
    probe's unsynced-order read), so with webhooks flowing and orders runs always in flight — the sensor
    then skips its probe — the range each reads stays the last few seconds."""
    first_open = None
    for node in nodes:
        updated = parse_ts(node["updatedAt"])
        if updated > end:
            continue
        if not version_handled(ledger, node["id"], updated, margin=timedelta(0), statuses=("done", "dead")):
            first_open = updated if first_open is None else min(first_open, updated)
    if complete or first_open is not None:
        ledger.advance_watermark(PROBE_FLOW, Watermark(first_open or end))  # forward only


def probe_orders(
    shopify, ledger: Ledger, policy: EntityPolicy, *, now: datetime | None = None,
    config: OrdersFlowConfig = OrdersFlowConfig(),
) -> OrdersPending | None:  # fmt: skip
    now = now or datetime.now(timezone.utc)
    inbox = sum(ledger.inbox_counts(topic).get("new", 0) for topic in TOPICS)
    watermark = ledger.get_watermark(FLOW)
    cursor, scanned = ledger.get_watermark(PROBE_FLOW), ledger.get_watermark(FULL_SCAN_FLOW)
    # Whole-second stamps: look one second either side of [watermark, end) and sort it out per record.
    begin = watermark.updated_at if watermark else first_start(now, config.start_at, config.initial_lookback_seconds)
    full_scan = scanned is None or (now - scanned.updated_at).total_seconds() >= config.webhook_poll_after_seconds
    if watermark is not None and cursor is not None and cursor.updated_at > begin and not full_scan:  # after a first run
        begin = cursor.updated_at
    start = begin - _SECOND
    end = now - timedelta(seconds=policy.safety_lag_seconds)
    keys: list[tuple[str, str]] = []
    more = False
    try:
        query = updated_between_query(start, end + _SECOND)
    except ValueError:
        query = None  # window shorter than a second: nothing can be past the watermark yet
    if query is not None:
        data = shopify.execute(docs.ORDER_KEYS_PAGE, {"first": PROBE_PAGE, "query": query})
        connection = data.get("orders") or {}
        more = bool((connection.get("pageInfo") or {}).get("hasNextPage"))
        nodes = connection.get("nodes") or []
        for node in nodes:
            updated = parse_ts(node["updatedAt"])
            if updated > end:
                continue
            behind = watermark is not None and (updated, id_sort_key(node["id"])) <= watermark.key
            margin = timedelta(0) if behind else _SECOND
            if not version_handled(ledger, node["id"], updated, margin=margin, statuses=("done", "dead")):
                keys.append((node["id"], node["updatedAt"]))
        advance_probe_cursor(ledger, nodes, end=end, complete=not more)
        if full_scan:
            ledger.advance_watermark(FULL_SCAN_FLOW, Watermark(now))
    if not keys and not inbox:
        return None
    return OrdersPending(tuple(sorted(keys)), inbox, more)


