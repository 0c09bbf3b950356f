"""Storefront orders → NetSuite sales orders, with customers and payments inline, exactly once.

One call of :func:`run_orders_flow` is one batch:

1. **Work**: webhook events from the durable inbox (their order ids, re-fetched through GraphQL: the
   payload may be stale or out of order; a version the ledger already did is not fetched at all) plus the
   polling window from the watermark (``windows.next_window``). The window is read as keys (id and
   ``updatedAt``, a cost point each); only versions the ledger has not done are fetched in full (~60 points
   each), at most ``batch_size × cap_multiplier`` past the watermark. More than ``bulk_threshold``
   *unhandled* versions are read with one bulk operation instead (a few points whatever the size; that run
   may take ``batch_size × bulk_cap_multiplier``), unless another bulk query holds the app's slot: then
   paging. A webhook-triggered run with a watermark younger than ``webhook_poll_after_seconds`` reads only
   its events' orders; the poller's runs keep the safety net.
   The window's orders are prepared and written in chunks of ``batch_size`` as they are read (steps 2-3
   per chunk), then the webhook orders the window did not hold; NetSuite down stops reading.
2. **Prepare**: one SuiteQL query for the batch's SKUs, one for currencies; every order is mapped once
   with a placeholder customer, which both validates it (a ``MappingError`` is dead-lettered, nothing
   is written for it) and gives the payload hash the ledger claims with — an unchanged re-delivery is
   skipped, an edit is re-sent.
3. **Write**: customers (external id, then email, else upsert by external id), then per order the sales
   order (``PUT salesOrder/eid:…?replace=item``), its deposits and its refunds (customer refunds against
   the deposit; the ledger's ``refunds`` flow skips those already written), each an upsert by external id, so an
   answer lost after NetSuite committed is harmless to repeat. The ledger says ``done`` only after
   NetSuite confirmed. NetSuite refusing a record dead-letters it; NetSuite unavailable releases the
   claim and stops writing (the next run retries).
4. **Bookkeeping**: inbox events are acked when their orders are durable (done, skipped or
   dead-lettered) and released otherwise; the watermark advances only past the durable prefix of the
   window (``windows.advance``).
5. **Landing** (optional): raw payloads and outcomes are written as durable files in the landing area and
   queued in the same ledger transaction that advances the watermark (step 4): the warehouse is never
   opened here; the ``warehouse_load`` job merges the files.

Plain Python over the clients, the ledger and a landing area: no Dagster here.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING

from sync_assets.connectors.errors import AuthenticationError, RequestRejected, ThrottledError, TransientError
from sync_assets.connectors.netsuite.errors import NetSuiteDuplicateRecord, NetSuiteRecordLocked
from sync_assets.connectors.shopify import documents as shopify_docs
from sync_assets.connectors.shopify.errors import ShopifyBulkSlotBusy
from sync_assets.connectors.shopify.bulk import iter_bulk_orders_updated_between
from sync_assets.connectors.shopify.orders import NODES_BATCH as ORDERS_BY_ID_BATCH
from sync_assets.connectors.shopify.orders import updated_between_query
from sync_assets.connectors.shopify.paging import paginate
from sync_assets.domain.customers import CustomerMatchKey, customer_body_from_order, customer_match_key
from sync_assets.domain.errors import MappingError
from sync_assets.domain.ids import id_sort_key
from sync_assets.domain.money import money_bag, nodes, payload_hash
from sync_assets.domain.orders import MappingContext, SalesOrderDraft, map_order_to_sales_order, resolve_item_id
from sync_assets.domain.payments import (
    DepositDraft,
    DepositNotInNetSuite,
    PaymentContext,
    deposits_for_order,
    refunds_for_order,
)
from sync_assets.domain.policy import EntityPolicy
from sync_assets.domain.windows import QueryWindow, Watermark, advance, dedupe, first_start, format_ts, next_window, parse_ts
from sync_assets.flows import reference
from sync_assets.flows.landing import landed_rows, payloads_and_events
from sync_assets.flows.order_prints import (
    PrintedEvent, contradicts_print, printed, record_print, settle_versions, unchanged_since_synced,
)  # fmt: skip
from sync_assets.state.ledger import Claim, LandedFile, Ledger
from sync_assets.flows.metering import api_numbers, record_numbers, stats_delta

if TYPE_CHECKING:
    from sync_assets.warehouse.landing_area import LandingArea

log = logging.getLogger(__name__)

FLOW = "orders"
CUSTOMERS_FLOW = "customers"
PAYMENTS_FLOW = "payments"
REFUNDS_FLOW = "refunds"
# The newest storefront version (``updatedAt``) of each order that NetSuite durably reflects — written
# or found unchanged — so a later read of the same version costs its key, not a full re-read. Without it an
# order updated by something the mapping ignores (our own fulfillment, a tag) was re-read in full on every
# run while it stayed in the overlap.
VERSIONS_FLOW = "orders_versions"
TOPICS = ("orders/create", "orders/updated", "orders/paid", "orders/cancelled")
WEBHOOK_TRIGGER = "webhook"  # the run tag value the webhook receiver launches with (defs.lanes TRIGGER_TAG)
_PLACEHOLDER_ID = "0"
_DUPLICATE_PAUSES = (0.5, 1.0, 2.0)  # stands in for ids only NetSuite can give, while validating and hashing

SYNCED, SKIPPED, DEAD, FAILED = "synced", "skipped", "dead_lettered", "failed"
DURABLE = frozenset({SYNCED, SKIPPED, DEAD})


@dataclass(frozen=True)
class OrdersFlowConfig:
    """Run sizing, and the NetSuite account facts the sync policy's ``account:`` section fills in
    (``sync_assets.definitions.account_configs``); item names are resolved to these ids per run."""

    discount_item_id: str | None = None
    tax_item_id: str | None = None  # None: NetSuite's tax engine computes tax
    subsidiary_id: str | None = None
    tran_date_timezone: str = "UTC"
    deposit_account_id: str | None = None  # None: customer deposits post to Undeposited Funds
    payment_method_map: Mapping[str, str] = field(default_factory=dict)  # gateway → NetSuite payment method id
    shipping_method_map: Mapping[str, str] = field(default_factory=dict)  # shipping title → NetSuite ship item id
    cap_multiplier: int = 1  # polled orders per run ≤ batch_size × this: a backlog drains in several runs that each write as they go
    initial_lookback_seconds: float = 86_400.0  # first run ever: how far back to poll...
    start_at: datetime | None = None  # ...unless the policy's account.start_date says where to begin
    lease_seconds: float = 120.0  # a killed run's claims and inbox events come back after this
    max_attempts: int = 20  # record-specific transient failures before dead-lettering
    workers: int | None = None  # parallel order writes; default: the NetSuite client's concurrency
    # More versions than this in the polling window that the ledger has not done: read it with a bulk
    # operation, which beats fetching them by id at ~60 points each once they would wait on the bucket
    # for longer than a bulk query takes (None: never bulk).
    bulk_threshold: int | None = 100
    bulk_cap_multiplier: int = 4  # orders per run on the bulk path ≤ batch_size × this: a burst takes a few runs
    bulk_poll_interval: float = 0.5  # first status poll of the bulk operation (it backs off from there)
    bulk_timeout_seconds: float = 600.0
    # A webhook-triggered run reads only the orders its events name while the watermark is younger than
    # this; past it, it pages the window's keys as well (the polling safety net, a point per order).
    webhook_poll_after_seconds: float = 60.0
    # A run in flight takes the webhook events that arrive while it works (drain_orders_flow), for up to
    # this long since it started: an event then waits for the batch ahead of it, not for that run to end
    # and the next to be launched (the real-time lane's latency tail). 0: one batch per run. Bounded well
    # inside the real-time freshness warning (5 min: the run's materialization comes at its end), and past
    # webhook_poll_after_seconds its batches poll the window too, so the safety net keeps its turn. Each
    # hand-over to the next run costs the orders arriving meanwhile a launch, so longer is faster; but the
    # run's SUCCESS (and its materialization) comes only at its end, which operators and tests wait for.
    # Measured at 20 orders a minute (bench/streams.py, quiet machine): orders p95 3.9 s with 0, 2.0 s with 30.
    drain_seconds: float = 30.0
    # ...and, once webhooks are flowing (the run has taken some), it waits this long for the next one
    # before ending: under a steady stream the next order is handled by the warm run within a moment.
    drain_linger_seconds: float = 3.0
    drain_poll_seconds: float = 0.1

@dataclass
class OrderOutcome:
    source_id: str
    status: str  # synced | skipped | dead_lettered | failed
    updated_at: str | None = None
    external_id: str | None = None
    target_id: str | None = None
    customer_id: str | None = None
    deposit_ids: tuple[str, ...] = ()
    reason: str | None = None
    field_path: str | None = None
    written_at: float | None = None  # epoch seconds NetSuite confirmed the sales order
    expected_total: Decimal | None = None  # storefront total, to compare with NetSuite's
    cancelled: bool = False

    @property
    def lag_seconds(self) -> float | None:
        if self.written_at is None or not self.updated_at:
            return None
        return max(0.0, self.written_at - parse_ts(self.updated_at).timestamp())


@dataclass
class OrdersRunResult:
    outcomes: dict[str, OrderOutcome] = field(default_factory=dict)
    orders: list[dict] = field(default_factory=list)  # every order version this run looked at
    window: QueryWindow | None = None
    watermark_before: Watermark | None = None
    watermark_after: Watermark | None = None
    inbox_events: int = 0
    inbox_acked: int = 0
    read_via_bulk: bool = False  # the polling window was read with a bulk operation
    customers_created: int = 0
    customers_matched: int = 0
    deposits_written: int = 0
    refunds_written: int = 0
    netsuite_unavailable: str | None = None  # why writing stopped early, if it did
    shopify_stats: dict[str, float] = field(default_factory=dict)
    netsuite_stats: dict[str, float] = field(default_factory=dict)
    landed_rows: int = 0
    # Events skipped on their print (order_prints) whose version is recorded once its second is over.
    print_pending: list[PrintedEvent] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes.values() if o.status == status)

    def absorb(self, later: OrdersRunResult) -> None:
        """Add a later batch of the same run (``drain_orders_flow``): its outcomes win, counts add up."""
        self.outcomes.update(later.outcomes)
        self.orders += later.orders
        self.watermark_after = later.watermark_after or self.watermark_after
        for name in ("inbox_events", "inbox_acked", "customers_created", "customers_matched", "deposits_written",
                     "refunds_written", "landed_rows"):
            setattr(self, name, getattr(self, name) + getattr(later, name))
        self.read_via_bulk = self.read_via_bulk or later.read_via_bulk
        self.print_pending = later.print_pending + [p for p in self.print_pending if p not in later.print_pending]
        self.netsuite_unavailable = later.netsuite_unavailable or self.netsuite_unavailable
        for mine, theirs in ((self.shopify_stats, later.shopify_stats), (self.netsuite_stats, later.netsuite_stats)):
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0) + value

    @property
    def lags(self) -> list[float]:
        return sorted(lag for o in self.outcomes.values() if (lag := o.lag_seconds) is not None)

    def numbers(self) -> dict[str, float | int]:
        """The run's numeric metadata (the Dagster UI plots these)."""
        return {
            **record_numbers(synced=self.count(SYNCED), skipped=self.count(SKIPPED), dead_lettered=self.count(DEAD),
                             failed=self.count(FAILED), lags=self.lags),
            "inbox_events": self.inbox_events,
            "orders_read_via_bulk": int(self.read_via_bulk),
            "customers_created": self.customers_created,
            "deposits_written": self.deposits_written,
            "refunds_written": self.refunds_written,
            **api_numbers(self.shopify_stats, self.netsuite_stats, examined=len(self.outcomes), synced=self.count(SYNCED)),
            "netsuite_retries": int(self.netsuite_stats.get("retries", 0)),
        }


