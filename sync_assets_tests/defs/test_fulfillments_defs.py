"""Fulfillments Dagster glue against the sandbox: skip while nothing shipped, a deterministic run request
once NetSuite ships, a run with numeric metadata and a passing blocking check, then skip again; a tracking
number changed in NetSuite afterwards triggers one more run that sends just that update."""

from __future__ import annotations

import dagster as dg

from sync_assets.defs import fulfillments as defs_fulfillments
from sync_assets.domain.policy import EntityPolicy
from sync_assets.flows.fulfillments import FLOW
from sync_assets.state.ledger import Ledger
from sync_assets_tests.defs.test_inventory_defs import evaluate, sandbox_resources
from sync_assets_tests.flows.test_fulfillments_flow import synced_orders
from sync_assets_tests.flows.test_inventory_flow import clients

POLICY = EntityPolicy("fulfillments", "realtime", interval_seconds=1, overlap_seconds=300)


def test_sensor_and_asset(sandbox, tmp_path):
    sandbox.control.reset(seed=3, products=4, variants_per_product=2, customers=3, locations=2)
    resources = sandbox_resources(sandbox.url, tmp_path)
    shopify, netsuite = clients(sandbox.url)
    ledger = Ledger(tmp_path / "ledger.sqlite")
    synced_orders(sandbox, shopify, netsuite, [ledger], count=2)
    ledger.close()
    defs = defs_fulfillments.definitions(POLICY)
    [sensor], [asset] = defs.sensors, defs.assets
    with dg.instance_for_test() as instance:
        assert not evaluate(sensor, instance, resources).run_requests
        sandbox.control.fulfill_sales_orders(0)
        first = evaluate(sensor, instance, resources)
        [request] = first.run_requests
        assert request.run_key == evaluate(sensor, instance, resources).run_requests[0].run_key
        assert request.run_key.startswith("fulfillments:") and request.run_key.endswith(":0")

        result = dg.materialize([asset], resources=resources, instance=instance)
        assert result.success
        [materialization] = result.asset_materializations_for_node("shopify__fulfillments")
        assert materialization.metadata["records_synced"].value == 2
        [check] = result.get_asset_check_evaluations()
        assert check.passed and check.check_name == defs_fulfillments.ONCE_CHECK
        assert not evaluate(sensor, instance, resources).run_requests

        # A tracking number changed in NetSuite afterwards: the sensor sees it, the run sends only that.
        ledger = Ledger(tmp_path / "ledger.sqlite")
        [done, _] = ledger.entries(FLOW, "done")
        ledger.close()
        netsuite.patch_record("itemFulfillment", done.source_id, {"package": None})
        netsuite.patch_record("itemFulfillment", done.source_id, {"package": {"items": [{"packageTrackingNumber": "1ZNEW"}]}})
        [retrack] = evaluate(sensor, instance, resources).run_requests
        assert retrack.run_key != request.run_key
        result = dg.materialize([asset], resources=resources, instance=instance)
        [materialization] = result.asset_materializations_for_node("shopify__fulfillments")
        assert materialization.metadata["tracking_updates"].value == 1
        assert materialization.metadata["records_synced"].value == 1
        assert not evaluate(sensor, instance, resources).run_requests
