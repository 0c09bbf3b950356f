"""Is there order work pending? The cheap, read-only question a sensor asks every tick (< 1-2 s).

Pending = webhook events still ``new`` in the inbox, plus orders updated after the watermark (the
watermark means "everything up to here is durably done", so anything past it is work) that the ledger
has not already handled in that version. Only ids and ``updatedAt`` are read from Shopify, one page.

The probe only decides *whether* to launch; the run decides *what* to do, re-reading the window with
its overlap. So a probe that errs towards "pending" costs a short idle run, never an order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sync_assets.connectors.shopify import documents as docs
from sync_assets.connectors.shopify.orders import updated_between_query
from sync_assets.domain.ids import id_sort_key, short_digest
from sync_assets.domain.policy import EntityPolicy
from sync_assets.domain.windows import first_start, parse_ts
from sync_assets.flows.orders import FLOW, TOPICS, OrdersFlowConfig, version_handled
from sync_assets.state.ledger import Ledger

PROBE_PAGE = 250
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


def probe_orders(
    shopify, ledger: Ledger, policy: EntityPolicy, *, now: datetime | None = None,
    config: OrdersFlowConfig = OrdersFlowConfig(),
) -> OrdersPending | None:  # fmt: skip
    now = now or datetime.now(timezone.utc)
    inbox = sum(ledger.inbox_counts(topic).get("new", 0) for topic in TOPICS)
    watermark = ledger.get_watermark(FLOW)
    # Whole-second stamps: look one second either side of [watermark, end) and sort it out per record.
    start = (watermark.updated_at if watermark else first_start(now, config.start_at, config.initial_lookback_seconds)) - _SECOND
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
        for node in connection.get("nodes") or []:
            updated = parse_ts(node["updatedAt"])
            if updated > end:
                continue
            behind = watermark is not None and (updated, id_sort_key(node["id"])) <= watermark.key
            margin = timedelta(0) if behind else _SECOND
            if not version_handled(ledger, node["id"], updated, margin=margin, statuses=("done", "dead")):
                keys.append((node["id"], node["updatedAt"]))
    if not keys and not inbox:
        return None
    return OrdersPending(tuple(sorted(keys)), inbox, more)