@dataclass
class _Prepared:
    order: dict
    source_id: str
    hash: str
    error: MappingError | None = None
    customer_key: CustomerMatchKey | None = None
    default_customer: str | None = None
    draft: SalesOrderDraft | None = None


# ----------------------------------------------------------------------------------------------- run


def run_orders_flow(
    shopify,
    netsuite,
    ledger: Ledger,
    policy: EntityPolicy,
    *,
    landing: LandingArea | None = None,
    run_id: str = "local",
    now: datetime | None = None,
    config: OrdersFlowConfig = OrdersFlowConfig(),
    trigger: str | None = None,
) -> OrdersRunResult:
    """One batch of the orders flow (see the module docstring). Raises only when nothing could be done
    safely (Shopify unreachable, bad credentials); every record-level problem is in the result.

    ``trigger`` ``"webhook"``: the run was launched for webhook events, so while the watermark is fresh it
    fetches only the orders they name (see ``OrdersFlowConfig.webhook_poll_after_seconds``)."""
    started = datetime.now(timezone.utc)  # every read of this run happens after this
    now = now or started
    result = OrdersRunResult()
    shopify_before, netsuite_before = shopify.stats.snapshot(), netsuite.stats.snapshot()
    cap = policy.batch_size * config.cap_multiplier
    events = [e for topic in TOPICS for e in ledger.inbox_take(topic, cap, lease_seconds=config.lease_seconds)]
    result.inbox_events = len(events)
    try:
        event_orders = _event_order_ids(ledger, events)
        result.watermark_before = ledger.get_watermark(FLOW)
        result.window = None if _events_only(trigger, events, result.watermark_before, now, config) else next_window(
            result.watermark_before, now,
            overlap_seconds=policy.overlap_seconds, safety_lag_seconds=policy.safety_lag_seconds,
            initial_start=first_start(now, config.start_at, config.initial_lookback_seconds),
        )  # fmt: skip
        poll = _Poll()
        orders: dict[str, dict] = {}
        with closing(_poll_chunks(shopify, ledger, result.window, result.watermark_before, policy, config, poll,
                                  result)) as chunks:
            for chunk in chunks:  # written as read: a long read does not hold back the first writes
                _sync_group(netsuite, ledger, policy, config, _merge(chunk), orders, result, started)
                if result.netsuite_unavailable:
                    poll.drained = False  # what is not read yet stays in the window for the next run
                    break
        fetched = _fetch(shopify, _unhandled_event_orders(ledger, events, event_orders, result), poll.orders)
        _sync_group(netsuite, ledger, policy, config, _merge(fetched), orders, result, started)
        _note_prints(ledger, events, event_orders, orders, result)
        result.orders = list(orders.values())  # one version per order: the latest read
    except BaseException:
        ledger.inbox_release(e.event_id for e in events)
        raise
    result.read_via_bulk = poll.bulk
    _finish_inbox(ledger, event_orders, orders, result)
    landed = landing.write_all(_landing_frames(result), run_id) if landing is not None else []
    _advance_watermark(ledger, result, poll.orders, poll.drained, landed)
    result.landed_rows = landed_rows(landed, "raw.shopify_orders") + landed_rows(landed, "raw.sync_events")
    result.print_pending = settle_versions(ledger, result.print_pending, datetime.now(timezone.utc), VERSIONS_FLOW, FLOW)
    result.shopify_stats = stats_delta(shopify.stats.snapshot(), shopify_before)
    result.netsuite_stats = stats_delta(netsuite.stats.snapshot(), netsuite_before)
    return result


