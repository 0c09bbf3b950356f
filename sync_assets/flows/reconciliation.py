"""One shop-local day of storefront orders vs NetSuite sales orders: what is missing, duplicated or has a
different total — tracked in the ledger as open until a later run of the same day no longer sees it.

A run reconciles one **day partition** in the shop's time zone (``account.order_date_timezone``, the zone the
orders flow writes a sales order's ``tranDate`` in), and it is cheap whatever the day's size:

* the day's storefront orders (``created_at`` in the day) are read with **one bulk operation** — a batch
  user of the app's single bulk slot and of the shared cost budget (:mod:`connectors.shopify.bulk` queues
  it behind our other bulk users and the real-time lane's reserve), a few points instead of ~60 per order;
* the day's sales orders with **one SuiteQL query** (``tranDate`` = the day, keyset-paged), plus a lookup
  by external id / order name only for the orders that query did not explain (a sales order whose date
  was edited is not "missing").

Findings:

* **missing**: no sales order carries the order's external id nor its name in ``otherRefNum``.
* **duplicated**: more than one sales order for one storefront order. One external id twice is impossible
  in NetSuite, but another connector (or a person) creating a second sales order under a different
  external id is common; both carry the order name in ``otherRefNum``, which is how we find them.
* **mismatched_total**: the sales order with our external id has a total more than a cent off (cancelled
  orders are left out: their lines are closed, so NetSuite's total is no longer the sale's).

Missing orders are re-queued for the orders flow: the ledger row is reset (:meth:`Ledger.requeue`) and an
``orders/updated`` event is put in the webhook inbox, which the orders flow (and its sensor's probe) reads
whatever the watermark says. Orders with an open dead letter are reported, not re-queued: an operator owns
them. Orders updated within ``grace_seconds`` are not judged yet (the real-time lane may be writing them),
and their open findings are not healed either.

The day's **verdict** (:func:`verdict`) splits its open findings in two. *Healing*: a missing order this
reconciliation re-queued, opened less than ``healing_seconds`` ago — the real-time lane writes it within
seconds, so it does not fail the day (holding every mart and the analysts' snapshot until the day is
reconciled again, the next night, for an order already on its way would punish the analysts for the
connector doing its job). *Blocking*: everything else open — a duplicate, a total that differs, an order
that is dead-lettered or was not re-queued, and a re-queued order still missing after ``healing_seconds``
(the real-time lane did not heal it: someone must look). The day reconciles when nothing blocks. The rule is
:mod:`sync_assets.domain.healing`'s, which the finance tie-out shares.

Plain Python over the clients, the ledger and a landing area: no Dagster here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING

from sync_assets.connectors.netsuite import queries as Q
from sync_assets.connectors.shopify.bulk import iter_bulk_orders_created_between
from sync_assets.domain.errors import MappingError
from sync_assets.domain.healing import DEFAULT_HEALING_SECONDS, Verdict, split_healing
from sync_assets.domain.ids import order_external_id
from sync_assets.domain.money import money_bag
from sync_assets.domain.shop_days import PARTITION_FORMAT, day_bounds, parse_day
from sync_assets.domain.windows import parse_ts
from sync_assets.flows.metering import api_numbers, stats_delta
from sync_assets.flows.reference import chunks
from sync_assets.state.ledger import Ledger, SeenFinding, TrackedFinding

if TYPE_CHECKING:
    from sync_assets.warehouse.landing_area import LandingArea

ORDERS_FLOW = "orders"
CHECK = "reconciliation"  # the findings' check name in the ledger
MISSING, DUPLICATED, MISMATCHED = "missing", "duplicated", "mismatched_total"
OPEN, HEALED = "open", "healed"
TOLERANCE = Decimal("0.01")
REPORT_TABLE = "raw.reconciliation_findings"


@dataclass(frozen=True)
class ReconciliationConfig:
    timezone: str = "UTC"  # whose calendar the day partitions follow: the policy's account.order_date_timezone
    grace_seconds: float = 900.0
    requeue: bool = True
    healing_seconds: float = DEFAULT_HEALING_SECONDS  # how long a re-queued missing order is healing, not failing
    bulk_poll_interval: float = 1.0
    bulk_timeout_seconds: float = 3600.0


@dataclass(frozen=True)
class Finding:
    kind: str
    order_id: str
    order_name: str | None
    external_id: str
    netsuite_ids: tuple[str, ...] = ()
    storefront_total: Decimal | None = None
    netsuite_total: Decimal | None = None
    requeued: bool = False
    detail: str = ""

    def seen(self) -> SeenFinding:
        return SeenFinding(self.kind, self.order_id, self.detail, {
            "order_name": self.order_name, "external_id": self.external_id, "netsuite_ids": list(self.netsuite_ids),
            "storefront_total": _text(self.storefront_total), "netsuite_total": _text(self.netsuite_total),
            "requeued": self.requeued})  # fmt: skip


@dataclass
class ReconciliationResult:
    partition: str = ""
    orders_checked: int = 0
    orders_not_judged: int = 0  # updated within the grace period: left for the next run
    sales_orders_seen: int = 0
    findings: list[Finding] = field(default_factory=list)  # what this run saw
    tracked: list[TrackedFinding] = field(default_factory=list)  # the partition's findings, open and healed
    healed_now: list[TrackedFinding] = field(default_factory=list)  # healed by this run
    checked_at: datetime | None = None
    shopify_stats: dict[str, float] = field(default_factory=dict)
    netsuite_stats: dict[str, float] = field(default_factory=dict)

    def count(self, kind: str) -> int:
        return sum(1 for f in self.findings if f.kind == kind)

    @property
    def open(self) -> list[TrackedFinding]:
        return [f for f in self.tracked if f.status == OPEN]

    def numbers(self) -> dict[str, int | float]:
        requeued = sum(1 for f in self.findings if f.requeued)
        return {"orders_checked": self.orders_checked, "orders_not_judged": self.orders_not_judged,
                "sales_orders_seen": self.sales_orders_seen, "missing": self.count(MISSING),
                "duplicated": self.count(DUPLICATED), "mismatched_totals": self.count(MISMATCHED),
                "requeued": requeued, "open_findings": len(self.open), "healed_findings": len(self.healed_now),
                # Synced: the orders it put back on the real-time lane's queue.
                **api_numbers(self.shopify_stats, self.netsuite_stats, examined=self.orders_checked, synced=requeued)}


def healing_since(finding: TrackedFinding) -> datetime | None:
    """When a finding started being healed: a missing order re-queued for the real-time lane, since it was
    opened (any other finding cannot heal by itself: None)."""
    data = finding.data or {}
    return parse_ts(finding.opened_at) if finding.kind == MISSING and data.get("requeued") else None


def verdict(result: ReconciliationResult, healing_seconds: float) -> Verdict[TrackedFinding]:
    """The day's verdict as of the run that produced ``result`` (the grace rule of :mod:`sync_assets.domain.healing`)."""
    return split_healing(result.open, result.checked_at or datetime.now(timezone.utc), healing_seconds, healing_since)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _sales_orders(netsuite, query: Q.Query, values: Iterable[str]) -> list[dict]:
    rows = []
    for batch in chunks(sorted(set(values))):
        rows += netsuite.suiteql(query.sql, {"vals": batch})
    return rows


