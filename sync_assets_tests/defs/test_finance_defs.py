"""The finance job through Dagster's own API against the sandbox: a daily partition lands the day and its
blocking tie-out check passes; a planted difference fails it, listed in its metadata, and holds the marts and
the snapshot (the guards) until the fix and a re-run of the day; an order in flight (placed, not yet in
NetSuite) is a warning that holds nothing, until it stays unsynced past the grace; the schedule runs the
shop's previous day."""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import dagster as dg

from sync_assets.defs import finance as defs_finance
from sync_assets.defs import guards
from sync_assets.domain.finance import MISSING_IN_NETSUITE, ONLY_IN_NETSUITE
from sync_assets.domain.ids import order_external_id
from sync_assets.domain.policy import AccountPolicy, EntityPolicy
from sync_assets.flows.orders import run_orders_flow
from sync_assets_tests.defs.test_guards import _assets, _export
from sync_assets_tests.defs.test_inventory_defs import sandbox_resources
from sync_assets_tests.flows.orders_support import CONFIG, ledger_at, netsuite_client, policy, shopify_client
from sync_assets_tests.flows.test_finance_flow import _synced_day

POLICY = EntityPolicy("finance", "batch", cron="0 4 * * *", timezone="UTC")
GUARD = "warehouse/raw_netsuite_transactions:storefront_ties_out_with_netsuite"


def _run(defs: dg.Definitions, instance, resources, day: str, **config) -> dg.ExecuteInProcessResult:
    job = dg.Definitions.merge(defs, dg.Definitions(resources=resources)).resolve_job_def(defs_finance.JOB_NAME)
    run_config = {"ops": {"finance_day": {"config": config}}} if config else None
    return job.execute_in_process(instance=instance, partition_key=day, run_config=run_config, raise_on_error=False)


