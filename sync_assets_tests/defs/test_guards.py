"""A failing blocking check upstream, evaluated in another run, stops the marts and the snapshot.

Through Dagster's own APIs on a real instance: the orders flow's sales-order totals check (on
``netsuite/sales_orders``, upstream of ``warehouse/raw/sync_events`` → staging → marts → snapshot) is
recorded failed, then passed; the export's dbt build and snapshot are held back, then go through.
"""

from __future__ import annotations

import os

import dagster as dg
from dagster_duckdb import DuckDBResource

from sync_assets.defs import orders, warehouse_export, warehouse_load, warehouse_models
from sync_assets.defs.resources import build_resources
from sync_assets.domain.policy import load_policy

MODELS = warehouse_models.build_dbt_assets()


def _assets():
    policy = load_policy()
    export = warehouse_export.definitions(policy.entity("warehouse_export"), MODELS)
    snapshot = next(a for a in export.assets if warehouse_export.SNAPSHOT in a.keys)
    upstream = [*orders.definitions(policy.entity("orders")).assets,
                *warehouse_load.definitions(policy.entity("warehouse_load")).assets]
    return [*upstream, MODELS, snapshot], [MODELS, snapshot]


def _totals_check(instance, passed: bool) -> None:
    instance.report_runless_asset_event(dg.AssetCheckEvaluation(
        asset_key=orders.SALES_ORDERS, check_name=orders.TOTALS_CHECK, passed=passed,
        description=None if passed else "shopify-order-1: NetSuite 10.00, storefront 12.00",
        severity=dg.AssetCheckSeverity.ERROR,
    ))  # fmt: skip


def _export(instance, tmp_path, assets, selection):
    return dg.materialize(
        assets, selection=selection, instance=instance, raise_on_error=False,
        resources={**build_resources(),  # the unselected flow assets need theirs bound (never called)
                   "warehouse": DuckDBResource(database=str(tmp_path / "live.duckdb")),
                   **warehouse_models.definitions(MODELS).resources},
        run_config={"ops": {"warehouse__analyst_snapshot": {"config": {"snapshot_dir": str(tmp_path / "snap")}}}},
    )  # fmt: skip


def test_a_failing_upstream_blocking_check_stops_the_marts_and_the_snapshot_until_it_passes(tmp_path):
    assets, selection = _assets()
    with dg.instance_for_test() as instance:
        _totals_check(instance, passed=False)
        held = _export(instance, tmp_path, assets, selection)
        assert not held.success
        failure = next(e for e in held.all_events if e.is_step_failure).step_failure_data.error.message
        assert "netsuite/sales_orders:totals_match_storefront failed" in failure and "NetSuite 10.00" in failure
        materialized = {e.asset_key for e in held.get_asset_materialization_events()}
        assert warehouse_export.SNAPSHOT not in materialized and not materialized & set(MODELS.keys)
        assert not os.path.exists(tmp_path / "snap" / "current")

        _totals_check(instance, passed=True)  # a later orders run passes: the export goes through
        released = _export(instance, tmp_path, assets, selection)
        assert released.success
        assert warehouse_export.SNAPSHOT in {e.asset_key for e in released.get_asset_materialization_events()}
        assert os.path.exists(tmp_path / "snap" / "current")


def test_a_warning_severity_failure_does_not_hold_the_export_back(tmp_path):
    assets, selection = _assets()
    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(dg.AssetCheckEvaluation(
            asset_key=orders.SALES_ORDERS, check_name=orders.TOTALS_CHECK, passed=False,
            severity=dg.AssetCheckSeverity.WARN))  # fmt: skip
        assert _export(instance, tmp_path, assets, selection).success


def test_every_guard_is_a_blocking_check_upstream_of_the_marts():
    from sync_assets.defs import guards
    from sync_assets.definitions import defs

    graph = defs().resolve_asset_graph()
    marts = [k for k in MODELS.keys if k.path[1] == "analytics"]
    upstream = set().union(*(graph.get_ancestor_asset_keys(k) for k in marts))
    for check in guards._guards():
        assert check in graph.asset_check_keys and graph.get_check_spec(check).blocking, check
        assert check.asset_key in upstream, check