def _total(order: dict) -> Decimal | None:
    try:
        return money_bag(order, "totalPriceSet", "", currency=order.get("currencyCode"))
    except MappingError:
        return None


def reconcile_day(shopify, netsuite, ledger: Ledger, day: date | str, *, now: datetime | None = None,
                  config: ReconciliationConfig = ReconciliationConfig(), run_id: str = "local") -> ReconciliationResult:
    """Reconcile the shop-local ``day`` (a partition key ``YYYY-MM-DD`` or a date) and track its findings."""
    now = now or datetime.now(timezone.utc)
    shopify_before, netsuite_before = shopify.stats.snapshot(), netsuite.stats.snapshot()
    result = _reconcile(shopify, netsuite, ledger, parse_day(day), now, config, run_id)
    result.shopify_stats = stats_delta(shopify.stats.snapshot(), shopify_before)
    result.netsuite_stats = stats_delta(netsuite.stats.snapshot(), netsuite_before)
    return result


def _reconcile(shopify, netsuite, ledger: Ledger, day: date, now: datetime, config: ReconciliationConfig,
               run_id: str) -> ReconciliationResult:
    partition = day.strftime(PARTITION_FORMAT)
    result = ReconciliationResult(partition=partition, checked_at=now)
    start, end = day_bounds(day, config.timezone)
    cutoff = now - timedelta(seconds=config.grace_seconds)
    orders: list[dict] = []
    not_judged: list[str] = []
    if start < now:  # a day still to come has no orders (and heals nothing)
        # Searches compare whole seconds: up to the next one, or an order placed this second is left out.
        for order in iter_bulk_orders_created_between(shopify, start, min(end, now + timedelta(seconds=1)),
                                                      poll_interval=config.bulk_poll_interval,
                                                      timeout_s=config.bulk_timeout_seconds):  # fmt: skip
            (orders if parse_ts(order["updatedAt"]) < cutoff else not_judged).append(order)
    result.orders_checked, result.orders_not_judged = len(orders), len(not_judged)
    if orders:
        result.findings = _compare(netsuite, ledger, day, orders, result, config, run_id)
    open_before = {(f.kind, f.source_id) for f in ledger.findings(CHECK, partition=partition)}
    keep_open = [o["id"] for o in not_judged] if start < now else [source for _, source in open_before]
    result.tracked = ledger.record_findings(CHECK, partition, [f.seen() for f in result.findings],
                                            not_judged=keep_open)  # fmt: skip
    result.healed_now = [f for f in result.tracked if f.status == HEALED and (f.kind, f.source_id) in open_before]
    return result