def drain_orders_flow(shopify, netsuite, ledger: Ledger, policy: EntityPolicy, *,
                      landing: LandingArea | None = None, run_id: str = "local",
                      config: OrdersFlowConfig = OrdersFlowConfig(), trigger: str | None = None,
                      clock=time.monotonic, sleep=time.sleep) -> OrdersRunResult:  # fmt: skip
    """:func:`run_orders_flow`, then again for the webhook events that arrive meanwhile, while
    ``config.drain_seconds`` last: one run in flight per flow (DESIGN.md "Bursts") without a new order
    waiting behind it for a run to end and the next to start. Once the run has taken webhook events it
    also waits ``drain_linger_seconds`` for the next before ending (a poll-only deployment never waits).
    Each further batch reads only its events' orders while the watermark is fresh (a webhook batch);
    their results are summed into one. Stops when NetSuite stops a batch."""
    began = clock()
    result = run_orders_flow(shopify, netsuite, ledger, policy, landing=landing, run_id=run_id, config=config,
                             trigger=trigger)  # fmt: skip
    idle_since = clock()
    while not result.netsuite_unavailable and clock() - began < config.drain_seconds:
        # Skipped versions whose second is over are recorded as they age, not only when the drain ends: until
        # then each holds the orders probe's cursor (every probe tick and inventory read pages from it).
        result.print_pending = settle_versions(ledger, result.print_pending, datetime.now(timezone.utc),
                                               VERSIONS_FLOW, FLOW)  # fmt: skip
        if any(ledger.inbox_counts(topic).get("new", 0) for topic in TOPICS):
            more = run_orders_flow(shopify, netsuite, ledger, policy, landing=landing, run_id=run_id,
                                   config=config, trigger=WEBHOOK_TRIGGER)  # fmt: skip
            result.absorb(more)
            idle_since = clock()
        elif result.inbox_events and clock() - idle_since < config.drain_linger_seconds:
            sleep(config.drain_poll_seconds)
        else:
            break
    if result.print_pending:  # their second ends within one: record them rather than leave them to a re-read
        youngest = max(p.stamp for p in result.print_pending)
        sleep(max(0.0, min(1.0, (youngest + timedelta(seconds=1) - datetime.now(timezone.utc)).total_seconds())))
        result.print_pending = settle_versions(ledger, result.print_pending, datetime.now(timezone.utc),
                                               VERSIONS_FLOW, FLOW)  # fmt: skip
    return result


def _events_only(trigger: str | None, events, watermark: Watermark | None, now: datetime,
                 config: OrdersFlowConfig) -> bool:
    """A webhook run with events to do and a recent watermark leaves the polling window to the poller."""
    if trigger != WEBHOOK_TRIGGER or not events or watermark is None:
        return False
    return (now - watermark.updated_at).total_seconds() <= config.webhook_poll_after_seconds


