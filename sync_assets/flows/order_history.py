"""The order history backfill: storefront orders placed in a time range, read with one bulk operation and
landed for ``raw.shopify_orders`` in chunks, in constant memory. History for analysts: nothing goes to
NetSuite and the orders flow's ledger rows and watermark are left alone.

* **Constant memory.** The bulk result is a JSONL file read as a stream (:mod:`connectors.shopify.bulk`);
  orders are re-nested one at a time and landed every ``chunk_rows`` orders as their own run-scoped Parquet
  file, queued for the merge at once. A million orders cost what ``chunk_rows`` of them cost.
* **Safe to re-run.** The merge appends only content hashes raw does not hold (``warehouse/merge.py``): a
  re-run of a month adds no row (staging takes the latest version per order id either way).
* **Beside the real-time lane.** The client is a batch-lane one: it queues for the shop's one bulk slot
  (our file lock, then resubmitting) and paces its few calls with the batch reserve of the shared bucket;
  the real-time orders flow never waits on the slot (it pages).
* **Bad rows.** An order the warehouse cannot place (no Order id, a ``createdAt`` or ``updatedAt`` that is
  not a timestamp, placed outside the range asked for) is dead-lettered under flow ``order_history`` with
  what is wrong and where; the rest lands. Re-run the month after fixing the cause.
* **The shop's calendar.** Months are the shop's (``shop.ianaTimezone``); the caller says which zone it
  partitions in and the run refuses to land under a different one, naming the setting.

Plain Python over the client, the ledger and the landing area: no Dagster here.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sync_assets.connectors.shopify.bulk import iter_bulk_orders_created_between
from sync_assets.connectors.shopify.orders import shop_timezone
from sync_assets.domain.windows import parse_ts
from sync_assets.flows.landing import payload_frame
from sync_assets.flows.metering import api_numbers, stats_delta

if TYPE_CHECKING:
    from sync_assets.connectors.shopify import ShopifyClient
    from sync_assets.state.ledger import Ledger
    from sync_assets.warehouse.landing_area import LandingArea

FLOW = "order_history"
RAW_TABLE = "raw.shopify_orders"


class ShopTimezoneMismatch(ValueError):
    """The months asked for are not the shop's months."""


@dataclass(frozen=True)
class BackfillConfig:
    chunk_rows: int = 10_000  # orders per landed Parquet file: the memory bound (~50 MB of payload text)
    bulk_poll_interval: float = 1.0
    bulk_timeout_seconds: float = 6 * 3600.0  # a year of a busy shop is a long export; the slot queue counts too
    # Where the zone setting lives, named in the mismatch error.
    timezone_setting: str = "sync_policy.yaml: account.shop_timezone"


@dataclass
class BackfillResult:
    start: datetime
    end: datetime
    orders_landed: int = 0
    dead_lettered: int = 0
    files: int = 0
    by_month: Counter = field(default_factory=Counter)  # "YYYY-MM" in the shop's zone → orders landed
    errors: list[str] = field(default_factory=list)  # first dead letters' reasons, for the run's log
    shopify_stats: dict[str, float] = field(default_factory=dict)

    def numbers(self) -> dict[str, int | float]:
        return {
            "orders_landed": self.orders_landed,
            "records_dead_lettered": self.dead_lettered,
            "landed_files": self.files,
            **api_numbers(self.shopify_stats, {}, examined=self.orders_landed + self.dead_lettered,
                          synced=self.orders_landed),
        }


def run_order_history_backfill(
    shopify: ShopifyClient,
    ledger: Ledger,
    landing: LandingArea,
    *,
    start: datetime,
    end: datetime,
    timezone: str,
    run_id: str,
    config: BackfillConfig = BackfillConfig(),
) -> BackfillResult:
    """Land every order placed in ``[start, end)`` (aware datetimes; months of ``timezone``) for raw."""
    shop_zone = shop_timezone(shopify)
    if shop_zone != timezone:
        raise ShopTimezoneMismatch(
            f"{config.timezone_setting} is {timezone!r} but the shop's time zone (shop.ianaTimezone) is "
            f"{shop_zone!r}: set it to {shop_zone!r} so the backfill's months are the shop's"
        )
    zone = ZoneInfo(timezone)
    result = BackfillResult(start, end)
    before = dict(shopify.stats.snapshot())
    chunk: list[dict[str, Any]] = []

    def flush() -> None:
        if not chunk:
            return
        landed = landing.write(RAW_TABLE, payload_frame("order_id", chunk), run_id)
        if landed is not None:
            landing.queue([landed])  # durable and queued now: the merge may start on it while we read on
            result.files += 1
        chunk.clear()

    orders = iter_bulk_orders_created_between(shopify, start, end, poll_interval=config.bulk_poll_interval,
                                              timeout_s=config.bulk_timeout_seconds)
    for position, order in enumerate(orders, start=1):
        problem, placed = _check(order, start, end)
        if problem:
            reason = f"order history: order {order.get('id', '?')} ({order.get('name', 'no name')}), " \
                     f"{position}th of the bulk result for {_z(start)}..{_z(end)}: {problem}"
            ledger.dead_letter(FLOW, str(order.get("id") or f"bulk-line-{position}"), reason, order,
                               field_path=problem.split(" ", 1)[0])
            result.dead_lettered += 1
            if len(result.errors) < 20:
                result.errors.append(reason)
            continue
        # As text at once: a chunk of strings is a tenth of the memory of the parsed orders. Serialised as
        # the landing serialises a dict, but not scrubbed here: the landing scrubs text in SQL, only where a
        # secret-like key appears, where the Python walk of every value cost four fifths of the time.
        chunk.append({"key": order["id"], "updated_at": order["updatedAt"],
                      "payload": json.dumps(order, ensure_ascii=False, default=str)})
        result.orders_landed += 1
        result.by_month[placed.astimezone(zone).strftime("%Y-%m")] += 1
        if len(chunk) >= config.chunk_rows:
            flush()
    flush()
    result.shopify_stats = stats_delta(shopify.stats.snapshot(), before)
    return result


def _check(order: dict[str, Any], start: datetime, end: datetime) -> tuple[str | None, datetime | None]:
    """What makes the order unusable for raw (a field name first), or None and when it was placed."""
    if not str(order.get("id") or "").startswith("gid://shopify/Order/"):
        return f"id {order.get('id')!r} is not an Order id", None
    for name in ("createdAt", "updatedAt"):
        try:
            stamp = parse_ts(order.get(name))
        except (TypeError, ValueError):
            return f"{name} {order.get(name)!r} is not a timestamp", None
        if name == "createdAt":
            placed = stamp
    if not start <= placed < end:
        return f"createdAt {order['createdAt']} is outside the range asked for", None
    return None, placed


def _z(moment: datetime) -> str:
    return moment.isoformat()
