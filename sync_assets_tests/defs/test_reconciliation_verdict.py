"""The day's reconciliation verdict as a blocking check on its partition, through Dagster's own APIs against
the sandbox: a planted duplicate fails the day and holds the marts' build (another run, read through the
guards), a day that passes later does not hide it, and once the duplicate is gone from NetSuite a re-run
of the day passes and releases the marts; a missing order just re-queued is a warning that holds nothing,
until it has stayed missing past the healing window."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from sync_assets.defs import guards
from sync_assets.defs import reconciliation as defs_rec
from sync_assets.domain.ids import order_external_id
from sync_assets.domain.policy import AccountPolicy
from sync_assets.domain.shop_days import local_day
from sync_assets.flows.orders import run_orders_flow
from sync_assets.flows.reconciliation import DUPLICATED, MISSING
from sync_assets_tests.defs.test_guards import _assets, _export
from sync_assets_tests.defs.test_inventory_defs import sandbox_resources
from sync_assets_tests.defs.test_reconciliation_defs import POLICY, _materialize, _plant_duplicate_and_gap
from sync_assets_tests.flows.orders_support import CONFIG, ledger_at, netsuite_client, policy, shopify_client

GUARD = "warehouse/reconciliation_findings:reconciles"


def _verdict(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == defs_rec.RECONCILES
    return check


def _listed(check: dg.AssetCheckEvaluation) -> dict[tuple[str, str], bool]:
    return {(r.data["kind"], r.data["order_id"]): r.data["blocks"] for r in check.metadata["open_findings"].value.records}


def test_a_duplicate_fails_the_day_and_holds_the_marts_until_it_is_gone_and_the_day_is_rerun(sandbox, tmp_path):
    resources = sandbox_resources(sandbox.url, tmp_path)
    duplicate, gap = _plant_duplicate_and_gap(sandbox, tmp_path)
    day = local_day(duplicate["createdAt"], "UTC")
    defs = defs_rec.definitions(POLICY, AccountPolicy())
    assets, selection = _assets()
    with dg.instance_for_test() as instance:
        failed = _materialize(defs, instance, resources, day.isoformat())
        check = _verdict(failed)
        assert not failed.success and not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
        assert check.partition == day.isoformat() and (check.metadata["blocking"].value, check.metadata["healing"].value) == (1, 1)
        # Every open finding listed; only the duplicate blocks, the gap was just re-queued (being healed).
        assert _listed(check) == {(DUPLICATED, duplicate["id"]): True, (MISSING, gap["id"]): False}
        assert "1 duplicated" in check.description
        # The findings were materialized (and landed) before the verdict failed the run.
        assert failed.asset_materializations_for_node("warehouse__reconciliation_findings")

        # The day before reconciles (no orders): its passing verdict is later, and must not hide the failing day.
        assert _verdict(_materialize(defs, instance, resources, (day - timedelta(days=1)).isoformat())).passed
        [failing] = guards.failing_upstream_checks(instance)
        assert failing.startswith(f"{GUARD} failed for {day.isoformat()}") and "1 duplicated" in failing

        held = _export(instance, tmp_path, assets, selection)
        assert not held.success
        message = next(e for e in held.all_events if e.is_step_failure).step_failure_data.error.message
        assert f"{GUARD} failed for {day.isoformat()}" in message
        assert not held.get_asset_materialization_events()

        # Healed: the orders flow writes the re-queued gap, someone removes the other connector's sales order.
        run_orders_flow(shopify_client(sandbox), netsuite_client(sandbox), ledger_at(tmp_path), policy(),
                        run_id="orders-heal", config=CONFIG)  # fmt: skip
        sandbox.control.delete_sales_order("other-connector-9")
        healed = _materialize(defs, instance, resources, day.isoformat())
        check = _verdict(healed)
        assert healed.success and check.passed and check.metadata["open"].value == 0
        assert guards.failing_upstream_checks(instance) == []


def test_a_requeued_order_is_a_warning_until_it_stays_missing_past_the_healing_window(sandbox, tmp_path):
    resources = sandbox_resources(sandbox.url, tmp_path)
    shopify, netsuite, ledger = shopify_client(sandbox), netsuite_client(sandbox), ledger_at(tmp_path)
    [order] = sandbox.control.place_orders(1, seed=61)
    run_orders_flow(shopify, netsuite, ledger, policy(), run_id="orders-0", config=CONFIG)
    sandbox.control.delete_sales_order(order_external_id(order["id"]))  # gone from NetSuite, "done" in the ledger
    day = local_day(order["createdAt"], "UTC").isoformat()
    defs = defs_rec.definitions(POLICY, AccountPolicy())
    with dg.instance_for_test() as instance:
        healing = _materialize(defs, instance, resources, day)
        check = _verdict(healing)
        assert healing.success and not check.passed and check.severity == dg.AssetCheckSeverity.WARN
        assert _listed(check) == {(MISSING, order["id"]): False} and "real-time lane" in check.description
        assert guards.failing_upstream_checks(instance) == []  # being healed: holds nothing

        # The real-time lane did not write it (no orders run here) and the window is over: the day fails.
        overdue = _materialize(defs, instance, resources, day, healing_seconds=0)
        check = _verdict(overdue)
        assert not overdue.success and check.severity == dg.AssetCheckSeverity.ERROR
        assert _listed(check) == {(MISSING, order["id"]): True}
        [failing] = guards.failing_upstream_checks(instance)
        assert failing.startswith(f"{GUARD} failed for {day}") and "1 missing" in failing