def _unhandled_event_orders(ledger: Ledger, events, event_orders: dict[str, list[str]],
                            result: OrdersRunResult) -> set[str]:
    """The events' orders minus those whose delivered version (the payload's ``updated_at``) the ledger has
    done already — a duplicate delivery, or one the poller got to first — or whose payload says nothing but
    our own fulfillment changed since the version synced (``order_prints``): those cost no read."""
    wanted: set[str] = set()
    for event in events:
        stamp = event.payload.get("updated_at") if isinstance(event.payload, dict) else None
        for gid in event_orders.get(event.event_id, ()):
            ev = printed(gid, event.payload)
            if ev is not None and contradicts_print(ledger, ev):
                wanted.add(gid)  # a second payload with this stamp says something else: read it
                continue
            try:
                entry = stamp is not None and version_handled(ledger, gid, parse_ts(stamp), margin=timedelta(seconds=1))
            except (TypeError, ValueError):
                entry = None  # an unreadable stamp: read the order to be sure
            if not entry and ev is not None and unchanged_since_synced(ledger, ev):
                entry = ledger.get_entry(FLOW, gid)
                if entry is not None and entry.status == "done":
                    record_print(ledger, ev)
                    result.print_pending.append(ev)
                else:
                    entry = None  # re-queued (reconciliation, a replay) since: read it
            if entry:
                result.outcomes.setdefault(gid, OrderOutcome(gid, SKIPPED, stamp, target_id=entry.target_id))
            else:
                wanted.add(gid)
    return wanted


def _note_prints(ledger: Ledger, events, event_orders: dict[str, list[str]], orders: Mapping[str, dict],
                 result: OrdersRunResult) -> None:
    """Record the print of each event payload that is the version this run read and left done, and settle
    that version once its second is over (``order_prints``: a same-second edit changes the print of its own
    delivery), so that the polling safety net does not read again an order a webhook run synced within its
    own second — at a busy store a fifth of the orders."""
    for event in events:
        for gid in event_orders.get(event.event_id, ()):
            ev, order, outcome = printed(gid, event.payload), orders.get(gid), result.outcomes.get(gid)
            if ev is None or order is None or outcome is None or outcome.status not in (SYNCED, SKIPPED):
                continue
            entry = ledger.get_entry(FLOW, gid)
            if entry is not None and entry.status == "done" and parse_ts(order["updatedAt"]) == ev.stamp:
                record_print(ledger, ev)
                if ev not in result.print_pending:
                    result.print_pending.append(ev)


def _event_order_ids(ledger: Ledger, events) -> dict[str, list[str]]:
    """event id → order GIDs. REST payloads carry ``admin_graphql_api_id`` (or the numeric ``id``)."""
    out: dict[str, list[str]] = {}
    for event in events:
        payload = event.payload if isinstance(event.payload, dict) else {}
        gid = payload.get("admin_graphql_api_id")
        if not (isinstance(gid, str) and gid.startswith("gid://shopify/Order/")):
            raw = payload.get("id")
            gid = f"gid://shopify/Order/{raw}" if isinstance(raw, int) or (isinstance(raw, str) and raw.isdigit()) else None
        if gid is None:
            ledger.dead_letter(
                FLOW, f"webhook:{event.event_id}",
                f"{event.topic} event has no order id (admin_graphql_api_id or id)", event.payload, "admin_graphql_api_id",
            )  # fmt: skip
        out[event.event_id] = [gid] if gid else []
    return out


@dataclass
class _Poll:
    """What reading the polling window found, filled in as its chunks are consumed."""

    orders: list[dict] = field(default_factory=list)  # every polled order version yielded so far
    drained: bool = True  # the window was read to its end
    bulk: bool = False  # a bulk operation read it


def _poll_chunks(shopify, ledger: Ledger, window: QueryWindow | None, watermark: Watermark | None,
                 policy: EntityPolicy, config: OrdersFlowConfig, poll: _Poll,
                 result: OrdersRunResult) -> Iterator[list[dict]]:
    """The window's orders not handled yet, oldest update first, in chunks of ``batch_size``, up to the run's
    cap; the handled ones are recorded as skipped on the way (they count for the watermark like any other)."""
    if window is None:
        return
    # Shopify stamps and filters in whole seconds and the query helper truncates: ask up to the next whole
    # second so this window's last second is read; dedupe then cuts at the exact end.
    end = window.end + timedelta(seconds=1)
    # More unhandled orders than a paged run may take: bulk them too, whatever the threshold.
    paged_cap = policy.batch_size * config.cap_multiplier
    threshold = None if config.bulk_threshold is None else min(config.bulk_threshold, paged_cap)
    source = _window_orders(shopify, ledger, window, end, watermark, threshold, config, poll)
    chunk: list[dict] = []
    fresh = 0
    with closing(source):  # stopping at the cap closes the bulk download's stream now, not at GC
        for order, entry in source:
            if entry is not None:  # handled already: a key read, no full read, no write
                if window.contains(parse_ts(order["updatedAt"])):
                    result.outcomes.setdefault(order["id"], OrderOutcome(
                        order["id"], SKIPPED, order["updatedAt"], target_id=entry.target_id))  # fmt: skip
                    poll.orders.append(order)
                continue
            # Only orders past the watermark count towards the cap: counting the overlap behind it would
            # stall a backlog of more than ``cap`` orders updated within ``overlap`` seconds.
            if _past(order, watermark):
                cap = policy.batch_size * (config.bulk_cap_multiplier if poll.bulk else config.cap_multiplier)
                if fresh >= cap:
                    poll.drained = False
                    break
                fresh += 1
            chunk.append(order)
            if len(chunk) >= policy.batch_size:
                yield _chunk(chunk, window, poll)
                chunk = []
    if chunk:
        yield _chunk(chunk, window, poll)


# Keys classified before the read is chosen: enough to see a backlog past the bulk threshold, bounded so a
# long window of done orders is streamed rather than held.
_DECIDE_WITHIN = 5_000


