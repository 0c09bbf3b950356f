"""The orders Dagster glue: sensor decisions through Dagster's own test APIs, and a real in-process run of
job ``orders_sync`` against the sandbox with its blocking totals check."""

from __future__ import annotations

import dagster as dg
from dagster_duckdb import DuckDBResource

from sync_assets.defs import orders as orders_defs
from sync_assets.defs.lanes import FINGERPRINT_TAG, FLOW_TAG
from sync_assets.defs.resources import LandingResource, LedgerResource, NetSuiteResource, ShopifyResource
from sync_assets.sandbox import credentials as C
from sync_assets_tests.flows.orders_support import CONFIG, assert_exactly_once, place_orders, netsuite_client, policy


def _resources(sandbox, tmp_path):
    return {
        "shopify": ShopifyResource(shop_url=sandbox.url, access_token=C.SHOPIFY_ACCESS_TOKEN, api_version=C.SHOPIFY_API_VERSION),
        "netsuite": NetSuiteResource(base_url=sandbox.url, account_id=C.NETSUITE_ACCOUNT_ID,
                                     consumer_key=C.NETSUITE_CONSUMER_KEY, consumer_secret=C.NETSUITE_CONSUMER_SECRET,
                                     token_id=C.NETSUITE_TOKEN_ID, token_secret=C.NETSUITE_TOKEN_SECRET),
        "ledger": LedgerResource(path=str(tmp_path / "ledger.sqlite")),
        "warehouse": DuckDBResource(database=str(tmp_path / "warehouse.duckdb")),
        "landing": LandingResource(path=str(tmp_path / "landing")),
    }


def test_sensor_requests_one_coalesced_run_then_skips_and_the_job_syncs(sandbox, tmp_path):
    resources = _resources(sandbox, tmp_path)
    defs = dg.Definitions.merge(orders_defs.definitions(policy(), CONFIG), dg.Definitions(resources=resources))
    sensor = defs.get_sensor_def("orders_sensor")
    with dg.instance_for_test() as instance:
        def tick():
            with dg.build_sensor_context(
                instance=instance, resources={k: resources[k] for k in ("shopify", "ledger")}
            ) as ctx:
                return sensor.evaluate_tick(ctx)

        assert not tick().run_requests  # nothing placed yet
        gids = place_orders(sandbox, 3)
        first, second = tick(), tick()
        assert len(first.run_requests) == 1
        key = first.run_requests[0].run_key
        assert key == second.run_requests[0].run_key and key.startswith("orders:") and key.endswith(":0")
        fingerprint = first.run_requests[0].tags[FINGERPRINT_TAG]

        in_flight = instance.create_run_for_job(
            defs.resolve_job_def("orders_sync"), tags={FLOW_TAG: "orders", FINGERPRINT_TAG: fingerprint})
        instance.report_run_failed(in_flight)  # a finished run that left the work pending → a fresh key
        assert tick().run_requests[0].run_key.endswith(":1")
        busy = instance.create_run_for_job(defs.resolve_job_def("orders_sync"), tags={FLOW_TAG: "orders"})
        instance.handle_run_event(busy.run_id, dg.DagsterEvent(  # mark it STARTED
            event_type_value="PIPELINE_START", job_name=busy.job_name))
        skip = tick()
        assert not skip.run_requests and "in flight" in skip.skip_message
        instance.report_run_failed(busy)

        # The webhook launcher is asking Dagster for a run this moment: the sensor must not ask too.
        ledger = resources["ledger"].get_ledger()
        assert ledger.launch_lease_holder("orders") == "sensor"  # from the ticks above (no daemon made their runs)
        assert not ledger.take_launch_lease("orders", "webhook")
        ledger.release_launch_lease("orders")
        assert ledger.take_launch_lease("orders", "webhook")
        skip = tick()
        assert not skip.run_requests and skip.skip_message == "webhook is launching a run for orders; it takes what arrived"
        ledger.release_launch_lease("orders")
        assert tick().run_requests and ledger.launch_lease_holder("orders") == "sensor"

        result = defs.resolve_job_def("orders_sync").execute_in_process(instance=instance)
        assert result.success
        assert ledger.launch_lease_holder("orders") is None  # the run released the sensor's lease as it started
        check = result.get_asset_check_evaluations()[0]
        assert check.passed and check.metadata["orders_checked"].value == 3
        meta = result.asset_materializations_for_node("orders_to_netsuite")[0].metadata
        assert meta["records_synced"].value == 3
        assert_exactly_once(netsuite_client(sandbox), gids)
        assert tick().skip_message == "nothing new for orders"  # drained


def test_code_location_has_the_orders_job_and_sensor():
    from sync_assets.definitions import defs

    resolved = defs()
    assert resolved.resolve_job_def("orders_sync").executor_def.name == "in_process"
    assert resolved.get_sensor_def("orders_sensor").minimum_interval_seconds == 1