def _compare(netsuite, ledger: Ledger, day: date, orders: list[dict], result: ReconciliationResult,
             config: ReconciliationConfig, run_id: str) -> list[Finding]:
    eids = {o["id"]: order_external_id(o["id"]) for o in orders}
    by_id: dict[str, dict] = {str(r["id"]): r for r in netsuite.suiteql_keyset(Q.SALES_ORDERS_OF_DAY.sql, "id",
                                                                                {"day": day})}  # fmt: skip
    known_eids = {r.get("externalid") for r in by_id.values()}
    known_names = {r.get("otherrefnum") for r in by_id.values()}
    unexplained = [o for o in orders if eids[o["id"]] not in known_eids and o.get("name") not in known_names]
    if unexplained:  # another day's tranDate (edited, or written in another zone): look them up by key
        for row in _sales_orders(netsuite, Q.SALES_ORDERS_BY_EXTERNAL_ID, [eids[o["id"]] for o in unexplained]) + \
                _sales_orders(netsuite, Q.SALES_ORDERS_BY_ORDER_NAME, [o["name"] for o in unexplained if o.get("name")]):
            by_id[str(row["id"])] = row
    result.sales_orders_seen = len(by_id)
    by_eid = {r.get("externalid"): r for r in by_id.values() if r.get("externalid")}
    by_name: dict[str, list[dict]] = {}
    for r in by_id.values():
        if r.get("otherrefnum"):
            by_name.setdefault(r["otherrefnum"], []).append(r)
    findings: list[Finding] = []
    for order in orders:
        gid, eid, name = order["id"], eids[order["id"]], order.get("name")
        mine = by_eid.get(eid)
        matches = {str(r["id"]): r for r in by_name.get(name, [])}
        if mine is not None:
            matches[str(mine["id"])] = mine
        total = _total(order)
        if not matches:
            findings.append(_missing(ledger, order, eid, total, config, f"{run_id}:{day.isoformat()}"))
        elif len(matches) > 1:
            findings.append(Finding(
                DUPLICATED, gid, name, eid, tuple(sorted(matches, key=int)), total,
                detail="sales orders " + ", ".join(f"{r.get('tranid')} (externalId {r.get('externalid') or '-'})"
                                                   for r in matches.values())))  # fmt: skip
        elif mine is not None and not order.get("cancelledAt") and total is not None:
            theirs = Decimal(str(mine.get("foreigntotal") or "0"))
            if abs(theirs - total) > TOLERANCE:
                findings.append(Finding(MISMATCHED, gid, name, eid, (str(mine["id"]),), total, theirs,
                                        detail=f"storefront {total}, NetSuite {theirs}"))
    return findings


def _missing(ledger: Ledger, order: dict, eid: str, total, config: ReconciliationConfig, event_scope: str) -> Finding:
    gid, name = order["id"], order.get("name")
    dead = ledger.dead_letters(ORDERS_FLOW, source_id=gid)
    if dead:
        return Finding(MISSING, gid, name, eid, (), total, detail=f"dead-lettered: {dead[-1].reason}")
    requeued = False
    if config.requeue:
        ledger.requeue(ORDERS_FLOW, gid, "reconciliation: no sales order in NetSuite")
        # The inbox is read by the orders flow whatever its watermark says; the event id makes a second
        # reconciliation of the same run a no-op.
        ledger.inbox_put(f"reconciliation:{event_scope}:{gid}", "orders/updated", {"admin_graphql_api_id": gid})
        requeued = True
    return Finding(MISSING, gid, name, eid, (), total, requeued=requeued, detail="no sales order found")


def finding_rows(result: ReconciliationResult, run_id: str) -> list[dict]:
    """The partition's findings (open and healed) as rows of ``raw.reconciliation_findings``."""
    rows = []
    for f in result.tracked:
        data = f.data or {}
        rows.append({
            "partition_date": result.partition, "kind": f.kind, "order_id": f.source_id, "status": f.status,
            "order_name": data.get("order_name"), "external_id": data.get("external_id"),
            "netsuite_ids": ",".join(data.get("netsuite_ids") or ()),
            "storefront_total": data.get("storefront_total"), "netsuite_total": data.get("netsuite_total"),
            "requeued": bool(data.get("requeued")), "detail": f.detail, "first_seen_at": f.first_seen_at,
            "opened_at": f.opened_at, "healed_at": f.healed_at, "run_id": run_id, "checked_at": result.checked_at})  # fmt: skip
    return rows


def land_report(landing: LandingArea, result: ReconciliationResult, run_id: str) -> int:
    """Land the partition's findings for ``raw.reconciliation_findings`` (one durable file, queued for the
    merge). Raw keeps a version only when a finding changed (opened, healed, re-opened, new totals)."""
    import pandas as pd

    rows = finding_rows(result, run_id)
    if not rows:
        return 0
    frame = pd.DataFrame(rows)
    for column in ("checked_at", "first_seen_at", "opened_at", "healed_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["partition_date"] = pd.to_datetime(frame["partition_date"]).dt.date
    return sum(f.rows for f in landing.land({REPORT_TABLE: frame}, run_id))


__all__ = ["DUPLICATED", "HEALED", "MISMATCHED", "MISSING", "OPEN", "Finding", "ReconciliationConfig",
           "ReconciliationResult", "Verdict", "finding_rows", "healing_since", "land_report", "reconcile_day", "verdict"]