def _window_orders(shopify, ledger: Ledger, window: QueryWindow, end: datetime, watermark: Watermark | None,
                   threshold: int | None, config: OrdersFlowConfig,
                   poll: _Poll) -> Iterator[tuple[dict, object | None]]:  # fmt: skip
    """The window as ``(order, ledger entry if handled else None)``, in updatedAt order: full orders only for
    versions the ledger has not handled.

    The window re-reads ``overlap`` seconds behind the watermark, mostly orders already done; reading each
    in full costs ~60 cost points, so under a steady stream the overlap alone would drain a Standard bucket.
    Keys (id, updatedAt) cost one point each and tell the handled versions apart; the rest are fetched by
    id, or — when more than ``threshold`` of them wait — with one bulk operation, which costs a few points
    whatever its size (bulk beats paging once paging them would wait on the bucket for longer than a bulk
    query takes). The bulk slot busy with someone else's query: page, the real-time lane does not queue.
    """
    pages = paginate(shopify, shopify_docs.ORDER_KEYS_PAGE, {"query": updated_between_query(window.start, end)},
                     ("orders",), page_size=250)
    keys = (node for node in pages if window.contains(parse_ts(node["updatedAt"])))
    head: list[tuple[dict, object | None]] = []
    unhandled = 0
    for node in keys:
        entry = _handled_entry(ledger, node, watermark)
        head.append((node, entry))
        unhandled += entry is None
        if threshold is not None and unhandled > threshold:
            try:
                bulk = iter_bulk_orders_updated_between(shopify, window.start, end, poll_interval=config.bulk_poll_interval,
                                                        timeout_s=config.bulk_timeout_seconds)
                poll.bulk = True
                for order in bulk:  # the slot's refusal comes before the first order, so nothing is yielded twice
                    yield order, _handled_entry(ledger, order, watermark)
                return
            except ShopifyBulkSlotBusy as exc:
                poll.bulk = False
                log.info("orders flow: bulk slot busy (%s); paging the %d+ unhandled orders instead", exc, unhandled)
                threshold = None
        if len(head) >= _DECIDE_WITHIN:
            break
    yield from _fetch_unhandled(shopify, itertools.chain(head, ((n, _handled_entry(ledger, n, watermark)) for n in keys)))


def _handled_entry(ledger: Ledger, node: Mapping, watermark: Watermark | None):
    """The ledger entry when this version is done already, else None. Dead letters are read again: a fix in
    the policy (a default customer, say) may let them through, and the claim still skips them when their
    mapped payload is unchanged."""
    margin = timedelta(seconds=1) if _past(node, watermark) else timedelta(0)
    return version_handled(ledger, node["id"], parse_ts(node["updatedAt"]), margin=margin)


def version_handled(ledger: Ledger, gid: str, updated: datetime, *, margin: timedelta, statuses=("done",)):
    """The ledger entry saying this version of the order needs nothing (else None): the version NetSuite
    reflects is at least ``updated`` (``VERSIONS_FLOW``), or the order was written at least ``margin``
    after it (see :func:`handled_version`; ledgers from before the version record, and orders read within
    a second of their stamp, which the version record leaves out)."""
    entry = ledger.get_entry(FLOW, gid)
    if entry is None or entry.status not in statuses:
        return None  # never done, or re-queued (reconciliation, a replay) since
    seen = ledger.get_entry(VERSIONS_FLOW, gid)
    if seen is not None and seen.status == "done" and parse_ts(seen.payload_hash) >= updated:
        return entry
    return entry if handled_version(entry, updated, margin=margin, statuses=statuses) else None


def _note_versions(ledger: Ledger, group: Mapping[str, dict], result: OrdersRunResult, read_after: datetime) -> None:
    """Record the versions this group leaves durably reflected in NetSuite (synced, or unchanged and done).

    Stamps are whole seconds, so an edit in the same second as our read carries the same ``updatedAt``:
    only versions read at least a second after their stamp are recorded (``read_after`` is a lower bound
    of the read time; polled orders always qualify, being behind the safety lag)."""
    for gid, order in group.items():
        outcome = result.outcomes.get(gid)
        if outcome is None or outcome.status not in (SYNCED, SKIPPED):
            continue
        stamp = parse_ts(order["updatedAt"])
        if stamp + timedelta(seconds=1) > read_after:
            continue
        entry = ledger.get_entry(FLOW, gid)
        if entry is None or entry.status != "done":
            continue  # dead letters are read again (see _handled_entry)
        seen = ledger.get_entry(VERSIONS_FLOW, gid)
        if seen is None or parse_ts(seen.payload_hash) < stamp:
            ledger.mark_done(VERSIONS_FLOW, gid, entry.target_id or "", format_ts(stamp))


def _fetch_unhandled(shopify, items: Iterable[tuple[dict, object | None]]) -> Iterator[tuple[dict, object | None]]:
    """Keys in, orders out in the same order: the unhandled ones fetched in full by id, a batch at a time."""
    pending: list[tuple[dict, object | None]] = []
    wanted = 0
    for item in items:
        pending.append(item)
        wanted += item[1] is None
        if wanted >= ORDERS_BY_ID_BATCH:
            yield from _resolve(shopify, pending)
            pending, wanted = [], 0
    yield from _resolve(shopify, pending)


def _resolve(shopify, pending: list[tuple[dict, object | None]]) -> Iterator[tuple[dict, object | None]]:
    wanted = [node["id"] for node, entry in pending if entry is None]
    full = {o["id"]: o for o in shopify.get_orders(wanted)} if wanted else {}
    for node, entry in pending:
        if entry is not None:
            yield node, entry
        elif node["id"] in full:  # else deleted since its key was read: nothing to sync
            yield full[node["id"]], None


def handled_version(entry, updated: datetime, *, margin: timedelta, statuses=("done", "dead")) -> bool:
    """Done (or dead-lettered) no earlier than this version (plus ``margin``).

    Behind the watermark (its own second, re-read because stamps are whole seconds) a write at or after
    the stamp is enough. Past it, Shopify's whole-second ``updatedAt`` makes an edit in the same second as
    our write look older than it is, so only a write at least one second later counts.
    """
    return entry is not None and entry.status in statuses and parse_ts(entry.updated_at) >= updated + margin


def _chunk(orders: list[dict], window: QueryWindow, poll: _Poll) -> list[dict]:
    kept = dedupe(orders, window, set())
    poll.orders.extend(kept)
    return kept


def _past(order: Mapping, watermark: Watermark | None) -> bool:
    return watermark is None or (parse_ts(order["updatedAt"]), id_sort_key(str(order["id"]))) > watermark.key


