"""NetSuite inventory → storefront ``available``, for the SKUs that changed, compare-and-set.

One call of :func:`run_inventory_flow` is one batch:

1. **What changed** (:func:`find_pending`, also the sensor's probe): NetSuite (item, location) rows whose
   ``lastquantityavailablechange`` is at or after ``watermark − overlap``, minus SKU versions the ledger
   already applied (flow ``inventory``, payload hash = the change time), plus storefront orders that are
   not in NetSuite yet and that this flow has not accounted for (flow ``inventory_orders``).
2. **Compute** for those SKUs only: NetSuite ``quantityavailable`` per storefront location (summed over the
   NetSuite locations the policy's ``location_map`` maps to it), minus what open storefront orders not yet
   in NetSuite hold there, minus safety stock, never below 0 (``domain.inventory``).
3. **Write** only what differs from the storefront's current ``available``, with ``inventorySetQuantities``
   and ``changeFromQuantity`` = the value read: a checkout that moved the number in between makes Shopify
   refuse the write (``CHANGE_FROM_QUANTITY_STALE``) instead of our older snapshot overwriting it. On a
   stale refusal the batch's SKUs are re-read and recomputed, with a new idempotency key, a bounded number
   of times. The key is a hash of what the write says (so the client's network retry reuses it).
4. **Bookkeeping**: the ledger records each SKU's applied version only after Shopify confirmed; the
   watermark advances past durable work only. Every computation lands in ``raw.inventory_snapshots`` and
   the NetSuite balances read in ``raw.netsuite_inventory`` (landing area files, queued before the
   watermark moves; the warehouse itself is never opened here).

The location map. The policy maps a storefront location (GID or name) to a NetSuite location id. When it
is empty, storefront and NetSuite locations with the same name (trimmed, case-insensitive) are paired —
what the sandbox and most single-warehouse merchants have; locations without a namesake are left out.

NetSuite's timestamps are naive, in the integration user's time zone (netsuite-rest.md §8 #3): the sync
policy's ``account.netsuite_timezone`` names it (``InventoryFlowConfig.netsuite_timezone``).

Plain Python over the clients, the ledger and a landing area: no Dagster here.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from sync_assets.connectors.errors import ThrottledError, TransientError
from sync_assets.connectors.netsuite import queries as Q
from sync_assets.connectors.netsuite.suiteql import from_user_time, to_user_time
from sync_assets.connectors.shopify import documents as docs
from sync_assets.connectors.shopify.errors import ShopifyStaleQuantity, ShopifyUserError
from sync_assets.connectors.shopify.fulfillment import fulfillment_orders
from sync_assets.connectors.shopify.inventory import MAX_QUANTITIES_PER_CALL, inventory_by_sku
from sync_assets.connectors.shopify.paging import paginate
from sync_assets.domain.ids import short_digest
from sync_assets.domain.inventory import InventoryChange, NetSuiteLevel, compute_available, diff_against_storefront
from sync_assets.domain.money import nodes, payload_hash
from sync_assets.domain.policy import EntityPolicy
from sync_assets.domain.windows import QueryWindow, Watermark, first_start, parse_ts
from sync_assets.flows import reference, storefront_levels
from sync_assets.flows.metering import api_numbers, record_numbers, stats_delta
from sync_assets.flows.orders import FLOW as ORDERS_FLOW
from sync_assets.flows.orders_probe import advance_probe_cursor, probe_cursor_start
from sync_assets.state.ledger import Ledger

if TYPE_CHECKING:
    from sync_assets.warehouse.landing_area import LandingArea

log = logging.getLogger(__name__)

FLOW = "inventory"
ORDERS_ACCOUNTED_FLOW = "inventory_orders"
# SKU → the targets (per storefront location) the storefront last confirmed: payload hash = their digest,
# target id = the inventory item GID. Lets an unchanged target skip the storefront read (``_confirmed``).
APPLIED_FLOW = "inventory_applied"
_ACCOUNTED = "accounted"
_NESTED = 10  # inventory levels per item in the first page (more are drained); keeps a 25-SKU page cheap
_OPEN_FO = frozenset({"OPEN", "IN_PROGRESS", "SCHEDULED", "ON_HOLD"})


@dataclass(frozen=True)
class InventoryFlowConfig:
    """Knobs that are not in the sync policy."""

    initial_lookback_seconds: float = 86_400.0  # first run ever: NetSuite changes this far back...
    start_at: datetime | None = None  # ...unless the policy's account.start_date says where to begin
    unsynced_order_lookback_seconds: float = 3_600.0  # storefront orders this recent may not be in NetSuite yet
    max_unsynced_orders: int = 250
    stale_attempts: int = 3  # re-read + recompute rounds after CHANGE_FROM_QUANTITY_STALE
    # An unchanged target skips the storefront read for this long after the storefront last confirmed it;
    # past it the SKU's next change is read and written as usual (bounds drift from hand edits).
    trust_applied_seconds: float = 900.0
    # The resolved location map is re-read (storefront locations, NetSuite's locations) this often: a new
    # or renamed location is picked up within it; every run re-reading it cost ~10 % of the flow's points.
    location_map_seconds: float = 600.0
    # The orders policy's safety_lag_seconds: how far behind now Shopify's order search is complete, so how
    # far the unsynced-order read may move the orders probe's shared cursor.
    orders_search_lag_seconds: float = 2.0
    netsuite_timezone: str = "UTC"
    reason: str = "correction"


@dataclass(frozen=True)
class ChangedItem:
    item_id: str
    sku: str
    version: str  # "<latest change time, naive NetSuite time>|<hash of its per-location quantities>"


@dataclass(frozen=True)
class Pending:
    """What the probe found: NetSuite changes and storefront orders not applied yet."""

    items: tuple[ChangedItem, ...]
    orders: tuple[str, ...]  # storefront order GIDs not yet in NetSuite and not yet accounted for
    unsynced_orders: tuple[str, ...]  # every storefront order not yet in NetSuite (accounted or not)

    @property
    def empty(self) -> bool:
        return not self.items and not self.orders

    def fingerprint(self) -> str:
        body = json.dumps([[(i.sku, i.version) for i in self.items], list(self.orders)], sort_keys=True)
        return short_digest(body)

    def summary(self) -> str:
        return f"{len(self.items)} NetSuite item change(s), {len(self.orders)} unsynced storefront order(s)"


@dataclass
class InventoryRunResult:
    snapshots: list[dict] = field(default_factory=list)
    balances: list[dict] = field(default_factory=list)  # NetSuite inventoryitemlocations rows read
    # Storefront locations read (with the NetSuite location each maps to), so the warehouse can name them.
    storefront_locations: list[dict] = field(default_factory=list)
    written: int = 0
    unchanged: int = 0
    dead_lettered: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # sku → reason (retried next run)
    stale_retries: int = 0
    negative_refused: int = 0
    levels_known: int = 0  # SKUs whose storefront levels were known (read, written or delivered): not read
    lag_seconds: list[float] = field(default_factory=list)
    watermark_after: Watermark | None = None
    shopify_stats: dict[str, float] = field(default_factory=dict)
    netsuite_stats: dict[str, float] = field(default_factory=dict)
    landed_rows: int = 0

    def numbers(self) -> dict[str, int | float]:
        return {
            **record_numbers(synced=self.written, skipped=self.unchanged, dead_lettered=len(self.dead_lettered),
                             failed=len(self.failed), lags=self.lag_seconds),
            "stale_retries": self.stale_retries,
            "storefront_levels_known": self.levels_known,
            **api_numbers(self.shopify_stats, self.netsuite_stats, synced=self.written,
                          examined=self.written + self.unchanged + len(self.dead_lettered) + len(self.failed)),
        }


# ------------------------------------------------------------------------------------------- probe


def find_pending(shopify, netsuite, ledger: Ledger, policy: EntityPolicy, *, now: datetime | None = None,
                 config: InventoryFlowConfig = InventoryFlowConfig()) -> Pending:
    """Read-only and cheap: one SuiteQL query, one keys-only orders query, local ledger reads."""
    now = now or datetime.now(timezone.utc)
    items = [i for i in _changed_items(netsuite, _since(ledger, policy, now, config), config)
             if not ledger.settled(FLOW, i.sku, i.version)]
    unsynced = _unsynced_order_ids(shopify, ledger, now, config)
    fresh = [gid for gid in unsynced if not ledger.settled(ORDERS_ACCOUNTED_FLOW, gid, _ACCOUNTED)]
    return Pending(tuple(items), tuple(fresh), tuple(unsynced))


def _since(ledger: Ledger, policy: EntityPolicy, now: datetime, config: InventoryFlowConfig) -> datetime:
    mark = ledger.get_watermark(FLOW)
    if mark is None:
        return first_start(now, config.start_at, config.initial_lookback_seconds)
    return mark.updated_at - timedelta(seconds=policy.overlap_seconds)





def _changed_items(netsuite, since: datetime, config: InventoryFlowConfig) -> list[ChangedItem]:
    # (item, location) is unique in this table, so it is a stable order for offset paging; changes in one
    # overlap window are far below the 100k cap. The version is the change time *and* the quantities:
    # NetSuite's timestamps have whole seconds, and two receipts within one second must not look alike.
    rows = netsuite.suiteql(Q.CHANGED_LEVELS.sql, {"since": to_user_time(since, config.netsuite_timezone)})
    per_item: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if row.get("itemid") and row.get("changed_at"):
            per_item[str(row["item"])].append(row)
    items = []
    for item_id, item_rows in per_item.items():
        changed_at = max(r["changed_at"] for r in item_rows)  # fixed-width text: text order is time order
        state = [[r.get("location"), r.get("quantityavailable"), r.get("quantityonhand")] for r in item_rows]
        digest = short_digest(json.dumps(state), 12)
        items.append(ChangedItem(item_id, item_rows[0]["itemid"], f"{changed_at}|{digest}"))
    return sorted(items, key=lambda i: (i.version, i.sku))


def _changed_at(version: str) -> str:
    return version.split("|", 1)[0]


def _unsynced_order_ids(shopify, ledger: Ledger, now: datetime, config: InventoryFlowConfig) -> list[str]:
    """Recent storefront orders the orders flow has not durably put into NetSuite (done).

    Behind the orders probe's cursor (or the orders watermark) every order is done or dead-lettered, so
    only the orders updated since it are read from Shopify (keys only), and the read moves that shared
    cursor on (:func:`advance_probe_cursor`): with webhooks flowing an orders run is nearly always in flight,
    the orders sensor skips its probe, and without this every read grew by the orders of the last minute
    (at 20 orders a minute an eighth of the store's points). The dead-lettered ones come from the ledger.
    Before a first orders run, or after an outage longer than the lookback, the last
    ``unsynced_order_lookback_seconds`` of created orders are read instead.
    """
    start = now - timedelta(seconds=config.unsynced_order_lookback_seconds)
    begin = probe_cursor_start(ledger)
    shared = begin is not None and begin - timedelta(seconds=1) > start
    if shared:  # whole-second stamps: one second behind the cursor, so its own second is read again
        query = QueryWindow(begin - timedelta(seconds=1), now + timedelta(seconds=60)).shopify_query("updated_at")
    else:
        query = QueryWindow(start, now + timedelta(seconds=60)).shopify_query("created_at")
    nodes_read: list[dict] = []
    for node in paginate(shopify, docs.ORDER_KEYS_PAGE, {"query": query}, ("orders",), page_size=250):
        nodes_read.append(node)
        if len(nodes_read) >= config.max_unsynced_orders * 4:
            break
    else:
        if shared:
            end = now - timedelta(seconds=config.orders_search_lag_seconds)
            advance_probe_cursor(ledger, nodes_read, end=end, complete=True)
    ids = [node["id"] for node in nodes_read]
    if begin is not None:
        seen = set(ids)
        ids += [gid for gid in _recent_dead_orders(ledger, start) if gid not in seen]
    done = ledger.done_hashes(ORDERS_FLOW, ids)
    return [gid for gid in ids if gid not in done][: config.max_unsynced_orders]


def _recent_dead_orders(ledger: Ledger, since: datetime) -> list[str]:
    """Orders created since ``since`` that the orders flow dead-lettered (behind its watermark, not in NetSuite)."""
    out = []
    for letter in ledger.dead_letters(ORDERS_FLOW):
        created = (letter.payload or {}).get("createdAt") if isinstance(letter.payload, dict) else None
        try:
            recent = parse_ts(created or letter.created_at) >= since
        except (TypeError, ValueError):
            recent = True  # unreadable: holding its stock back is the safe side
        if letter.source_id.startswith("gid://shopify/Order/") and recent:
            out.append(letter.source_id)
    return out


# --------------------------------------------------------------------------------------------- run


def run_inventory_flow(
    shopify,
    netsuite,
    ledger: Ledger,
    policy: EntityPolicy,
    *,
    landing: LandingArea | None = None,
    run_id: str = "local",
    now: datetime | None = None,
    config: InventoryFlowConfig = InventoryFlowConfig(),
) -> InventoryRunResult:
    """One batch of the inventory flow (module docstring). Raises only when nothing could be done safely."""
    now = now or datetime.now(timezone.utc)
    result = InventoryRunResult()
    shopify_before, netsuite_before = shopify.stats.snapshot(), netsuite.stats.snapshot()
    pending = find_pending(shopify, netsuite, ledger, policy, now=now, config=config)
    if not pending.empty:
        _sync(shopify, netsuite, ledger, policy, config, pending, result, now)
        if landing is not None:  # durable and queued before the watermark moves past it
            result.landed_rows = sum(f.rows for f in landing.land(_landing_frames(result), run_id))
        result.watermark_after = _advance(ledger, pending, set(result.failed), config)
    result.shopify_stats = stats_delta(shopify.stats.snapshot(), shopify_before)
    result.netsuite_stats = stats_delta(netsuite.stats.snapshot(), netsuite_before)
    return result


def _sync(shopify, netsuite, ledger: Ledger, policy: EntityPolicy, config: InventoryFlowConfig, pending: Pending,
          result: InventoryRunResult, now: datetime) -> None:
    location_map = _location_map(shopify, netsuite, ledger, policy, config, result, now)
    if not location_map:
        raise ValueError(
            "inventory: no storefront location maps to a NetSuite location: set entities.inventory.location_map "
            "in the sync policy (storefront location GID or name → NetSuite location id)"
        )
    unsynced, order_skus = unsynced_quantities(shopify, pending.unsynced_orders)
    versions: dict[str, str] = {i.sku: i.version for i in pending.items}
    item_ids: dict[str, str] = {i.sku: i.item_id for i in pending.items}
    # SKUs of new unsynced orders need a recompute too; their NetSuite version is whatever it is now.
    order_only = sorted({sku for gid in pending.orders for sku in order_skus.get(gid, ())} - set(versions))
    if order_only:
        for sku, item_id in reference.items_by_sku(netsuite, order_only).items():
            item_ids.setdefault(sku, item_id)
        for sku in order_only:
            versions.setdefault(sku, _orders_version(sku, pending.orders, order_skus))
    skus = sorted(versions)
    # What the storefront should show, from NetSuite, before reading the storefront: a SKU whose target is
    # the one last confirmed on the storefront needs no read and no write (see ``_confirmed``).
    known = [s for s in skus if s in item_ids]
    levels = netsuite_levels(netsuite, {item_ids[s]: s for s in known}, result.balances)
    targets = _targets(levels, known, location_map, unsynced, policy)
    confirmed = {s: e for s in known if (e := _confirmed(ledger, s, targets, config)) is not None}
    skus = [s for s in skus if s not in confirmed]
    storefront = _storefront(shopify, ledger, skus, location_map, config, result)
    for sku in skus:
        if sku not in storefront or sku not in item_ids:
            where = "storefront" if sku not in storefront else "NetSuite"
            ledger.claim(FLOW, {sku: versions[sku]})  # so the dead row carries this version: not retried hot
            ledger.dead_letter(FLOW, sku, f"SKU {sku!r} is not in the {where}; its inventory cannot be synced",
                               {"sku": sku, "version": versions[sku]}, "sku")
            result.dead_lettered.append(sku)
    skus = [s for s in skus if s not in result.dead_lettered]
    writer = _Writer(shopify, ledger, policy, config, location_map, unsynced, result, now)
    step = max(1, MAX_QUANTITIES_PER_CALL // max(1, len(location_map)))  # one write call per batch
    for start in range(0, len(skus), step):
        writer.sync_batch(skus[start: start + step], levels, targets, storefront, versions)
    writer.record_confirmed(sorted(confirmed), levels, targets, versions)
    for sku in skus:
        if sku not in result.failed and sku not in result.dead_lettered:
            ledger.mark_done(APPLIED_FLOW, sku, storefront[sku]["id"], _target_digest(targets, sku))
    item_gids = {**{s: e.target_id for s, e in confirmed.items()}, **{s: v["id"] for s, v in storefront.items()}}
    skus = sorted(set(skus) | set(confirmed))
    from_netsuite = {i.sku for i in pending.items}
    for sku in skus:
        # Only NetSuite versions go into the ledger: an order-only recompute must not overwrite the NetSuite
        # version a SKU was last applied at (the probe would see that change as new again).
        if sku in from_netsuite and sku not in result.failed and sku not in result.dead_lettered:
            ledger.mark_done(FLOW, sku, item_gids[sku], versions[sku])
    failed = set(result.failed)
    for gid in pending.orders:
        if not (set(order_skus.get(gid, ())) & failed):
            ledger.mark_done(ORDERS_ACCOUNTED_FLOW, gid, gid, _ACCOUNTED)


def _storefront(shopify, ledger: Ledger, skus: list[str], location_map: Mapping[str, str],
                config: InventoryFlowConfig, result: InventoryRunResult) -> dict[str, dict]:
    """The storefront items of ``skus``: known ones from ``storefront_levels`` (what the last read, our own
    writes and Shopify's level deliveries say), the rest read."""
    if not skus:
        return {}
    storefront_levels.take_deliveries(ledger)
    items = {s: e.target_id for s in skus if (e := ledger.get_entry(APPLIED_FLOW, s)) is not None and e.target_id}
    found = storefront_levels.known(ledger, items, location_map, datetime.now(timezone.utc),
                                    config.trust_applied_seconds)  # fmt: skip
    result.levels_known += len(found)
    unknown = [s for s in skus if s not in found]
    if unknown:
        found.update(_read_storefront(shopify, ledger, unknown))
    return found


def _read_storefront(shopify, ledger: Ledger, skus: list[str]) -> dict[str, dict]:
    served_after = datetime.now(timezone.utc)  # what the read shows is at least this recent
    read = inventory_by_sku(shopify, skus, nested_page_size=_NESTED)
    storefront_levels.remember_read(ledger, read, served_after)
    return read


def _orders_version(sku: str, orders: Iterable[str], order_skus: Mapping[str, Iterable[str]]) -> str:
    touching = sorted(gid for gid in orders if sku in set(order_skus.get(gid, ())))
    return "orders:" + short_digest(json.dumps(touching))


def _targets(levels: list[NetSuiteLevel], skus: Iterable[str], location_map: Mapping[str, str],
             unsynced: Mapping[tuple[str, str], int], policy: EntityPolicy) -> dict[tuple[str, str], int]:
    """(sku, storefront location) → the available-to-sell the storefront should show; a SKU NetSuite has no
    row for at all has nothing to sell anywhere."""
    skus = set(skus)
    targets = {k: v for k, v in compute_available([lv for lv in levels if lv.sku in skus], location_map, unsynced,
                                                   policy.safety_stock).items() if k[0] in skus}  # fmt: skip
    for sku in skus:
        for loc in location_map:
            targets.setdefault((sku, loc), 0)
    return targets


def _target_digest(targets: Mapping[tuple[str, str], int], sku: str) -> str:
    return short_digest(json.dumps(sorted((loc, qty) for (s, loc), qty in targets.items() if s == sku)))


def _confirmed(ledger: Ledger, sku: str, targets: Mapping[tuple[str, str], int], config: InventoryFlowConfig):
    """The ledger's ``inventory_applied`` entry when the storefront was last seen (read, or written and
    confirmed) at exactly these targets, recently enough to trust; else None.

    Most NetSuite changes leave available-to-sell where it was: a sales order for a storefront order moves
    the quantity from "held by unsynced orders" to NetSuite's committed, a fulfilment moves on-hand and
    committed together. And what moves the storefront's own number — a checkout — is an unsynced order,
    which moves the target too. So an unchanged target means an unchanged storefront, and reading its
    levels again (the flow's largest cost) would only confirm it. What this cannot see is an edit made on
    the storefront by hand; ``trust_applied_seconds`` bounds how long such drift can stay on a busy SKU.
    """
    entry = ledger.get_entry(APPLIED_FLOW, sku)
    if entry is None or entry.status != "done" or not entry.target_id:
        return None
    if entry.payload_hash != _target_digest(targets, sku):
        return None
    if (datetime.now(timezone.utc) - parse_ts(entry.updated_at)).total_seconds() > config.trust_applied_seconds:
        return None
    return entry


def _advance(ledger: Ledger, pending: Pending, failed: set[str], config: InventoryFlowConfig) -> Watermark | None:
    """Past every applied NetSuite change; a failed SKU holds the watermark just before its change."""
    if not pending.items:
        return ledger.get_watermark(FLOW)
    stuck = [i.version for i in pending.items if i.sku in failed]
    if stuck:
        moment = from_user_time(_changed_at(min(stuck)), config.netsuite_timezone) - timedelta(seconds=1)
    else:
        moment = from_user_time(max(_changed_at(i.version) for i in pending.items), config.netsuite_timezone)
    ledger.advance_watermark(FLOW, Watermark(moment))
    return ledger.get_watermark(FLOW)


# ------------------------------------------------------------------------------------------ inputs


def resolve_location_map(shopify, netsuite, configured: Mapping[str, str],
                         locations_out: list[dict] | None = None) -> dict[str, str]:
    """Storefront location GID → NetSuite location id, from the policy (GIDs or names), else by name.

    ``locations_out`` receives every storefront location read, with ``netsuite_location_id`` (for the warehouse)."""
    locations = list(shopify.iter_locations())
    resolved = _resolve_location_map(netsuite, configured, locations)
    if locations_out is not None:
        locations_out.extend({**loc, "netsuite_location_id": resolved.get(loc["id"])} for loc in locations)
    return resolved


LOCATION_MAP_FLOW = "inventory_location_map"


def _location_map(shopify, netsuite, ledger: Ledger, policy: EntityPolicy, config: InventoryFlowConfig,
                  result: InventoryRunResult, now: datetime) -> dict[str, str]:  # fmt: skip
    """The resolved map, from the ledger while it is younger than ``location_map_seconds`` and the policy's
    ``location_map`` is the one it was resolved from; else resolved again (and the locations landed)."""
    digest = payload_hash(dict(policy.location_map))
    cached = ledger.get_entry(LOCATION_MAP_FLOW, "map")
    if cached is not None and cached.payload_hash == digest and cached.target_id:
        if (now - parse_ts(cached.updated_at)).total_seconds() < config.location_map_seconds:
            return json.loads(cached.target_id)
    resolved = resolve_location_map(shopify, netsuite, policy.location_map, result.storefront_locations)
    if resolved:
        ledger.mark_done(LOCATION_MAP_FLOW, "map", json.dumps(resolved, sort_keys=True), digest)
    return resolved


def _resolve_location_map(netsuite, configured: Mapping[str, str], locations: list[dict]) -> dict[str, str]:
    by_name = {str(loc.get("name") or "").strip().lower(): loc["id"] for loc in locations}
    gids = {loc["id"] for loc in locations}
    if configured:
        resolved = {}
        for ref, ns_id in configured.items():
            gid = ref if ref in gids else by_name.get(ref.strip().lower())
            if gid is None:
                raise ValueError(f"inventory.location_map: storefront location {ref!r} does not exist in the store")
            resolved[gid] = str(ns_id)
        return resolved
    resolved = {}
    for row in netsuite.suiteql(Q.LOCATIONS.sql):
        gid = by_name.get(str(row.get("name") or "").strip().lower())
        if gid is not None:
            resolved[gid] = str(row["id"])
    return resolved


def netsuite_levels(netsuite, sku_by_item: Mapping[str, str], balances: list[dict] | None = None) -> list[NetSuiteLevel]:
    """Available per (SKU, NetSuite location); the whole balance rows go to ``balances`` (for the warehouse)."""
    levels = []
    for batch in reference.chunks(sorted(sku_by_item, key=lambda v: (len(v), v))):
        for row in netsuite.suiteql(Q.LEVELS_BY_ITEM.sql, {"items": [int(i) for i in batch]}):
            if balances is not None:
                balances.append(row)
            levels.append(NetSuiteLevel(sku_by_item[str(row["item"])], str(row["location"]),
                                        int(float(row.get("quantityavailable") or 0))))
    return levels


def unsynced_quantities(shopify, order_ids: Iterable[str]) -> tuple[dict[tuple[str, str], int], dict[str, list[str]]]:
    """(sku, storefront location) → quantity still to ship on orders not in NetSuite, from their open
    fulfillment orders (assigned location = where the storefront holds the stock); and each order's SKUs."""
    held: dict[tuple[str, str], int] = defaultdict(int)
    skus: dict[str, list[str]] = {}
    for gid in order_ids:
        order_skus = []
        for fo in fulfillment_orders(shopify, gid):
            location = ((fo.get("assignedLocation") or {}).get("location") or {}).get("id")
            for line in nodes(fo.get("lineItems")):
                sku = (line.get("sku") or "").strip()
                if not sku:
                    continue
                order_skus.append(sku)
                if location and str(fo.get("status", "")).upper() in _OPEN_FO:
                    held[(sku, location)] += int(line.get("remainingQuantity") or 0)
        skus[gid] = sorted(set(order_skus))
    return dict(held), skus


# ------------------------------------------------------------------------------------------ writes


def idempotency_key(changes: Iterable[InventoryChange], salt: str) -> str:
    """Deterministic in what the write says: the client's network retry resends the same key, and a
    recompute (new changeFrom) draws a new one. ``salt`` carries the source versions and the attempt, so
    the same numbers written again days later are a new request, not a replay of an old one."""
    body = json.dumps([[c.sku, c.location_id, c.quantity, c.change_from_quantity] for c in changes] + [salt])
    return str(uuid.UUID(short_digest(body, 32)))


class _Writer:
    def __init__(self, shopify, ledger: Ledger, policy: EntityPolicy, config: InventoryFlowConfig,
                 location_map: Mapping[str, str], unsynced: Mapping[tuple[str, str], int],
                 result: InventoryRunResult, now: datetime) -> None:
        self.shopify, self.ledger, self.policy, self.config = shopify, ledger, policy, config
        self.location_map, self.unsynced, self.result, self.now = location_map, unsynced, result, now

    def sync_batch(self, skus: list[str], levels: list[NetSuiteLevel], targets: Mapping[tuple[str, str], int],
                   storefront: dict[str, dict], versions: Mapping[str, str]) -> None:
        skus = list(skus)
        wanted = set(skus)
        batch_levels = [lv for lv in levels if lv.sku in wanted]
        computed = {k: v for k, v in targets.items() if k[0] in wanted}
        ns_totals = self._ns_totals(batch_levels)
        salt_versions = json.dumps(sorted((s, versions[s]) for s in skus))
        written: list[InventoryChange] = []
        current = _current(storefront, skus)
        for attempt in range(self.config.stale_attempts + 1):
            computed = {k: v for k, v in computed.items() if k[0] not in self.result.dead_lettered}
            current = _current(storefront, skus)
            changes = diff_against_storefront(computed, current)
            negative = [c for c in changes if c.quantity < 0]
            if negative:  # compute_available never yields these; if it ever did, they must not reach a shop
                self.result.negative_refused += len(negative)
                changes = [c for c in changes if c.quantity >= 0]
            if not changes:
                break
            try:
                self._write(changes, storefront, f"{salt_versions}:{attempt}")
                written = changes
                break
            except ShopifyStaleQuantity:
                self.result.stale_retries += 1
                if attempt == self.config.stale_attempts:
                    for sku in {c.sku for c in changes}:
                        self.result.failed[sku] = "the storefront kept changing under the compare-and-set"
                    break
                storefront.update(_read_storefront(self.shopify, self.ledger, skus))  # re-read; the next key differs
            except ShopifyUserError as exc:
                culprits = _culprits(exc, changes)
                for sku in culprits:
                    self._dead(sku, versions[sku], f"Shopify refused the inventory write: {exc}",
                               [c.__dict__ for c in changes if c.sku == sku])
                if culprits == {c.sku for c in changes}:
                    break
            except (TransientError, ThrottledError) as exc:
                for sku in {c.sku for c in changes}:
                    self.result.failed[sku] = f"Shopify unavailable: {exc}"
                break
        self._record(computed, current, written, ns_totals, versions)

    def record_confirmed(self, skus: list[str], levels: list[NetSuiteLevel], targets: Mapping[tuple[str, str], int],
                         versions: Mapping[str, str]) -> None:
        """Snapshots of SKUs whose target the storefront already confirmed (not read: previous unknown)."""
        wanted = set(skus)
        computed = {k: v for k, v in targets.items() if k[0] in wanted}
        self._record(computed, {}, [], self._ns_totals([lv for lv in levels if lv.sku in wanted]), versions)

    def _dead(self, sku: str, version: str, reason: str, payload: Any) -> None:
        self.ledger.claim(FLOW, {sku: version})  # so the dead row carries this version: not retried hot
        self.ledger.dead_letter(FLOW, sku, reason, payload, "sku")
        self.result.dead_lettered.append(sku)

    def _ns_totals(self, levels: list[NetSuiteLevel]) -> dict[tuple[str, str], int]:
        by_ns = {(lv.sku, lv.location_id): lv.available for lv in levels}
        totals: dict[tuple[str, str], int] = defaultdict(int)
        for sku in {lv.sku for lv in levels}:
            for loc, ns_loc in self.location_map.items():
                totals[(sku, loc)] += by_ns.get((sku, ns_loc), 0)
        return totals

    def _write(self, changes: list[InventoryChange], storefront: dict[str, dict], salt: str) -> None:
        sent_after = datetime.now(timezone.utc)
        quantities = [
            {"inventoryItemId": storefront[c.sku]["id"], "locationId": c.location_id, "quantity": c.quantity,
             "changeFromQuantity": c.change_from_quantity}
            for c in changes
        ]
        self.shopify.set_inventory_quantities(
            quantities, name="available", reason=self.config.reason,
            reference_document_uri=f"gid://sync-assets/InventorySync/{self.now.strftime('%Y%m%dT%H%M%SZ')}",
            idempotency_key=idempotency_key(changes, salt),
        )  # fmt: skip
        written: dict[str, dict[str, int]] = defaultdict(dict)
        for c in changes:
            written[storefront[c.sku]["id"]][c.location_id] = c.quantity
        for item, quantities_at in written.items():
            storefront_levels.remember_written(self.ledger, item, quantities_at, sent_after)

    def _record(self, computed: Mapping[tuple[str, str], int], current: Mapping[tuple[str, str], int | None],
                written: list[InventoryChange], ns_totals: Mapping[tuple[str, str], int],
                versions: Mapping[str, str]) -> None:
        written_keys = {(c.sku, c.location_id) for c in written}
        at = datetime.now(timezone.utc)
        for key in sorted(computed):
            sku, loc = key
            did_write = key in written_keys
            self.result.snapshots.append({
                "sku": sku, "location": loc, "netsuite_available": ns_totals.get(key, 0),
                "unsynced_qty": self.unsynced.get(key, 0), "safety_stock": self.policy.safety_stock.for_sku(sku),
                "computed": computed[key], "previous_storefront": current.get(key), "written": did_write,
                "computed_at": at,
            })  # fmt: skip
            if did_write:
                self.result.written += 1
                version = versions.get(sku, "")
                if version and not version.startswith("orders:"):
                    changed = from_user_time(_changed_at(version), self.config.netsuite_timezone)
                    lag = time.time() - changed.timestamp()
                    self.result.lag_seconds.append(max(0.0, lag))
            elif sku not in self.result.failed and sku not in self.result.dead_lettered:
                self.result.unchanged += 1


def _culprits(exc: ShopifyUserError, changes: list[InventoryChange]) -> set[str]:
    """SKUs a userError points at (``field: ["input", "quantities", "<i>", ...]``); all when it points at none."""
    found = set()
    for detail in exc.details:
        field = detail.field or ()
        if len(field) >= 3 and field[1] == "quantities" and str(field[2]).isdigit() and int(field[2]) < len(changes):
            found.add(changes[int(field[2])].sku)
    return found or {c.sku for c in changes}


def _current(storefront: Mapping[str, dict], skus: Iterable[str]) -> dict[tuple[str, str], int | None]:
    current: dict[tuple[str, str], int | None] = {}
    for sku in skus:
        for loc, quantities in (storefront.get(sku) or {}).get("levels", {}).items():
            current[(sku, loc)] = quantities.get("available")
    return current


# ----------------------------------------------------------------------------------------- landing


def _landing_frames(result: InventoryRunResult) -> dict:
    import pandas as pd

    from sync_assets.flows.landing import payload_frame

    frames = {}
    if result.snapshots:
        frame = pd.DataFrame(result.snapshots)
        frame["computed_at"] = pd.to_datetime(frame["computed_at"], utc=True)
        for column in ("netsuite_available", "unsynced_qty", "safety_stock", "computed", "previous_storefront"):
            frame[column] = frame[column].astype("Int64")
        frames["raw.inventory_snapshots"] = frame
    if result.balances:
        frame = payload_frame("item_id", [{"key": b["item"], "updated_at": b.get("lastquantityavailablechange"),
                                           "payload": b} for b in result.balances])  # fmt: skip
        frame.insert(1, "location_id", [str(b["location"]) for b in result.balances])
        frames["raw.netsuite_inventory"] = frame
    if result.storefront_locations:
        # No updatedAt on a Location: a location that did not change lands the same content (no new version).
        frames["raw.shopify_locations"] = payload_frame(
            "location_id", [{"key": loc["id"], "payload": loc} for loc in result.storefront_locations])
    return frames


__all__ = [
    "FLOW", "ORDERS_ACCOUNTED_FLOW", "InventoryFlowConfig", "InventoryRunResult", "Pending", "find_pending",
    "idempotency_key", "resolve_location_map", "run_inventory_flow",
]
