"""Finance, one business day at a time: what NetSuite booked, what Shopify Payments paid out, and the tie-out.

For a day (a calendar day in ``account.order_date_timezone``) a run lands, through the landing area:

* ``raw.netsuite_transactions``: the day's sales orders, customer deposits and customer refunds (SuiteQL,
  keyset-paged), each with its line totals (tax, discount, shipping, items; the sales order a deposit
  pays; the location);
* ``raw.netsuite_refund_deposits``: which deposits each of those refunds paid out of;
* ``raw.shopify_orders``: the storefront orders created that day, and those updated from the day's start
  until :data:`UPDATED_LOOKAHEAD` after its end (or now), which is where the day's payments and refunds of
  older orders are (a refund updates its order); the same Order shape the orders flow lands, so a version
  both flows saw is stored once;
* ``raw.shopify_balance_transactions`` and ``raw.shopify_payouts``: the Shopify Payments balance
  transactions processed that day and the payouts they belong to.

It then compares the day's storefront orders and transactions with the NetSuite transactions it read
(:func:`sync_assets.domain.finance.tie_out`): the deposits and refunds of a day are the storefront
transactions *processed* that shop day, of any order — the definition ``analytics.finance_tieout`` uses.
An older order refunded on the day and updated again more than :data:`UPDATED_LOOKAHEAD` after it is
not read by a late re-run of that day (its refund is then in the mart's side only, the check does not
fail on it). Everything it lands is keyed and content-hashed, so re-running
a day (a backfill, a retry) adds only what changed: a payout that went from SCHEDULED to PAID, a refund
booked since. The day is the whole unit of work, so there is no watermark: files are queued as landed.

Given the ledger, it also names the orders **in flight** among those with a difference: their latest
version is not yet reflected in NetSuite (the orders flow's version record) and they have no open dead
letter. :func:`sync_assets.domain.finance.tieout_verdict` lets those differences heal for a grace period
instead of failing the day while the real-time lane is writing them.

Plain Python over the two clients and a landing area: no Dagster here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from sync_assets.connectors.netsuite import queries as q
from sync_assets.domain.finance import TieOut, day_window, tie_out
from sync_assets.domain.windows import parse_ts
from sync_assets.flows.catalog import suiteql_frame
from sync_assets.flows.landing import landed_rows, payload_frame
from sync_assets.flows.metering import api_numbers, stats_delta
from sync_assets.flows.orders import FLOW as ORDERS_FLOW
from sync_assets.flows.orders import version_handled
from sync_assets.flows.reference import chunks

if TYPE_CHECKING:
    from sync_assets.state.ledger import Ledger
    from sync_assets.warehouse.landing_area import LandingArea

TRANSACTIONS = "raw.netsuite_transactions"
REFUND_DEPOSITS = "raw.netsuite_refund_deposits"
ORDERS = "raw.shopify_orders"
BALANCE_TRANSACTIONS = "raw.shopify_balance_transactions"
PAYOUTS = "raw.shopify_payouts"
ID_CHUNK = 1000  # NetSuite's IN-list limit
# How long after a day's end an order updated that day is still looked for: covers the scheduled run (the
# next night) whatever else happened to the order meanwhile; bounds what a backfill of an old day reads.
UPDATED_LOOKAHEAD = timedelta(days=2)


@dataclass
class FinanceRunResult:
    day: date
    landed: dict[str, int] = field(default_factory=dict)
    examined: int = 0  # records read from both systems
    tieout: TieOut | None = None
    unsynced: set[str] = field(default_factory=set)  # orders with a difference the real-time lane has not written yet
    checked_at: datetime | None = None  # when the storefront was read: the moment the tie-out is judged at
    shopify_stats: dict[str, float] = field(default_factory=dict)
    netsuite_stats: dict[str, float] = field(default_factory=dict)

    def count(self, table: str) -> int:
        return self.landed.get(table, 0)

    def numbers(self) -> dict[str, int | float]:
        short = {t: t.split(".", 1)[1] for t in (TRANSACTIONS, REFUND_DEPOSITS, ORDERS, BALANCE_TRANSACTIONS, PAYOUTS)}
        counts = {f"{name}_landed": self.count(t) for t, name in short.items()}
        differences = len(self.tieout.differences) if self.tieout else 0
        landed = sum(self.landed.values())
        return {**counts, "tieout_differences": differences,
                **api_numbers(self.shopify_stats, self.netsuite_stats, examined=self.examined, synced=landed)}


def netsuite_transactions(netsuite, day: date, page_size: int = 1000) -> tuple[list[dict], list[dict]]:
    """The day's transactions with their line totals merged in, and the refunds' deposit links."""
    headers = list(netsuite.suiteql_keyset(q.FINANCE_TRANSACTIONS.sql, key="t.id", params={"day": day},
                                           page_size=page_size))
    totals: dict[str, dict] = {}
    links: list[dict] = []
    for ids in chunks([h["id"] for h in headers], ID_CHUNK):
        for row in netsuite.suiteql(q.FINANCE_LINE_TOTALS.sql, {"ids": [int(i) for i in ids]}):
            totals[str(row["transaction"])] = row
    refunds = [int(h["id"]) for h in headers if h.get("type") == "CustRfnd"]
    for ids in chunks(refunds, ID_CHUNK):
        links += list(netsuite.suiteql(q.FINANCE_REFUND_DEPOSITS.sql, {"ids": ids}))
    rows = []
    for h in headers:
        line = totals.get(str(h["id"]), {})
        rows.append({**h, **{k: v for k, v in line.items() if k != "transaction"}})
    return rows, links


def unsynced_orders(ledger: Ledger, orders: list[dict], order_ids: set[str]) -> set[str]:
    """Of ``order_ids``, those whose latest version (``orders``) the orders flow has not reflected in
    NetSuite and that have no open dead letter: in flight."""
    latest = {str(o["id"]): o for o in orders if str(o["id"]) in order_ids}
    return {gid for gid, order in latest.items()
            if version_handled(ledger, gid, parse_ts(order["updatedAt"]), margin=timedelta(0)) is None
            and not ledger.dead_letters(ORDERS_FLOW, source_id=gid)}


def _frames(rows: list[dict], links: list[dict], orders: list[dict], balance: list[dict], payouts: list[dict],
            netsuite_timezone: str) -> dict[str, Any]:
    frames = {
        TRANSACTIONS: suiteql_frame(rows, {"transaction_id": "id"}, tz_name=netsuite_timezone),
        ORDERS: payload_frame("order_id", ({"key": o["id"], "updated_at": o.get("updatedAt"), "payload": o}
                                           for o in orders)),
        BALANCE_TRANSACTIONS: payload_frame("balance_transaction_id", (
            {"key": b["id"], "updated_at": b.get("transactionDate"), "payload": b} for b in balance)),
        PAYOUTS: payload_frame("payout_id", ({"key": p["id"], "updated_at": p.get("issuedAt"), "payload": p}
                                             for p in payouts)),
    }
    # A link row has no stamp of its own: it is as recent as the refund it belongs to.
    stamps = {str(r["id"]): r.get("lastmodifieddate") for r in rows}
    links = [{**link, "lastmodifieddate": stamps.get(str(link["refund"]))} for link in links]
    frames[REFUND_DEPOSITS] = suiteql_frame(links, {"refund_id": "refund", "deposit_id": "deposit"},
                                            tz_name=netsuite_timezone)
    return frames


def run_finance_flow(shopify, netsuite, landing: LandingArea, day: date, *, shop_timezone: str = "UTC",
                     netsuite_timezone: str = "UTC", run_id: str = "local", page_size: int = 1000,
                     ledger: Ledger | None = None) -> FinanceRunResult:
    """Land ``day`` (a calendar day in ``shop_timezone``) and tie it out; see the module docstring.
    ``netsuite_timezone`` is the integration user's zone, in which SuiteQL renders its timestamps. Without
    a ``ledger`` no order counts as in flight."""
    result = FinanceRunResult(day, checked_at=datetime.now(timezone.utc))
    s_before, n_before = shopify.stats.snapshot(), netsuite.stats.snapshot()
    start, end = day_window(day, shop_timezone)
    rows, links = netsuite_transactions(netsuite, day, page_size)
    orders = list(shopify.iter_orders_created_between(start, end))
    created = {o["id"] for o in orders}
    updated_until = min(end + UPDATED_LOOKAHEAD, datetime.now(timezone.utc))
    others = ([o for o in shopify.iter_orders_updated_between(start, updated_until) if o["id"] not in created]
              if updated_until > start else [])  # a day not begun yet has no transactions
    balance = list(shopify.iter_balance_transactions(start, end))
    payout_ids = {b["associatedPayout"]["id"] for b in balance if (b.get("associatedPayout") or {}).get("id")}
    payouts = shopify.get_payouts(payout_ids) if payout_ids else []
    result.examined = len(rows) + len(links) + len(orders) + len(others) + len(balance) + len(payouts)
    files = landing.land(_frames(rows, links, orders + others, balance, payouts, netsuite_timezone), run_id)
    result.landed = {t: landed_rows(files, t) for t in (TRANSACTIONS, REFUND_DEPOSITS, ORDERS, BALANCE_TRANSACTIONS,
                                                          PAYOUTS)}
    result.tieout = tie_out(day, orders, rows, shop_timezone, others)
    if ledger is not None:
        result.unsynced = unsynced_orders(ledger, orders + others, {d.order_id for d in result.tieout.differences})
    result.shopify_stats = stats_delta(shopify.stats.snapshot(), s_before)
    result.netsuite_stats = stats_delta(netsuite.stats.snapshot(), n_before)
    return result


__all__ = ["BALANCE_TRANSACTIONS", "ORDERS", "PAYOUTS", "REFUND_DEPOSITS", "TRANSACTIONS", "FinanceRunResult",
           "netsuite_transactions", "run_finance_flow", "unsynced_orders"]