def _sync_group(netsuite, ledger: Ledger, policy: EntityPolicy, config: OrdersFlowConfig, group: dict[str, dict],
                orders: dict[str, dict], result: OrdersRunResult, read_after: datetime) -> None:
    """Sync one group of orders; once NetSuite is known to be down, only record them as failed."""
    orders.update(group)
    if result.netsuite_unavailable:
        _all_failed(group, result, result.netsuite_unavailable)
    else:
        _sync(netsuite, ledger, policy, config, group, result)
        _note_versions(ledger, group, result, read_after)


def _fetch(shopify, gids: set[str], polled: list[dict]) -> list[dict]:
    have = {o["id"] for o in polled}
    wanted = sorted(gids - have)
    return shopify.get_orders(wanted) if wanted else []


def _merge(*groups: Iterable[dict]) -> dict[str, dict]:
    """One version per order id, the latest by updatedAt (a re-fetch can be newer than the window's)."""
    latest: dict[str, dict] = {}
    for group in groups:
        for order in group:
            kept = latest.get(order["id"])
            if kept is None or parse_ts(kept["updatedAt"]) < parse_ts(order["updatedAt"]):
                latest[order["id"]] = order
    return latest


# ---------------------------------------------------------------------------------------------- sync


def _sync(netsuite, ledger: Ledger, policy: EntityPolicy, config: OrdersFlowConfig, orders: dict[str, dict],
          result: OrdersRunResult) -> None:
    if not orders:
        return
    try:
        currencies = reference.currency_ids(netsuite)
        skus = reference.items_by_sku(netsuite, _skus(orders.values()))
        config = _with_adjustment_items(netsuite, policy, config)
    except (TransientError, ThrottledError) as exc:
        _all_failed(orders, result, f"NetSuite unavailable for reference lookups: {exc}")
        result.netsuite_unavailable = str(exc)
        return
    prepared = [_prepare(o, skus, currencies, policy, config) for o in orders.values()]
    claims = {c.source_id: c for c in ledger.claim(FLOW, {p.source_id: p.hash for p in prepared},
                                                   lease_seconds=config.lease_seconds)}
    ready: list[_Prepared] = []
    for p in prepared:
        outcome = OrderOutcome(p.source_id, FAILED, p.order.get("updatedAt"))
        result.outcomes[p.source_id] = outcome
        if p.source_id not in claims:
            entry = ledger.get_entry(FLOW, p.source_id)
            durable = entry is not None and entry.status in ("done", "dead") and entry.payload_hash == p.hash
            outcome.status = SKIPPED if durable else FAILED
            outcome.target_id = entry.target_id if entry else None
            outcome.reason = None if durable else "claimed by another run"
        elif p.error is not None:
            ledger.dead_letter(FLOW, p.source_id, p.error.reason, p.order, p.error.field_path)
            outcome.status, outcome.reason, outcome.field_path = DEAD, p.error.reason, p.error.field_path
        else:
            ready.append(p)
    if not ready:
        return
    writer = _Writer(netsuite, ledger, config, currencies, claims, result)
    customer_ids = writer.resolve_customers(ready)
    workers = max(1, config.workers or getattr(netsuite, "max_concurrency", 1) or 1)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="orders-sync") as pool:
        list(pool.map(lambda p: writer.write_order(p, customer_ids), ready))


def _with_adjustment_items(netsuite, policy: EntityPolicy, config: OrdersFlowConfig) -> OrdersFlowConfig:
    """The policy names the discount and tax items (as an engineer knows them); a sales order wants ids."""
    wanted = {
        attr: name
        for attr, name in (("discount_item_id", policy.discount_item), ("tax_item_id", policy.tax_item))
        if name and getattr(config, attr) is None
    }
    if not wanted:
        return config
    found = reference.items_by_sku(netsuite, wanted.values())
    resolved = {}
    for attr, name in wanted.items():
        item_id = resolve_item_id(name, found)
        if item_id is None:
            # Orders that need the item are dead-lettered by the mapping with the reason; say why here once.
            log.warning("sync policy orders.%s: no active NetSuite item named %r", attr.removesuffix("_id"), name)
        resolved[attr] = item_id
    return replace(config, **resolved)


def _skus(orders: Iterable[dict]) -> set[str]:
    found = set()
    for order in orders:
        try:
            lines = nodes(order.get("lineItems"))
        except MappingError:
            continue  # the mapping names the problem when it validates this order
        found |= {line["sku"] for line in lines if isinstance(line, dict) and isinstance(line.get("sku"), str)}
    return found


def _all_failed(orders: Mapping[str, dict], result: OrdersRunResult, reason: str) -> None:
    for source_id, order in orders.items():
        result.outcomes[source_id] = OrderOutcome(source_id, FAILED, order.get("updatedAt"), reason=reason)


def _mapping_context(skus, currencies, policy: EntityPolicy, config: OrdersFlowConfig, customer_id: str) -> MappingContext:
    return MappingContext(
        sku_to_item=skus, currency_ids=currencies, customer_id=customer_id, location_map=policy.location_map,
        discount_item_id=config.discount_item_id, tax_item_id=config.tax_item_id,
        subsidiary_id=config.subsidiary_id, tran_date_timezone=config.tran_date_timezone,
        shipping_method_map=config.shipping_method_map,
    )  # fmt: skip


def _payment_context(config: OrdersFlowConfig, customer_id: str, currencies, sales_order_id: str | None = None):
    return PaymentContext(customer_id, currencies, sales_order_id, payment_method_map=config.payment_method_map,
                          tran_date_timezone=config.tran_date_timezone,
                          account_id=config.deposit_account_id)


