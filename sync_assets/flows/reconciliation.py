"""Storefront orders vs NetSuite sales orders: what is missing, duplicated or has a different total.

* **missing**: no sales order carries the order's external id nor its name in ``otherRefNum``.
* **duplicated**: more than one sales order for one storefront order. One external id twice is impossible
  in NetSuite, but another connector (or a person) creating a second sales order under a different
  external id is common; both carry the order name in ``otherRefNum``, which is how we find them.
* **mismatched_total**: the sales order with our external id has a different total (cancelled orders are
  left out: their lines are closed, so NetSuite's total is no longer the sale's).

Missing orders are re-queued for the orders flow: the ledger row is reset (:meth:`Ledger.requeue`) and an
``orders/updated`` event is put in the webhook inbox, which the orders flow (and its sensor's probe) reads
whatever the watermark says. Orders with an open dead letter are reported, not re-queued: an operator owns
them. Orders updated within ``grace_seconds`` are not judged yet (the real-time lane may be writing them).

Plain Python over the clients, the ledger and a landing area: no Dagster here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING

from sync_assets.connectors.netsuite import queries as Q
from sync_assets.connectors.shopify.bulk import iter_bulk_orders_updated_between
from sync_assets.connectors.shopify.orders import iter_orders_updated_between
from sync_assets.domain.errors import MappingError
from sync_assets.domain.ids import order_external_id
from sync_assets.domain.money import money_bag
from sync_assets.domain.windows import parse_ts
from sync_assets.flows.metering import api_numbers, stats_delta
from sync_assets.flows.reference import chunks
from sync_assets.state.ledger import Ledger

if TYPE_CHECKING:
    from sync_assets.warehouse.landing_area import LandingArea

ORDERS_FLOW = "orders"
MISSING, DUPLICATED, MISMATCHED = "missing", "duplicated", "mismatched_total"
TOLERANCE = Decimal("0.01")
REPORT_TABLE = "raw.reconciliation_findings"


@dataclass(frozen=True)
class ReconciliationConfig:
    days: int = 7
    grace_seconds: float = 900.0
    requeue: bool = True
    # Read the window's orders with one bulk operation: a week of a busy store is ~200k orders, which
    # paged would cost ~60 points each (days of a Standard bucket) and starve the real-time lane.
    bulk: bool = True
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


@dataclass
class ReconciliationResult:
    orders_checked: int = 0
    sales_orders_seen: int = 0
    findings: list[Finding] = field(default_factory=list)
    checked_at: datetime | None = None
    shopify_stats: dict[str, float] = field(default_factory=dict)
    netsuite_stats: dict[str, float] = field(default_factory=dict)

    def count(self, kind: str) -> int:
        return sum(1 for f in self.findings if f.kind == kind)

    def numbers(self) -> dict[str, int | float]:
        requeued = sum(1 for f in self.findings if f.requeued)
        return {"orders_checked": self.orders_checked, "sales_orders_seen": self.sales_orders_seen,
                "missing": self.count(MISSING), "duplicated": self.count(DUPLICATED),
                "mismatched_totals": self.count(MISMATCHED), "requeued": requeued,
                # Synced: the orders it put back on the real-time lane's queue.
                **api_numbers(self.shopify_stats, self.netsuite_stats, examined=self.orders_checked, synced=requeued)}


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


def reconcile_orders(shopify, netsuite, ledger: Ledger, *, now: datetime | None = None,
                     config: ReconciliationConfig = ReconciliationConfig(), run_id: str = "local") -> ReconciliationResult:
    now = now or datetime.now(timezone.utc)
    shopify_before, netsuite_before = shopify.stats.snapshot(), netsuite.stats.snapshot()
    result = _reconcile(shopify, netsuite, ledger, now, config, run_id)
    result.shopify_stats = stats_delta(shopify.stats.snapshot(), shopify_before)
    result.netsuite_stats = stats_delta(netsuite.stats.snapshot(), netsuite_before)
    return result


def _reconcile(shopify, netsuite, ledger: Ledger, now: datetime, config: ReconciliationConfig,
               run_id: str) -> ReconciliationResult:
    result = ReconciliationResult(checked_at=now)
    cutoff = now - timedelta(seconds=config.grace_seconds)
    start = now - timedelta(days=config.days)
    read = (iter_bulk_orders_updated_between(shopify, start, now, poll_interval=config.bulk_poll_interval,
                                             timeout_s=config.bulk_timeout_seconds)
            if config.bulk else iter_orders_updated_between(shopify, start, now))  # fmt: skip
    orders = [o for o in read if parse_ts(o["updatedAt"]) < cutoff]
    result.orders_checked = len(orders)
    if not orders:
        return result
    eids = {o["id"]: order_external_id(o["id"]) for o in orders}
    by_id: dict[str, dict] = {}
    for row in _sales_orders(netsuite, Q.SALES_ORDERS_BY_EXTERNAL_ID, eids.values()) + _sales_orders(
            netsuite, Q.SALES_ORDERS_BY_ORDER_NAME, [o["name"] for o in orders if o.get("name")]):
        by_id[str(row["id"])] = row
    result.sales_orders_seen = len(by_id)
    by_eid = {r.get("externalid"): r for r in by_id.values() if r.get("externalid")}
    by_name: dict[str, list[dict]] = {}
    for r in by_id.values():
        if r.get("otherrefnum"):
            by_name.setdefault(r["otherrefnum"], []).append(r)
    for order in orders:
        gid, eid, name = order["id"], eids[order["id"]], order.get("name")
        mine = by_eid.get(eid)
        matches = {str(r["id"]): r for r in by_name.get(name, [])}
        if mine is not None:
            matches[str(mine["id"])] = mine
        total = _total(order)
        if not matches:
            result.findings.append(_missing(ledger, order, eid, total, config, run_id))
        elif len(matches) > 1:
            result.findings.append(Finding(
                DUPLICATED, gid, name, eid, tuple(sorted(matches, key=int)), total,
                detail="sales orders " + ", ".join(f"{r.get('tranid')} (externalId {r.get('externalid') or '-'})"
                                                   for r in matches.values())))  # fmt: skip
        elif mine is not None and not order.get("cancelledAt") and total is not None:
            theirs = Decimal(str(mine.get("foreigntotal") or "0"))
            if abs(theirs - total) > TOLERANCE:
                result.findings.append(Finding(MISMATCHED, gid, name, eid, (str(mine["id"]),), total, theirs,
                                               detail=f"storefront {total}, NetSuite {theirs}"))
    return result


def _missing(ledger: Ledger, order: dict, eid: str, total, config: ReconciliationConfig, run_id: str) -> Finding:
    gid, name = order["id"], order.get("name")
    dead = ledger.dead_letters(ORDERS_FLOW, source_id=gid)
    if dead:
        return Finding(MISSING, gid, name, eid, (), total, detail=f"dead-lettered: {dead[-1].reason}")
    requeued = False
    if config.requeue:
        ledger.requeue(ORDERS_FLOW, gid, "reconciliation: no sales order in NetSuite")
        # The inbox is read by the orders flow whatever its watermark says; the event id makes a second
        # reconciliation of the same run a no-op.
        ledger.inbox_put(f"reconciliation:{run_id}:{gid}", "orders/updated", {"admin_graphql_api_id": gid})
        requeued = True
    return Finding(MISSING, gid, name, eid, (), total, requeued=requeued, detail="no sales order found")


def land_report(landing: LandingArea, result: ReconciliationResult, run_id: str) -> int:
    """Land this run's findings for ``raw.reconciliation_findings`` (one durable file, queued for the merge)."""
    import pandas as pd

    rows = [{"run_id": run_id, "checked_at": result.checked_at, "kind": f.kind, "order_id": f.order_id,
             "order_name": f.order_name, "external_id": f.external_id, "netsuite_ids": ",".join(f.netsuite_ids),
             "storefront_total": f.storefront_total, "netsuite_total": f.netsuite_total, "requeued": f.requeued,
             "detail": f.detail} for f in result.findings]  # fmt: skip
    if not rows:
        return 0
    frame = pd.DataFrame(rows)
    frame["checked_at"] = pd.to_datetime(frame["checked_at"], utc=True)
    return sum(f.rows for f in landing.land({REPORT_TABLE: frame}, run_id))


__all__ = ["DUPLICATED", "MISMATCHED", "MISSING", "Finding", "ReconciliationConfig", "ReconciliationResult",
           "land_report", "reconcile_orders"]
