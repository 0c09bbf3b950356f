"""A warehouse built the way production builds it: the real flows run against the sandbox over HTTP and
land into the landing area, the loader merges the files into a real DuckDB file (as ``warehouse_load``
does), then the dbt project builds staging and the marts on it.

What lands is known exactly (orders placed with fixed prices, quantities and customers), so the mart
tests can assert exact values. Built once per test module: a dbt build takes seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb

from sync_assets.flows import catalog as catalog_flow
from sync_assets.flows import customers as customers_flow
from sync_assets.flows import fulfillments as fulfillments_flow
from sync_assets.flows import inventory as inventory_flow
from sync_assets.flows import orders as orders_flow
from sync_assets.flows import reconciliation as reconciliation_flow
from sync_assets.domain.policy import EntityPolicy
from sync_assets.domain.ids import order_external_id
from sync_assets.domain.shop_days import local_day
from sync_assets.state.ledger import Ledger
from sync_assets_tests.flows import orders_support as support

RESET = {"seed": 3, "products": 4, "variants_per_product": 2, "customers": 3, "locations": 2}
ORDERS = 4  # placed with orders_support.place_orders: order n has 1 + n % 2 units at 10+n .50 USD


@dataclass
class Landed:
    path: Path
    order_gids: list[str]
    dead_letter_gid: str
    skus: list[str]
    storefront_locations: dict[str, str]  # GID -> name, as the store lists them

    def connect(self):
        return duckdb.connect(str(self.path), read_only=True)


def land_sandbox(sandbox, root: Path) -> Landed:
    """Run catalog, CRM, orders (twice: the second is a re-read), fulfillments, inventory and reconciliation
    against the sandbox, all landing in ``root/landing``, then merge into ``root/warehouse.duckdb``."""
    sandbox.control.reset(**RESET)
    root.mkdir(parents=True, exist_ok=True)
    landing = support.landing_at(root)
    shopify, netsuite = support.shopify_client(sandbox), support.netsuite_client(sandbox)
    ledger = Ledger(root / "ledger.sqlite")
    try:
        catalog_flow.run_catalog_flow(netsuite, shopify, ledger, landing=landing, run_id="catalog-1")
        customers_flow.run_customers_flow(netsuite, ledger, landing, run_id="crm-1")
        gids = support.place_orders(sandbox, ORDERS)
        bad = shopify.create_order({
            "currency": "USD", "email": "nobody@example.com",
            "lineItems": [{"sku": "NO-SUCH-SKU", "title": "Mystery", "quantity": 1,
                           "priceSet": {"shopMoney": {"amount": "5.00", "currencyCode": "USD"}}}],
        })["id"]
        policy = support.policy()
        for run in ("orders-1", "orders-2"):  # the second run re-reads the overlap window: all skipped
            orders_flow.run_orders_flow(shopify, netsuite, ledger, policy, landing=landing, run_id=run,
                                        config=support.CONFIG)
        sandbox.control.fulfill_sales_orders(0)
        ful_policy = EntityPolicy("fulfillments", "realtime", interval_seconds=1, overlap_seconds=300)
        fulfillments_flow.run_fulfillments_flow(shopify, netsuite, ledger, ful_policy, landing=landing,
                                                run_id="fulfillments-1")
        inv_policy = EntityPolicy("inventory", "realtime", interval_seconds=1, overlap_seconds=60)
        inventory_flow.run_inventory_flow(shopify, netsuite, ledger, inv_policy, landing=landing,
                                          run_id="inventory-1")
        day = local_day(shopify.get_orders([bad])[0]["createdAt"], "UTC")
        report = reconciliation_flow.reconcile_day(
            shopify, netsuite, ledger, day, now=datetime.now(timezone.utc) + timedelta(hours=1),
            config=reconciliation_flow.ReconciliationConfig(grace_seconds=0, requeue=False), run_id="rec-1")
        reconciliation_flow.land_report(landing, report, "rec-1")
        # A sales order total changed in NetSuite (five more), seen by a run, then put back and seen healed.
        eid = order_external_id(gids[0])
        lines = [{"item": {"id": line["item"]["id"]}, "quantity": line["quantity"], "rate": line["rate"]}
                 for line in netsuite.get_record("salesOrder", f"eid:{eid}", expand=True)["item"]["items"]]
        changed = [{**lines[0], "rate": float(lines[0]["rate"]) + 5.0 / float(lines[0]["quantity"])}, *lines[1:]]
        for run, body in (("rec-2", changed), ("rec-3", lines)):
            netsuite.upsert_record("salesOrder", eid, {"item": {"items": body}}, replace=("item",))
            report = reconciliation_flow.reconcile_day(
                shopify, netsuite, ledger, day, now=datetime.now(timezone.utc) + timedelta(hours=1),
                config=reconciliation_flow.ReconciliationConfig(grace_seconds=0, requeue=False), run_id=run)
            reconciliation_flow.land_report(landing, report, run)
        skus = sandbox.control.catalog()["skus_sample"]
        locations = {loc["id"]: loc["name"] for loc in shopify.iter_locations()}
    finally:
        ledger.close()
    return Landed(support.merge_at(root), gids, bad, skus, locations)