def _prepare(order: dict, skus, currencies, policy: EntityPolicy, config: OrdersFlowConfig) -> _Prepared:
    """Validate and hash an order before anything is written for it."""
    source_id = str(order.get("id"))
    p = _Prepared(order, source_id, payload_hash(order))
    try:
        try:
            p.customer_key = customer_match_key(order)
        except MappingError:
            currency = order.get("currencyCode")
            p.default_customer = policy.default_customer.get(str(currency)) or policy.default_customer.get("default")
            if not p.default_customer:
                raise MappingError(
                    f"order has no customer and no email, and the sync policy has no default_customer for {currency}"
                    " (entities.orders.default_customer)",
                    "customer",
                ) from None
        ctx = _mapping_context(skus, currencies, policy, config, _PLACEHOLDER_ID)
        p.draft = map_order_to_sales_order(order, ctx)
        deposits = deposits_for_order(order, _payment_context(config, _PLACEHOLDER_ID, currencies, _PLACEHOLDER_ID))
        # A refund changes neither the sales order nor the deposits: its own hash makes the order new work.
        refunds, rejected = refunds_for_order(order, _payment_context(config, _PLACEHOLDER_ID, currencies),
                                              {d.external_id: _PLACEHOLDER_ID for d in deposits}, deposits=deposits)
        customer_ref = p.customer_key.external_id if p.customer_key else f"default:{p.default_customer}"
        p.hash = payload_hash([p.draft.payload_hash, customer_ref, [d.payload_hash for d in deposits],
                               [r.payload_hash for r in refunds], [r.error.reason for r in rejected]])
    except MappingError as exc:
        p.error = exc
    return p


class _Writer:
    """The NetSuite writes of one batch. Shared by the worker threads; stops writing once NetSuite is down."""

    def __init__(self, netsuite, ledger: Ledger, config: OrdersFlowConfig, currencies, claims: dict[str, Claim],
                 result: OrdersRunResult) -> None:
        self.netsuite, self.ledger, self.config = netsuite, ledger, config
        self.currencies, self.claims, self.result = currencies, claims, result
        self._lock = threading.Lock()
        self._stopped: str | None = None

    # -- customers ------------------------------------------------------------------------------------

    def resolve_customers(self, ready: list[_Prepared]) -> dict[CustomerMatchKey, str | Exception]:
        """Customer id (or the error that prevented it) per match key: lookup, then upsert the missing."""
        keys = {p.customer_key: p for p in ready if p.customer_key is not None}
        if not keys:
            return {}
        try:
            found: dict[CustomerMatchKey, str | Exception] = dict(reference.find_customers(self.netsuite, keys))
        except (TransientError, ThrottledError) as exc:
            self._stop(f"NetSuite unavailable for the customer lookup: {exc}")
            return {}
        self.result.customers_matched += len(found)
        for key, p in keys.items():
            if key in found or self._stopped:
                continue
            draft = customer_body_from_order(p.order, subsidiary_id=self.config.subsidiary_id)
            try:
                customer_id = self._upsert("customer", draft.external_id, draft.body)
            except (RequestRejected, MappingError, TransientError, ThrottledError) as exc:
                if isinstance(exc, (TransientError, ThrottledError)) and not isinstance(exc, NetSuiteRecordLocked):
                    self._stop(f"NetSuite unavailable while creating customers: {exc}")
                found[key] = exc
                continue
            self.ledger.mark_done(CUSTOMERS_FLOW, draft.external_id, customer_id, draft.payload_hash)
            self.result.customers_created += 1
            found[key] = customer_id
        return found

    # -- orders ---------------------------------------------------------------------------------------

    def write_order(self, p: _Prepared, customer_ids: Mapping[CustomerMatchKey, str | Exception]) -> None:
        outcome = self.result.outcomes[p.source_id]
        claim = self.claims[p.source_id]
        if self._stopped:
            self._release(p, outcome, self._stopped)
            return
        customer = p.default_customer if p.customer_key is None else customer_ids.get(p.customer_key)
        try:
            if customer is None:
                raise _Unavailable("customer not resolved: NetSuite stopped answering")
            if isinstance(customer, Exception):
                raise customer
            self._write(p, customer, claim, outcome)
        except MappingError as exc:
            self._dead(p, outcome, exc.reason, exc.field_path)
        except NetSuiteRecordLocked as exc:
            self._failed(p, outcome, str(exc))
        except NetSuiteDuplicateRecord as exc:  # an upsert raced an earlier attempt of itself: retry next run
            self._release(p, outcome, str(exc))
        except (_Unavailable, TransientError, ThrottledError) as exc:
            self._stop(f"NetSuite unavailable: {exc}")
            self._release(p, outcome, str(exc))
        except DepositNotInNetSuite as exc:  # the order is retried next run, when its deposit is there
            self._release(p, outcome, str(exc))
        except AuthenticationError as exc:
            self._stop(f"NetSuite refused the credentials: {exc}")
            self._release(p, outcome, str(exc))
        except RequestRejected as exc:
            path = getattr(exc, "error_path", None)
            what = "customer" if p.customer_key is not None and customer_ids.get(p.customer_key) is exc else "sales order"
            self._dead(p, outcome, f"NetSuite refused the {what}: {exc}", path)
        except Exception as exc:  # a bug must not loop forever: it counts as an attempt, then dead-letters
            log.exception("orders flow: unexpected error on %s", p.source_id)
            self._failed(p, outcome, f"{type(exc).__name__}: {exc}")

    def _write(self, p: _Prepared, customer_id: str, claim: Claim, outcome: OrderOutcome) -> None:
        order = p.order
        assert p.draft is not None
        draft = _remap(p, customer_id)
        so_id = self._upsert("salesOrder", draft.external_id, draft.body, replace=("item",))
        deposits = deposits_for_order(order, _payment_context(self.config, customer_id, self.currencies, so_id))
        deposit_ids: dict[str, str] = {}
        for deposit in deposits:
            deposit_id = self._upsert("customerDeposit", deposit.external_id, deposit.body)
            self.ledger.mark_done(PAYMENTS_FLOW, deposit.source_id, deposit_id, deposit.payload_hash)
            deposit_ids[deposit.external_id] = deposit_id
        refunds_written = self._write_refunds(order, customer_id, deposits, deposit_ids)
        self.ledger.mark_done(FLOW, p.source_id, so_id, claim.payload_hash)
        outcome.written_at = time.time()
        outcome.status, outcome.target_id, outcome.customer_id = SYNCED, so_id, customer_id
        outcome.external_id, outcome.deposit_ids, outcome.cancelled = draft.external_id, tuple(deposit_ids.values()), draft.is_cancellation
        outcome.expected_total = _storefront_total(order)
        with self._lock:
            self.result.deposits_written += len(deposit_ids)
            self.result.refunds_written += refunds_written

    def _write_refunds(self, order: dict, customer_id: str, deposits: list[DepositDraft],
                       deposit_ids: Mapping[str, str]) -> int:
        """Upsert the order's refunds not yet written at this payload; a refund that cannot be mapped, or that
        NetSuite refuses, is dead-lettered alone (flow ``refunds``) and the order still syncs."""
        drafts, rejected = refunds_for_order(order, _payment_context(self.config, customer_id, self.currencies), deposit_ids,
                                             deposits=deposits)
        for bad in rejected:
            self.ledger.dead_letter(REFUNDS_FLOW, bad.source_id, bad.error.reason, bad.transaction, bad.error.field_path)
        written = 0
        for refund in drafts:
            if self.ledger.settled(REFUNDS_FLOW, refund.source_id, refund.payload_hash):
                continue
            try:
                refund_id = self._upsert("customerRefund", refund.external_id, refund.body)
            except RequestRejected as exc:
                if isinstance(exc, (NetSuiteRecordLocked, NetSuiteDuplicateRecord)):
                    raise
                self.ledger.dead_letter(REFUNDS_FLOW, refund.source_id, f"NetSuite refused the customer refund: {exc}",
                                        refund.body, getattr(exc, "error_path", None))
                continue
            self.ledger.mark_done(REFUNDS_FLOW, refund.source_id, refund_id, refund.payload_hash)
            written += 1
        return written

    def _upsert(self, record_type: str, external_id: str, body: dict, **kw) -> str:
        """An upsert by external id. "Already exists" on a PUT means an earlier attempt of this same write
        (timed out client-side, still running server-side) created the record meanwhile: once it has
        finished, the same PUT updates it. So wait briefly and repeat; if it persists, the caller releases."""
        for pause in _DUPLICATE_PAUSES:
            try:
                return self.netsuite.upsert_record(record_type, external_id, body, **kw)
            except NetSuiteDuplicateRecord:
                time.sleep(pause)
        return self.netsuite.upsert_record(record_type, external_id, body, **kw)

    def _dead(self, p: _Prepared, outcome: OrderOutcome, reason: str, field_path: str | None) -> None:
        self.ledger.dead_letter(FLOW, p.source_id, reason, p.order, field_path)
        outcome.status, outcome.reason, outcome.field_path = DEAD, reason, field_path

    def _failed(self, p: _Prepared, outcome: OrderOutcome, reason: str) -> None:
        entry = self.ledger.mark_failed(FLOW, p.source_id, reason, max_attempts=self.config.max_attempts, payload=p.order)
        outcome.status, outcome.reason = (DEAD if entry.status == "dead" else FAILED), reason

    def _release(self, p: _Prepared, outcome: OrderOutcome, reason: str) -> None:
        self.ledger.release(FLOW, p.source_id)
        outcome.status, outcome.reason = FAILED, reason

    def _stop(self, reason: str) -> None:
        with self._lock:
            if self._stopped is None:
                self._stopped = reason
                self.result.netsuite_unavailable = reason
                log.warning("orders flow: %s; the rest of the batch is left for the next run", reason)


