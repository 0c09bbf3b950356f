"""Webhook payload prints: an ``orders/updated`` event that changed nothing the sales order is made of costs
no read.

Every fulfillment the fulfillments flow creates fires ``orders/updated`` (Shopify does so for many side
effects, reference §9), and a full re-read of that order costs as much as reading it the first time — at a
busy store about as many points again as the orders themselves. The event's payload is the whole order as
Shopify holds it at that version (REST shape), so it can say "nothing but the fulfillment changed" without
a read: its *print* is a hash of the payload without the fields a fulfillment moves (``VOLATILE``). When a
run syncs an order from a read whose ``updatedAt`` is the payload's ``updated_at``, that payload's print is
recorded (``PRINTS_FLOW``: the stamp and the print); a later event whose print is the same is skipped, and
its version recorded as reflected (``VERSIONS_FLOW``) once a second has passed since its stamp, so the
polling safety net skips it too. The version a webhook run read and synced within its own second is settled
the same way: without its print, the poller could not tell a same-second edit from nothing and read every
such order again (at a busy store a fifth of them).

Why this is safe: the print compares *content*, not time. An edit the merchant makes at any moment changes
a field outside ``VOLATILE`` (line items, totals, addresses, financial status, refunds, notes, tags...) in
every payload from then on, so its print differs and the order is read. Two payloads with one stamp (two
changes in the same whole second) and different prints make the stamp ambiguous: nothing is skipped against
it. What is left — a same-second edit right after our fulfillment, or right after the read that synced the
order, whose webhook Shopify never delivers — is what the polling keys would also have missed (the same
stamp, already handled); the daily reconciliation compares totals. A payload that is not a whole order (no ``line_items``, no ``updated_at``, the
reconciliation's re-queue nudges) never matches, and an unknown field only makes prints differ: the error
side of every doubt is a read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sync_assets.domain.windows import format_ts, parse_ts
from sync_assets.state.ledger import Ledger

PRINTS_FLOW = "orders_payload_prints"
# What our own writes move in the REST order payload (a fulfillment: the order's and each line's fulfillment
# status, the fulfillable quantities, the fulfillments list); updated_at moves with every change.
VOLATILE = frozenset({"updated_at", "fulfillment_status", "fulfillments"})
VOLATILE_LINE = frozenset({"fulfillable_quantity", "fulfillment_status"})
AMBIGUOUS = ""  # two payloads, one stamp, different content: never skip against it
_SECOND = timedelta(seconds=1)


def payload_print(payload: object) -> str | None:
    """The print of a whole-order payload; None for anything else (a nudge, a trimmed payload)."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("line_items"), list) or not payload.get("updated_at"):
        return None
    body = {k: v for k, v in payload.items() if k not in VOLATILE}
    body["line_items"] = [{k: v for k, v in line.items() if k not in VOLATILE_LINE} if isinstance(line, Mapping) else line
                          for line in payload["line_items"]]  # fmt: skip
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class PrintedEvent:
    gid: str
    stamp: datetime
    print: str


def printed(gid: str, payload: object) -> PrintedEvent | None:
    value = payload_print(payload)
    if value is None:
        return None
    try:
        return PrintedEvent(gid, parse_ts(payload["updated_at"]), value)
    except (TypeError, ValueError):
        return None


def unchanged_since_synced(ledger: Ledger, event: PrintedEvent) -> bool:
    """The event's content is the content of a version already synced, at a later stamp."""
    known = ledger.get_entry(PRINTS_FLOW, event.gid)
    if known is None or known.payload_hash in (AMBIGUOUS, None):
        return False
    return event.stamp >= parse_ts(known.target_id) + _SECOND and known.payload_hash == event.print


def record_print(ledger: Ledger, event: PrintedEvent) -> None:
    """Remember the print of a version the sync reflects (stamps only move forward)."""
    known = ledger.get_entry(PRINTS_FLOW, event.gid)
    value = event.print
    if known is not None:
        stamp = parse_ts(known.target_id)
        if stamp > event.stamp:
            return
        if stamp == event.stamp and known.payload_hash != event.print:
            value = AMBIGUOUS
    ledger.mark_done(PRINTS_FLOW, event.gid, format_ts(event.stamp), value)


def contradicts_print(ledger: Ledger, event: PrintedEvent) -> bool:
    """Another payload with this stamp said something else: the version is not what a record of it claims."""
    known = ledger.get_entry(PRINTS_FLOW, event.gid)
    return known is not None and parse_ts(known.target_id) == event.stamp and known.payload_hash != event.print


def settle_versions(ledger: Ledger, pending: Iterable[PrintedEvent], now: datetime, versions_flow: str,
                    flow: str) -> list[PrintedEvent]:  # fmt: skip
    """Record skipped versions as reflected once their second is over (an edit within it would carry the same
    stamp); returns those still too young. A print made ambiguous meanwhile, or an order re-queued, is left
    for a read."""
    young = []
    for event in pending:
        if event.stamp + _SECOND > now:
            young.append(event)
            continue
        entry, known = ledger.get_entry(flow, event.gid), ledger.get_entry(PRINTS_FLOW, event.gid)
        if entry is None or entry.status != "done" or known is None or known.payload_hash != event.print:
            continue
        seen = ledger.get_entry(versions_flow, event.gid)
        if seen is None or parse_ts(seen.payload_hash) < event.stamp:
            ledger.mark_done(versions_flow, event.gid, entry.target_id or "", format_ts(event.stamp))
    return young
