"""The catalog job through Dagster's own API against the sandbox: a NetSuite price and description change
is pushed by the job for exactly those two products, with the numbers in the materialization metadata."""

from __future__ import annotations

import dagster as dg

from sync_assets.connectors.shopify.catalog import product_by_handle
from sync_assets.defs import catalog as defs_catalog
from sync_assets.domain.policy import EntityPolicy
from sync_assets.flows.catalog import FLOW
from sync_assets.state.ledger import Ledger
from sync_assets_tests.defs.test_inventory_defs import sandbox_resources
from sync_assets_tests.flows.orders_support import shopify_client

POLICY = EntityPolicy("catalog", "batch", cron="0 2 * * *", batch_size=100)


def _run_job(defs: dg.Definitions, instance, resources) -> dg.ExecuteInProcessResult:
    job = dg.Definitions.merge(defs, dg.Definitions(resources=resources)).resolve_job_def(defs_catalog.JOB_NAME)
    return job.execute_in_process(instance=instance)


def _products_metadata(result: dg.ExecuteInProcessResult) -> dict:
    [materialization] = [m for m in result.asset_materializations_for_node("catalog_to_warehouse_and_storefront")
                         if m.asset_key == defs_catalog.PRODUCTS]
    return {k: v.value for k, v in materialization.metadata.items()}


def test_catalog_job_pushes_exactly_the_products_changed_in_netsuite(sandbox, tmp_path):
    resources = sandbox_resources(sandbox.url, tmp_path)
    defs = defs_catalog.definitions(POLICY)
    with dg.instance_for_test() as instance:
        first = _run_job(defs, instance, resources)
        assert first.success
        assert _products_metadata(first)["products_already_in_sync"] == 20

        ledger = Ledger(tmp_path / "ledger.sqlite")
        priced, described = sorted(e.source_id for e in ledger.entries(FLOW, "done"))[:2]
        ledger.close()
        shopify = shopify_client(sandbox)
        sku = product_by_handle(shopify, priced)["variants"][0]["sku"]
        sandbox.control.set_item_price(sku, "42.00")
        sandbox.control.update_item(described, description="Changed in NetSuite.")
        sandbox.control.reset_counters()

        second = _run_job(defs, instance, resources)
        assert second.success
        numbers = _products_metadata(second)
        assert numbers["products_pushed"] == 2 and numbers["products_changed"] == 2
        assert sandbox.control.counters()["counters"]["shopify.mutation.productSet"] == 2
        assert {v["sku"]: v["price"] for v in product_by_handle(shopify, priced)["variants"]}[sku] == "42.00"
        assert product_by_handle(shopify, described)["descriptionHtml"] == "<p>Changed in NetSuite.</p>"
        [check] = second.get_asset_check_evaluations()
        assert check.passed
