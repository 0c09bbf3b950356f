"""NetSuite item fulfillments (shipped) + tracking → Shopify fulfillments, exactly once per NetSuite fulfillment.

One call of :func:`run_fulfillments_flow` is one batch:

1. **What is new** (:func:`find_pending`, also the sensor's probe): shipped ``ItemShip`` transactions
   modified at or after ``watermark − overlap``, linked (``previoustransactionlinelink``) to a sales order
   whose external id is ``shopify-order-<n>`` and which the ledger's ``orders`` flow marks done with that
   sales order's id; minus fulfillments the ledger already has done or dead — unless a done one's tracking
   now differs from the version the ledger's ``fulfillment_tracking`` rows recorded (editing the package
   sublist saves the record, so ``lastModifiedDate`` brings it back into the window).
2. **Read** their lines (``transactionline``, shipped lines are negative: sign-normalised, internal
   positive lines skipped) and tracking numbers (``trackingnumbermap`` + ``trackingnumber``;
   netsuite-rest.md §3.4, §8 #10–11), item ids → SKUs in one bound query.
3. **Create** per fulfillment, under a ledger claim: the order's open fulfillment orders →
   ``map_fulfillment`` → ``fulfillmentCreate``, then ``mark_done`` with the Shopify fulfillment id.
   ``fulfillmentCreate`` has no idempotency key, so before creating (and after an answer lost in
   transit) the order's existing fulfillments are read: one carrying this fulfillment's tracking number,
   or one created since this fulfillment's recorded attempt, *is* this fulfillment and is adopted instead
   of creating a second. An ambiguous failure that the re-read cannot resolve is left for the next run
   (which checks again) rather than resent. Lines that match no open fulfillment-order line are
   dead-lettered with the reason.

4. **Forward tracking changes**: a fulfillment already in Shopify whose NetSuite tracking numbers were
   added or changed gets ``fulfillmentTrackingInfoUpdate`` once per distinct tracking value (the domain's
   ``tracking_info``: numbers, plus the carrier mapped from ``shipMethod`` — which the SuiteQL read does not
   fetch yet, so today the value is the numbers), under a claim on ``fulfillment_tracking`` at its hash. A refusal
   (userErrors, e.g. the Shopify fulfillment is gone) dead-letters that value; the next change is tried
   afresh. An ambiguous failure is settled by re-reading the fulfillment's tracking, never by a blind
   resend (``notifyCustomer`` would mail the customer twice). Tracking removed in NetSuite is not removed
   from Shopify: the update can replace tracking, not clear it.

The ledger's ``fulfillments`` version of a fulfillment is its identity (create once); its content that may
change later — tracking — is versioned separately in ``fulfillment_tracking``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

from sync_assets.connectors.errors import (
    RequestRejected,
    ThrottledError,
    TransientError,
)
from sync_assets.connectors.netsuite import queries as Q
from sync_assets.connectors.netsuite.suiteql import from_user_time, to_user_time
from sync_assets.connectors.shopify import documents as docs
from sync_assets.connectors.shopify.errors import ShopifyTransientError
from sync_assets.connectors.shopify.fulfillment import (
    create_fulfillment,
    fulfillment_orders,
    update_tracking,
)
from sync_assets.domain.errors import MappingError
from sync_assets.domain.fulfillments import (
    FulfillmentContext,
    map_fulfillment,
    tracking_info,
    tracking_numbers,
    tracking_version,
)
from sync_assets.domain.policy import EntityPolicy
from sync_assets.domain.windows import Watermark, first_start
from sync_assets.flows import reference
from sync_assets.flows.landing import land_payloads_and_events
from sync_assets.flows.metering import api_numbers, record_numbers, stats_delta
from sync_assets.flows.orders import FLOW as ORDERS_FLOW
from sync_assets.state.ledger import Ledger

if TYPE_CHECKING:
    from sync_assets.warehouse.landing_area import LandingArea

log = logging.getLogger(__name__)

FLOW = "fulfillments"
ATTEMPTS_FLOW = "fulfillment_attempts"  # existing Shopify fulfillment ids recorded right before a create
TRACKING_FLOW = "fulfillment_tracking"  # NetSuite fulfillment id → tracking version Shopify has (payload hash)
_IDENTITY = "create-once"  # ledger payload hash: a NetSuite fulfillment is sent once, whatever changes later
_ORDER_PREFIX = "shopify-order-"
SYNCED, SKIPPED, DEAD, FAILED = "synced", "skipped", "dead_lettered", "failed"


@dataclass(frozen=True)
class FulfillmentsFlowConfig:
    initial_lookback_seconds: float = 86_400.0  # first run ever: this far back...
    start_at: datetime | None = None  # ...unless the policy's account.start_date says where to begin
    netsuite_timezone: str = "UTC"  # the integration user's time zone (netsuite-rest.md §8 #3)
    notify_customer: bool = True
    carrier_map: Mapping[str, str] = field(default_factory=dict)
    max_attempts: int = 10
    lease_seconds: float = 300.0


@dataclass(frozen=True)
class NetSuiteFulfillment:
    id: str
    tranid: str
    modified: str  # naive NetSuite time, 'YYYY-MM-DD HH24:MI:SS'
    sales_order_id: str
    order_gid: str
    tracking: tuple[str, ...] = ()  # its tracking numbers in NetSuite's order, read with it
    tracking_only: bool = False  # already in Shopify: only its changed tracking is to send


@dataclass
class FulfillmentOutcome:
    source_id: str
    status: str
    target_id: str | None = None
    reason: str | None = None
    adopted: bool = False  # an existing Shopify fulfillment was recognised as this one
    tracking_sent: bool = False  # fulfillmentTrackingInfoUpdate carried a new tracking value
    settled: bool = False  # skipped with nothing left to do (not "someone else is on it")
    lag_seconds: float | None = None


@dataclass
class FulfillmentsRunResult:
    outcomes: dict[str, FulfillmentOutcome] = field(default_factory=dict)
    payloads: list[dict] = field(default_factory=list)
    watermark_after: Watermark | None = None
    shopify_stats: dict[str, float] = field(default_factory=dict)
    netsuite_stats: dict[str, float] = field(default_factory=dict)
    landed_rows: int = 0

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes.values() if o.status == status)

    def numbers(self) -> dict[str, int | float]:
        lags = [o.lag_seconds for o in self.outcomes.values() if o.lag_seconds is not None]
        return {
            **record_numbers(synced=self.count(SYNCED), skipped=self.count(SKIPPED), dead_lettered=self.count(DEAD),
                             failed=self.count(FAILED), lags=lags),
            "adopted": sum(1 for o in self.outcomes.values() if o.adopted),
            "tracking_updates": sum(1 for o in self.outcomes.values() if o.tracking_sent),
            **api_numbers(self.shopify_stats, self.netsuite_stats, examined=len(self.outcomes), synced=self.count(SYNCED)),
        }


# ------------------------------------------------------------------------------------------- probe


def find_pending(netsuite, ledger: Ledger, policy: EntityPolicy, *, now: datetime | None = None,
                 config: FulfillmentsFlowConfig = FulfillmentsFlowConfig()) -> list[NetSuiteFulfillment]:
    """Shipped NetSuite fulfillments of orders we synced, not yet done (one SuiteQL query + ledger reads)."""
    now = now or datetime.now(timezone.utc)
    mark = ledger.get_watermark(FLOW)
    since = (first_start(now, config.start_at, config.initial_lookback_seconds) if mark is None
             else mark.updated_at - timedelta(seconds=policy.overlap_seconds))
    rows = netsuite.suiteql(Q.SHIPPED_FULFILLMENTS.sql, {"since": to_user_time(since, config.netsuite_timezone),
                                                         "prefix": _ORDER_PREFIX + "%"})
    heads: dict[str, dict] = {}
    tracking: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        legacy = str(row.get("orderexternalid", ""))[len(_ORDER_PREFIX):]
        if not legacy.isdigit():
            continue
        heads.setdefault(str(row["id"]), {**row, "order_gid": f"gid://shopify/Order/{legacy}"})
        if row.get("trackingnumber"):
            tracking[str(row["id"])].append(row["trackingnumber"])
    found = {
        fid: NetSuiteFulfillment(fid, row.get("tranid", ""), row.get("modified", ""), str(row["salesorder"]),
                                 row["order_gid"], tuple(tracking.get(fid, ())))
        for fid, row in heads.items()
    }
    pending, sent = [], []
    for f in found.values():
        synced = ledger.get_entry(ORDERS_FLOW, f.order_gid)
        if synced is None or synced.status != "done" or synced.target_id != f.sales_order_id:
            continue  # not an order this sync put into NetSuite
        entry = ledger.get_entry(FLOW, f.id)
        if entry is not None and entry.status == "done" and entry.payload_hash == _IDENTITY:
            sent.append(f)
        elif not ledger.settled(FLOW, f.id, _IDENTITY):
            pending.append(f)
    ctx = FulfillmentContext({}, config.carrier_map, config.notify_customer)
    for f in sent:
        version = tracking_version(tracking_info(_tracking_record(f.tracking), ctx))
        if not ledger.settled(TRACKING_FLOW, f.id, version):
            pending.append(replace(f, tracking_only=True))
    return sorted(pending, key=lambda f: int(f.id))


# --------------------------------------------------------------------------------------------- run


def run_fulfillments_flow(
    shopify, netsuite, ledger: Ledger, policy: EntityPolicy, *, landing: LandingArea | None = None,
    run_id: str = "local", now: datetime | None = None, config: FulfillmentsFlowConfig = FulfillmentsFlowConfig(),
) -> FulfillmentsRunResult:
    result = FulfillmentsRunResult()
    shopify_before, netsuite_before = shopify.stats.snapshot(), netsuite.stats.snapshot()
    pending = find_pending(netsuite, ledger, policy, now=now, config=config)
    if pending:
        records = read_fulfillments(netsuite, pending)
        result.payloads = [{"key": f.id, "updated_at": _utc(f.modified, config).isoformat(), "payload": records[f.id]}
                           for f in pending]
        ctx = FulfillmentContext(records["_item_skus"], config.carrier_map, config.notify_customer)
        creates = [f for f in pending if not f.tracking_only]
        updates = {f.id: tracking_version(tracking_info(records[f.id], ctx)) for f in pending if f.tracking_only}
        claims = {c.source_id for c in ledger.claim(FLOW, {f.id: _IDENTITY for f in creates},
                                                     lease_seconds=config.lease_seconds)}
        claims |= {c.source_id for c in ledger.claim(TRACKING_FLOW, updates, lease_seconds=config.lease_seconds)}
        for f in pending:
            if f.id not in claims:
                result.outcomes[f.id] = FulfillmentOutcome(f.id, SKIPPED, reason="claimed by another run")
            elif f.tracking_only:
                result.outcomes[f.id] = _sync_tracking(shopify, ledger, f, records[f.id], ctx, config)
            else:
                result.outcomes[f.id] = _sync_one(shopify, ledger, f, records[f.id], ctx, config)
        if landing is not None:  # durable and queued before the watermark moves past it
            events = [{"flow": FLOW, "source_id": o.source_id, "target_id": o.target_id, "status": o.status,
                       "reason": o.reason} for o in result.outcomes.values()]
            result.landed_rows = sum(land_payloads_and_events(landing, "raw.netsuite_fulfillments", "fulfillment_id",
                                                              result.payloads, events, run_id))
        _advance(ledger, pending, result, config)
    result.shopify_stats = stats_delta(shopify.stats.snapshot(), shopify_before)
    result.netsuite_stats = stats_delta(netsuite.stats.snapshot(), netsuite_before)
    return result


def read_fulfillments(netsuite, pending: list[NetSuiteFulfillment]) -> dict:
    """NetSuite fulfillment id → a record shaped like the REST ``itemFulfillment`` (what map_fulfillment reads),
    plus ``"_item_skus"``: item id → SKU for every line."""
    ids = [int(f.id) for f in pending]
    lines: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for batch in reference.chunks(ids):
        for row in netsuite.suiteql(Q.FULFILLMENT_LINES.sql, {"ids": batch}):
            quantity = float(row.get("quantity") or 0)
            if quantity < 0:  # shipped lines are negative; positive ones are internal bin moves
                lines[str(row["transaction"])][str(row["item"])] += int(round(-quantity))
    skus = reference.skus_by_item_id(netsuite, {item for per in lines.values() for item in per})
    records: dict = {"_item_skus": skus}
    for f in pending:
        records[f.id] = {
            "id": f.id, "tranid": f.tranid, "createdfrom": f.sales_order_id, "status": "C",
            "shopifyorder": f.order_gid, "trackingnumbers": list(f.tracking),
            "item": {"items": [{"item": {"id": item}, "quantity": qty} for item, qty in lines.get(f.id, {}).items()]},
            **_tracking_record(f.tracking),
        }
    return records


def _tracking_record(numbers: Sequence[str]) -> dict:
    """The ``package`` sublist the domain's tracking functions read; the probe and the run both build the
    record through here so they hash the same tracking value."""
    return {"package": {"items": [{"packageTrackingNumber": n} for n in numbers]}}


def _sync_one(shopify, ledger: Ledger, f: NetSuiteFulfillment, record: dict, ctx: FulfillmentContext,
              config: FulfillmentsFlowConfig) -> FulfillmentOutcome:
    outcome = FulfillmentOutcome(f.id, FAILED)
    numbers = set(tracking_numbers(record))
    try:
        existing = order_fulfillments(shopify, f.order_gid)
        match = _already_there(ledger, f.id, existing, numbers)
        if match is not None:
            return _adopted(shopify, ledger, f, record, ctx, outcome, match, existing, config)
        try:
            draft = map_fulfillment(record, fulfillment_orders(shopify, f.order_gid), ctx)
        except MappingError as exc:
            ledger.dead_letter(FLOW, f.id, f"{exc.reason} (NetSuite {f.tranid}, {f.order_gid})", record, exc.field_path)
            outcome.status, outcome.reason = DEAD, exc.reason
            return outcome
        # Durable note of what existed before this create: a run that dies after Shopify committed can
        # then recognise the new fulfillment even without tracking numbers.
        ledger.mark_done(ATTEMPTS_FLOW, f.id, json.dumps(sorted(e["id"] for e in existing)), draft.payload_hash)
        try:
            created = create_fulfillment(
                shopify, draft.input["lineItemsByFulfillmentOrder"], tracking=_tracking_input(draft.input),
                notify_customer=bool(draft.input.get("notifyCustomer")),
            )  # fmt: skip
        except ShopifyTransientError as exc:
            if not exc.maybe_applied:
                raise
            existing = order_fulfillments(shopify, f.order_gid)
            match = _already_there(ledger, f.id, existing, numbers)
            if match is None:
                raise  # not visible (yet): the next run checks again before any create
            return _adopted(shopify, ledger, f, record, ctx, outcome, match, existing, config)
        # Created with this tracking: that value is what Shopify has.
        ledger.mark_done(TRACKING_FLOW, f.id, created["id"], tracking_version(draft.input.get("trackingInfo")))
        return _done(ledger, f, outcome, created["id"], adopted=False, config=config)
    except RequestRejected as exc:
        ledger.dead_letter(FLOW, f.id, f"Shopify refused the fulfillment: {exc}", record, None)
        outcome.status, outcome.reason = DEAD, str(exc)
    except (TransientError, ThrottledError) as exc:
        entry = ledger.mark_failed(FLOW, f.id, str(exc), max_attempts=config.max_attempts, payload=record)
        outcome.status, outcome.reason = (DEAD if entry.status == "dead" else FAILED), str(exc)
    return outcome


def _adopted(shopify, ledger: Ledger, f: NetSuiteFulfillment, record: dict, ctx: FulfillmentContext,
             outcome: FulfillmentOutcome, target: str, existing: list[dict],
             config: FulfillmentsFlowConfig) -> FulfillmentOutcome:
    """Record an adopted Shopify fulfillment, then bring its tracking up to NetSuite's if it differs (the
    adopted one may predate a tracking change, or have been created without tracking)."""
    _done(ledger, f, outcome, target, adopted=True, config=config)
    shown = next((_shown_numbers(e) for e in existing if e["id"] == target), None)
    tracked = _sync_tracking(shopify, ledger, f, record, ctx, config, target=target, shown=shown)
    outcome.tracking_sent = tracked.tracking_sent
    if tracked.status in (DEAD, FAILED):  # the fulfillment is in Shopify; only its tracking is outstanding
        outcome.reason = f"adopted; tracking: {tracked.reason}"
    return outcome


def _sync_tracking(shopify, ledger: Ledger, f: NetSuiteFulfillment, record: dict, ctx: FulfillmentContext,
                   config: FulfillmentsFlowConfig, *, target: str | None = None,
                   shown: set[str] | None = None) -> FulfillmentOutcome:
    """Send this fulfillment's NetSuite tracking to its Shopify fulfillment unless Shopify has it already.

    ``shown``: the numbers Shopify is known to show, when the caller just read them. Without it and without
    an earlier recorded version (a fulfillment synced before tracking was versioned) the fulfillment is
    read first, so a value Shopify already has is recorded rather than re-sent (and re-mailed)."""
    desired = tracking_info(record, ctx)
    version = tracking_version(desired)
    if target is None:
        entry = ledger.get_entry(FLOW, f.id)
        target = entry.target_id if entry is not None else None
    outcome = FulfillmentOutcome(f.id, FAILED, target_id=target)
    if not target:  # find_pending only offers fulfillments done with a target; a hand-edited ledger may not
        outcome.status = DEAD
        outcome.reason = f"NetSuite fulfillment {f.tranid} has no Shopify fulfillment in the ledger to update"
        ledger.dead_letter(TRACKING_FLOW, f.id, outcome.reason, record, None)
        return outcome
    try:
        recorded = ledger.get_entry(TRACKING_FLOW, f.id)  # our claim made the row; a version means it was sent
        if shown is None and (recorded is None or recorded.payload_hash is None):
            shown = _shopify_numbers(shopify, f.order_gid, target)
        if desired is None or (shown is not None and shown == set(desired["numbers"])):
            # Nothing to send: Shopify shows this already, or NetSuite has no number (Shopify cannot clear one).
            ledger.mark_done(TRACKING_FLOW, f.id, target, version)
            outcome.status, outcome.settled = SKIPPED, True
            outcome.reason = "Shopify already shows this tracking" if desired else "no tracking number in NetSuite"
            return outcome
        try:
            update_tracking(shopify, target, _tracking_input({"trackingInfo": desired}),
                            notify_customer=ctx.notify_customer)
        except ShopifyTransientError as exc:
            if not exc.maybe_applied or _shopify_numbers(shopify, f.order_gid, target) != set(desired["numbers"]):
                raise  # not applied (or not visible): the next run sends it again
        ledger.mark_done(TRACKING_FLOW, f.id, target, version)
        outcome.status, outcome.tracking_sent = SYNCED, True
        if f.modified:
            outcome.lag_seconds = max(0.0, time.time() - _utc(f.modified, config).timestamp())
    except RequestRejected as exc:
        reason = (f"Shopify refused the tracking update of {target} (NetSuite {f.tranid}, tracking "
                  f"{', '.join((desired or {}).get('numbers', []))}): {exc}")
        ledger.dead_letter(TRACKING_FLOW, f.id, reason, record, None)
        outcome.status, outcome.reason = DEAD, reason
    except (TransientError, ThrottledError) as exc:
        entry = ledger.mark_failed(TRACKING_FLOW, f.id, str(exc), max_attempts=config.max_attempts, payload=record)
        outcome.status, outcome.reason = (DEAD if entry.status == "dead" else FAILED), str(exc)
    return outcome


def _shown_numbers(fulfillment: dict) -> set[str]:
    return {t["number"] for t in fulfillment.get("trackingInfo") or [] if t.get("number")}


def _shopify_numbers(shopify, order_gid: str, target: str) -> set[str] | None:
    """Tracking numbers Shopify shows on fulfillment ``target``; None when the order does not list it."""
    found = next((e for e in order_fulfillments(shopify, order_gid) if e["id"] == target), None)
    return None if found is None else _shown_numbers(found)


def order_fulfillments(shopify, order_gid: str) -> list[dict]:
    data = shopify.execute(docs.ORDER_FULFILLMENTS, {"id": order_gid, "first": 50})
    return list(((data.get("order") or {}).get("fulfillments")) or [])


def _already_there(ledger: Ledger, fulfillment_id: str, existing: list[dict], numbers: set[str]) -> str | None:
    """The Shopify fulfillment that is this NetSuite fulfillment, if one landed already."""
    for candidate in existing:
        if numbers & {t.get("number") for t in candidate.get("trackingInfo") or []}:
            return candidate["id"]
    attempt = ledger.get_entry(ATTEMPTS_FLOW, fulfillment_id)
    if attempt is None or not attempt.target_id:
        return None
    before = set(json.loads(attempt.target_id))
    taken = {e.target_id for e in ledger.entries(FLOW, "done")}
    new = [e["id"] for e in existing if e["id"] not in before and e["id"] not in taken]
    return new[0] if len(new) == 1 else None


def _done(ledger: Ledger, f: NetSuiteFulfillment, outcome: FulfillmentOutcome, target: str, *, adopted: bool,
          config: FulfillmentsFlowConfig) -> FulfillmentOutcome:
    ledger.mark_done(FLOW, f.id, target, _IDENTITY)
    outcome.status, outcome.target_id, outcome.adopted = SYNCED, target, adopted
    if f.modified:
        outcome.lag_seconds = max(0.0, time.time() - _utc(f.modified, config).timestamp())
    return outcome


def _tracking_input(payload: Mapping) -> dict | None:
    """map_fulfillment gives ``numbers``; one number goes as ``number`` (every API version and the sandbox
    accept it), several as ``numbers``."""
    info = payload.get("trackingInfo")
    if not info:
        return None
    out = {k: v for k, v in info.items() if k != "numbers"}
    numbers = list(info.get("numbers") or [])
    if len(numbers) == 1:
        out["number"] = numbers[0]
    elif numbers:
        out["numbers"] = numbers
    return out


def _utc(text: str, config: FulfillmentsFlowConfig) -> datetime:
    return from_user_time(text, config.netsuite_timezone)


def _advance(ledger: Ledger, pending: Iterable[NetSuiteFulfillment], result: FulfillmentsRunResult,
             config: FulfillmentsFlowConfig) -> None:
    pending = [f for f in pending if f.modified]
    if not pending:
        return
    stuck = [f.modified for f in pending
             if result.outcomes[f.id].status not in (SYNCED, DEAD) and not result.outcomes[f.id].settled]
    moment = (_utc(min(stuck), config) - timedelta(seconds=1)) if stuck else _utc(max(f.modified for f in pending), config)
    ledger.advance_watermark(FLOW, Watermark(moment))
    result.watermark_after = ledger.get_watermark(FLOW)


__all__ = ["FLOW", "TRACKING_FLOW", "FulfillmentsFlowConfig", "FulfillmentsRunResult", "find_pending",
           "run_fulfillments_flow"]