class _Unavailable(Exception):
    """NetSuite is down or throttling past the client's retries: stop writing, leave the rest for the next run."""


def _remap(p: _Prepared, customer_id: str) -> SalesOrderDraft:
    """The validated draft with the real customer id (the body is otherwise the one that was hashed)."""
    assert p.draft is not None
    body = {**p.draft.body, "entity": {"id": customer_id}}
    return SalesOrderDraft(p.draft.source_id, p.draft.external_id, body, payload_hash(body), p.draft.updated_at,
                           p.draft.is_cancellation, p.draft.notes)


def _storefront_total(order: Mapping) -> Decimal | None:
    try:
        return money_bag(dict(order), "totalPriceSet", "", currency=order.get("currencyCode"))
    except MappingError:
        return None


# -------------------------------------------------------------------------------------- bookkeeping


def _finish_inbox(ledger: Ledger, event_orders: dict[str, list[str]], orders: dict[str, dict],
                  result: OrdersRunResult) -> None:
    """Ack events whose orders are durable (or gone from Shopify); release the rest for the next run."""
    ack, release = [], []
    for event_id, gids in event_orders.items():
        pending = [g for g in gids if g in orders and result.outcomes.get(g, OrderOutcome(g, FAILED)).status not in DURABLE]
        (release if pending else ack).append(event_id)
    if ack:
        ledger.inbox_ack(ack)
    if release:
        ledger.inbox_release(release)
    result.inbox_acked = len(ack)


def _advance_watermark(ledger: Ledger, result: OrdersRunResult, polled: list[dict], drained: bool,
                       landed: list[LandedFile]) -> None:
    """Past the window's durable prefix only: a failed order holds the watermark where it is. The run's
    landed files are queued for the warehouse in the same ledger transaction."""
    if result.window is None:
        ledger.record_landed(landed)
        return
    prefix: list[dict] = []
    # Each chunk is sorted; sorting them together as well keeps the prefix exact should the source's
    # tie order within a second differ from ours.
    for order in sorted(polled, key=lambda o: (parse_ts(o["updatedAt"]), id_sort_key(str(o["id"])))):
        outcome = result.outcomes.get(order["id"])
        if outcome is None or outcome.status not in DURABLE:
            drained = False
            break
        prefix.append(order)
    new = advance(result.watermark_before, result.window, prefix, drained=drained)
    if new is not None and (result.watermark_before is None or result.watermark_before < new):
        ledger.advance_watermark(FLOW, new, landed=landed)
        result.watermark_after = new
    else:
        ledger.record_landed(landed)
        result.watermark_after = result.watermark_before


def _landing_frames(result: OrdersRunResult) -> dict:
    payloads = [{"key": o["id"], "updated_at": o.get("updatedAt"), "payload": o} for o in result.orders]
    events = [
        {"flow": FLOW, "source_id": o.source_id, "target_id": o.target_id, "status": o.status,
         "reason": o.reason, "source_updated_at": o.updated_at}
        for o in result.outcomes.values()
    ]  # fmt: skip
    return payloads_and_events("raw.shopify_orders", "order_id", payloads, events)


__all__ = ["FLOW", "TOPICS", "OrderOutcome", "OrdersFlowConfig", "OrdersRunResult", "drain_orders_flow",
           "run_orders_flow"]
