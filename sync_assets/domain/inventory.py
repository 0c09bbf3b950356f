"""Available-to-sell per (SKU, storefront location), and the minimal set of storefront writes.

NetSuite is the inventory source of truth; the storefront shows what can still be promised:

    available_to_sell = NetSuite available − quantities on orders not yet in NetSuite − safety stock

(NetSuite's ``quantityAvailable`` already nets out what its own orders committed.) Each storefront
location sums the NetSuite locations mapped to it. The diff carries the storefront's current value as
``changeFromQuantity`` so the write is compare-and-set: if a checkout moved the number since we read
it, Shopify refuses the write instead of letting our older snapshot overwrite it (landscape F4).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

Key = tuple[str, str]  # (sku, storefront location id)


def available_to_sell(netsuite_available: int, unsynced_order_qty: int, safety_stock: int) -> int:
    """Never below zero: a negative number on a storefront means oversell, not information."""
    if unsynced_order_qty < 0 or safety_stock < 0:
        raise ValueError(f"unsynced_order_qty ({unsynced_order_qty}) and safety_stock ({safety_stock}) must be ≥ 0")
    return max(0, int(netsuite_available) - unsynced_order_qty - safety_stock)


@dataclass(frozen=True)
class SafetyStock:
    default: int = 0
    per_sku: Mapping[str, int] = field(default_factory=dict)

    def for_sku(self, sku: str) -> int:
        return self.per_sku.get(sku, self.default)


@dataclass(frozen=True)
class NetSuiteLevel:
    sku: str
    location_id: str  # NetSuite location internal id
    available: int


@dataclass(frozen=True)
class InventoryChange:
    sku: str
    location_id: str  # storefront location
    quantity: int
    change_from_quantity: int | None  # None: the storefront has no level there yet (nothing to compare)


def compute_available(
    levels: Iterable[NetSuiteLevel | Mapping],
    location_map: Mapping[str, str],
    unsynced_orders: Mapping[Key, int],
    safety: SafetyStock,
) -> dict[Key, int]:
    """Available-to-sell for every SKU NetSuite reported, at every mapped storefront location.

    ``location_map`` is storefront location → NetSuite location (as in the sync policy). NetSuite
    locations nobody maps are ignored; a mapped location with no row for a SKU counts as 0.
    Duplicate (sku, NetSuite location) rows are an upstream bug and raise rather than double-count.
    """
    by_ns: dict[tuple[str, str], int] = {}
    skus: set[str] = set()
    for raw in levels:
        level = raw if isinstance(raw, NetSuiteLevel) else NetSuiteLevel(str(raw["sku"]), str(raw["location_id"]), int(raw["available"]))
        key = (level.sku, level.location_id)
        if key in by_ns:
            raise ValueError(f"duplicate NetSuite inventory row for SKU {level.sku!r} at location {level.location_id!r}")
        by_ns[key] = level.available
        skus.add(level.sku)
    storefront_for_ns: dict[str, list[str]] = defaultdict(list)
    for storefront_location, ns_location in location_map.items():
        storefront_for_ns[str(ns_location)].append(storefront_location)
    result: dict[Key, int] = {}
    for sku in skus:
        totals: dict[str, int] = {loc: 0 for loc in location_map}
        for ns_location, storefront_locations in storefront_for_ns.items():
            for storefront_location in storefront_locations:
                totals[storefront_location] += by_ns.get((sku, ns_location), 0)
        for storefront_location, total in totals.items():
            key = (sku, storefront_location)
            result[key] = available_to_sell(total, unsynced_orders.get(key, 0), safety.for_sku(sku))
    return result


def diff_against_storefront(computed: Mapping[Key, int], current: Mapping[Key, int | None]) -> list[InventoryChange]:
    """Only the (sku, location) pairs whose storefront value differs, sorted for stable batches."""
    changes = []
    for key in sorted(computed):
        quantity = computed[key]
        now = current.get(key)
        if now is not None and now == quantity:
            continue
        changes.append(InventoryChange(key[0], key[1], quantity, now))
    return changes
