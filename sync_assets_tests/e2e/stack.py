"""Helpers of the end-to-end tests: wait for an outcome of the running stack, read NetSuite and the
storefront back through the project's own clients."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

from sync_assets.connectors.shopify.inventory import inventory_by_sku
from sync_assets.devstack import DevStack
from sync_assets.domain.ids import order_external_id
from sync_assets.flows import reference

T = TypeVar("T")

# A give-up point for outcomes, not a latency assertion: far beyond any healthy run on a busy 2-core box.
OUTCOME_SECONDS = 120.0


def eventually(stack: DevStack, what: str, probe: Callable[[], T | None], timeout: float = OUTCOME_SECONDS) -> T:
    """Poll ``probe`` until it returns something truthy; on giving up, fail with the stack's logs."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.25)
    pytest.fail(f"gave up waiting for {what} (last probe: {last!r})\n{stack.logs(6000)}")


def sales_order(netsuite, order_gid: str) -> dict | None:
    """NetSuite's sales order for a storefront order (by external id, through SuiteQL), or None."""
    eid = order_external_id(order_gid)
    return reference.sales_order_totals(netsuite, [eid]).get(eid)


def storefront_available(shopify, sku: str) -> dict[str, int]:
    """Storefront ``available`` of a SKU per Shopify location id."""
    item = inventory_by_sku(shopify, [sku]).get(sku)
    assert item is not None, f"the storefront does not know SKU {sku!r}"
    return {location: int(q.get("available", 0)) for location, q in item["levels"].items()}


def netsuite_available(netsuite, sku: str) -> dict[str, int]:
    """NetSuite ``quantityavailable`` of a SKU per NetSuite location id."""
    item_id = reference.items_by_sku(netsuite, [sku])[sku]
    rows = netsuite.suiteql(
        "SELECT location, quantityavailable FROM inventoryitemlocations WHERE item = :item ORDER BY location",
        {"item": int(item_id)},
    )
    return {str(r["location"]): int(float(r["quantityavailable"] or 0)) for r in rows}