def _tieout(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == defs_finance.TIES_OUT
    return check


def _listed(check: dg.AssetCheckEvaluation) -> dict[tuple[str, str, str], bool]:
    return {(d["kind"], d["problem"], d["external_id"]): d["blocks"] for d in check.metadata["all_differences"].value}


def _held_by_the_tieout(instance, tmp_path, day: str) -> str:
    """The marts' build and the snapshot, refused in a run of their own: the failure names the tie-out."""
    assets, selection = _assets()
    held = _export(instance, tmp_path, assets, selection)
    assert not held.success and not held.get_asset_materialization_events()
    message = next(e for e in held.all_events if e.is_step_failure).step_failure_data.error.message
    assert f"{GUARD} failed for {day}" in message
    return message


def test_a_planted_difference_fails_the_day_and_holds_the_marts_until_fixed_and_rerun(sandbox, tmp_path):
    placed, _, netsuite = _synced_day(sandbox, tmp_path)
    resources = sandbox_resources(sandbox.url, tmp_path)
    defs = defs_finance.definitions(POLICY)
    today = datetime.now(timezone.utc).date().isoformat()
    with dg.instance_for_test() as instance:
        first = _run(defs, instance, resources, today)
        check = _tieout(first)
        assert first.success and check.passed and check.metadata["differences"].value == 0
        assert check.partition == today
        rows = {m.asset_key: m.metadata["dagster/row_count"].value
                for m in first.asset_materializations_for_node("finance_day")}
        assert rows == {defs_finance.RAW_TRANSACTIONS: 4, defs_finance.RAW_REFUND_DEPOSITS: 1,
                        defs_finance.RAW_BALANCE_TRANSACTIONS: 2, defs_finance.RAW_PAYOUTS: 1}
        assert guards.failing_upstream_checks(instance) == []

        # Planted: a sales order carrying our external id that no storefront order of the day has (another
        # connector, a restored backup). No order is in flight: it fails the day whatever the grace.
        ours = netsuite.get_record("salesOrder", f"eid:{order_external_id(placed[1]['id'])}", expand=True)
        stray = "shopify-order-990000001"
        netsuite.upsert_record("salesOrder", stray, {
            "entity": {"id": ours["entity"]["id"]}, "otherRefNum": "#stray", "tranDate": ours["tranDate"],
            "item": {"items": [{"item": {"id": line["item"]["id"]}, "quantity": line["quantity"],
                                "rate": line.get("rate", 1)} for line in ours["item"]["items"]]}})  # fmt: skip
        failed = _run(defs, instance, resources, today)
        check = _tieout(failed)
        assert not failed.success and not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
        assert _listed(check) == {("sales_order", ONLY_IN_NETSUITE, stray): True}
        assert (check.metadata["blocking"].value, check.metadata["healing"].value) == (1, 0)
        # The day's raw landing still materialized: the check holds what is downstream, not the landing.
        assert instance.get_latest_materialization_event(defs_finance.RAW_TRANSACTIONS).dagster_event \
            .partition == today
        [failing] = guards.failing_upstream_checks(instance)
        assert failing.startswith(f"{GUARD} failed for {today}") and "1 difference(s)" in failing
        _held_by_the_tieout(instance, tmp_path, today)

        # Fixed in NetSuite; the day's re-run passes and releases the marts (and a second re-run stays green).
        sandbox.control.delete_sales_order(stray)
        for _ in range(2):
            again = _run(defs, instance, resources, today)
            assert again.success and _tieout(again).passed
            assert guards.failing_upstream_checks(instance) == []


def test_an_order_in_flight_is_a_warning_until_it_stays_unsynced_past_the_grace(sandbox, tmp_path):
    _synced_day(sandbox, tmp_path)
    resources = sandbox_resources(sandbox.url, tmp_path)
    defs = defs_finance.definitions(POLICY)
    today = datetime.now(timezone.utc).date().isoformat()
    [flying] = sandbox.control.place_orders(1, seed=3)  # on the storefront, not (yet) in NetSuite
    missing = ("sales_order", MISSING_IN_NETSUITE, order_external_id(flying["id"]))
    with dg.instance_for_test() as instance:
        warned = _run(defs, instance, resources, today)
        check = _tieout(warned)
        assert warned.success and not check.passed and check.severity == dg.AssetCheckSeverity.WARN
        listed = _listed(check)
        assert listed[missing] is False and not any(listed.values())  # all of it the order in flight
        assert {d["order_id"] for d in check.metadata["all_differences"].value} == {flying["id"]}
        assert check.metadata["healing"].value == len(listed) and check.metadata["blocking"].value == 0
        assert "in flight" in check.description
        assert guards.failing_upstream_checks(instance) == []  # holds nothing

        # The real-time lane did not write it (no orders run) and the grace is over: the day fails.
        overdue = _run(defs, instance, resources, today, healing_seconds=0)
        check = _tieout(overdue)
        assert not overdue.success and check.severity == dg.AssetCheckSeverity.ERROR
        assert _listed(check)[missing] is True and check.metadata["healing"].value == 0
        _held_by_the_tieout(instance, tmp_path, today)

        # The orders flow writes it: the day's re-run passes, even with no grace at all, and releases the marts.
        run_orders_flow(shopify_client(sandbox), netsuite_client(sandbox), ledger_at(tmp_path), policy(),
                        run_id="orders-3", config=CONFIG)  # fmt: skip
        healed = _run(defs, instance, resources, today, healing_seconds=0)
        assert healed.success and _tieout(healed).passed
        assert guards.failing_upstream_checks(instance) == []


def test_the_schedule_runs_the_previous_day_of_the_shop_and_partitions_follow_its_zone(tmp_path):
    account = AccountPolicy(order_date_timezone="America/Los_Angeles", start_date=datetime(2026, 11, 1, tzinfo=timezone.utc))
    defs = defs_finance.definitions(POLICY, account)
    [schedule] = defs.schedules
    # 03:00 UTC on Dec 7 is still Dec 6 in Los Angeles: the last complete day there is Dec 5.
    repository = dg.Definitions.merge(defs, dg.Definitions(resources=sandbox_resources("http://127.0.0.1:9", tmp_path))) \
        .get_repository_def()
    with dg.build_schedule_context(scheduled_execution_time=datetime(2026, 12, 7, 3, 0, tzinfo=timezone.utc),
                                   repository_def=repository) as ctx:
        [request] = schedule.evaluate_tick(ctx).run_requests
    assert (request.partition_key, request.run_key) == ("2026-12-05", "finance:2026-12-05:2026-12-07T03:00:00+00:00")
    days = defs_finance.partitions(account)
    assert days.timezone == "America/Los_Angeles"
    assert days.get_first_partition_key() == "2026-11-01"
    realtime = EntityPolicy("finance", "realtime", interval_seconds=60)
    tick = SimpleNamespace(scheduled_execution_time=datetime(2026, 12, 6, 16, 0, tzinfo=timezone.utc))
    assert defs_finance.partition_keys("Asia/Tokyo", realtime)(tick) == ["2026-12-07"]
