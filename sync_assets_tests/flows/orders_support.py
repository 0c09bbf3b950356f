"""Helpers shared by the orders-flow tests: clients on the sandbox, a ledger and warehouse in tmp_path,
and NetSuite read-backs that prove "exactly once" by external id."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sync_assets.connectors.http import Backoff
from sync_assets.connectors.netsuite import NetSuiteClient, TokenBasedAuth
from sync_assets.connectors.shopify import ShopifyClient
from sync_assets.domain.ids import order_external_id
from sync_assets.domain.policy import load_policy
from sync_assets.flows import reference
from sync_assets.flows.orders import OrdersFlowConfig
from sync_assets.sandbox import credentials as C
from sync_assets.state.ledger import Ledger
from sync_assets.warehouse.landing_area import LandingArea
from sync_assets.warehouse.merge import merge_pending

FAST = Backoff(max_attempts=4, base_seconds=0.02, cap_seconds=0.1)
CONFIG = OrdersFlowConfig(lease_seconds=1.0, initial_lookback_seconds=600)


_ORDERS_POLICY = None


def policy(**changes):
    # No safety lag: tests place orders and sync them at once (the lag guards Shopify's search index).
    global _ORDERS_POLICY
    if _ORDERS_POLICY is None:
        _ORDERS_POLICY = load_policy().entity("orders")
    return replace(_ORDERS_POLICY, safety_lag_seconds=0, **changes)


def shopify_client(sandbox, **kw) -> ShopifyClient:
    kw.setdefault("backoff", FAST)
    kw.setdefault("timeout", 5)
    return ShopifyClient(sandbox.url, C.SHOPIFY_ACCESS_TOKEN, api_version=C.SHOPIFY_API_VERSION, **kw)


def netsuite_client(sandbox, **kw) -> NetSuiteClient:
    kw.setdefault("backoff", FAST)
    kw.setdefault("timeout", 5)
    auth = TokenBasedAuth(C.NETSUITE_ACCOUNT_ID, C.NETSUITE_CONSUMER_KEY, C.NETSUITE_CONSUMER_SECRET,
                          C.NETSUITE_TOKEN_ID, C.NETSUITE_TOKEN_SECRET)
    return NetSuiteClient(sandbox.url, C.NETSUITE_ACCOUNT_ID, auth, **kw)


def ledger_at(tmp_path: Path) -> Ledger:
    return Ledger(tmp_path / "ledger.sqlite")


def landing_at(tmp_path: Path) -> LandingArea:
    """The landing area the flows write, queued in the test's ledger file (tmp_path/ledger.sqlite)."""
    return LandingArea(tmp_path / "landing", ledger_at(tmp_path))


def merge_at(tmp_path: Path) -> Path:
    """Merge what the flows landed into tmp_path/warehouse.duckdb, as the warehouse_load job does; its path."""
    path = tmp_path / "warehouse.duckdb"
    result = merge_pending(str(path), ledger_at(tmp_path))
    assert result.deferred is None and not result.missing
    return path


def sales_order_counts(netsuite, order_gids) -> dict[str, int]:
    """externalId → number of sales orders carrying it (exactly once means 1 for every placed order)."""
    eids = [order_external_id(g) for g in order_gids]
    return reference.count_by_external_id(netsuite, "SalesOrd", eids)


def assert_exactly_once(netsuite, order_gids) -> None:
    counts = sales_order_counts(netsuite, order_gids)
    eids = {order_external_id(g) for g in order_gids}
    missing = sorted(eids - set(counts))
    duplicated = {k: v for k, v in counts.items() if v != 1}
    assert not missing and not duplicated, f"missing: {missing}; duplicated: {duplicated}"


def place_orders(sandbox, count: int, *, paid_every: int = 2) -> list[str]:
    """Place ``count`` plain orders through ``orderCreate`` (no order-level discounts, which need a NetSuite
    discount item this sandbox account lacks); every ``paid_every``-th one carries a captured payment.
    Returns the order GIDs. Customers come from a small pool, so some repeat (matched, not duplicated)."""
    shopify = shopify_client(sandbox)
    skus = sandbox.control.catalog()["skus_sample"]
    gids = []
    for n in range(count):
        price = f"{10 + n}.50"
        order = {
            "currency": "USD",
            "email": f"buyer{n % 3}@example.com",
            "customer": {"toUpsert": {"email": f"buyer{n % 3}@example.com", "firstName": "Buyer", "lastName": f"N{n % 3}"}},
            "lineItems": [{"sku": skus[n % len(skus)], "title": "Item", "quantity": 1 + n % 2,
                           "priceSet": {"shopMoney": {"amount": price, "currencyCode": "USD"}}}],
        }
        if n % paid_every == 0:
            total = f"{(10 + n + 0.5) * (1 + n % 2):.2f}"
            order["financialStatus"] = "PAID"
            order["transactions"] = [{"kind": "SALE", "status": "SUCCESS", "gateway": "manual",
                                      "amountSet": {"shopMoney": {"amount": total, "currencyCode": "USD"}}}]
        gids.append(shopify.create_order(order)["id"])
    return gids
