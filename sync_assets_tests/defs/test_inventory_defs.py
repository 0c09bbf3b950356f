"""Inventory Dagster glue against the sandbox: the sensor requests a run with a deterministic key, the
multi-asset writes and lands snapshots with numeric metadata and a passing blocking check, then the
sensor skips (nothing pending)."""

from __future__ import annotations

import dagster as dg
from dagster_duckdb import DuckDBResource

from sync_assets.defs import inventory as defs_inventory
from sync_assets.defs.resources import LandingResource, LedgerResource, NetSuiteResource, ShopifyResource
from sync_assets.domain.policy import EntityPolicy
from sync_assets.sandbox import credentials as c

POLICY = EntityPolicy("inventory", "realtime", interval_seconds=1, overlap_seconds=60)


def sandbox_resources(url: str, tmp_path) -> dict:
    return {
        "shopify": ShopifyResource(shop_url=url, access_token=c.SHOPIFY_ACCESS_TOKEN, api_version=c.SHOPIFY_API_VERSION),
        "netsuite": NetSuiteResource(base_url=url, account_id=c.NETSUITE_ACCOUNT_ID, consumer_key=c.NETSUITE_CONSUMER_KEY,
                                     consumer_secret=c.NETSUITE_CONSUMER_SECRET, token_id=c.NETSUITE_TOKEN_ID,
                                     token_secret=c.NETSUITE_TOKEN_SECRET),
        "ledger": LedgerResource(path=str(tmp_path / "ledger.sqlite")),
        "warehouse": DuckDBResource(database=str(tmp_path / "warehouse.duckdb")),
        "landing": LandingResource(path=str(tmp_path / "landing")),
    }


def evaluate(sensor, instance, resources):
    with dg.build_sensor_context(instance=instance, resources=resources) as ctx:
        return sensor.evaluate_tick(ctx)


def test_sensor_run_and_skip(sandbox, tmp_path):
    sandbox.control.reset(seed=5, products=3, variants_per_product=2, customers=2, locations=2)
    resources = sandbox_resources(sandbox.url, tmp_path)
    defs = defs_inventory.definitions(POLICY)
    [sensor] = defs.sensors
    [asset] = defs.assets
    with dg.instance_for_test() as instance:
        first = evaluate(sensor, instance, resources)
        [request] = first.run_requests
        assert request.run_key.startswith("inventory:") and request.run_key == evaluate(sensor, instance, resources).run_requests[0].run_key

        result = dg.materialize([asset], resources=resources, instance=instance)
        assert result.success
        levels = result.asset_materializations_for_node("inventory_to_storefront")
        metadata = {m.asset_key: m.metadata for m in levels}
        numbers = {k: v.value for k, v in metadata[defs_inventory.LEVELS].items()}
        assert numbers["records"] > 0 and numbers["records"] % 2 == 0  # every changed SKU × 2 locations
        assert numbers["records_synced"] + numbers["records_skipped"] == numbers["records"] and numbers["shopify_api_calls"] > 0
        assert metadata[defs_inventory.SNAPSHOTS]["dagster/row_count"].value == metadata[defs_inventory.LEVELS]["records"].value
        [check] = result.get_asset_check_evaluations()
        assert check.passed and check.check_name == defs_inventory.NON_NEGATIVE_CHECK

        skipped = evaluate(sensor, instance, resources)
        assert not skipped.run_requests and "nothing new" in skipped.skip_message
