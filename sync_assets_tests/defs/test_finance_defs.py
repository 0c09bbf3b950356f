"""The finance job through Dagster's own API against the sandbox: a daily partition lands the day and its
blocking tie-out check passes; a difference planted through the control API fails it, listed in its metadata;
the schedule runs the shop's previous day."""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import dagster as dg

from sync_assets.defs import finance as defs_finance
from sync_assets.domain.finance import MISSING_IN_NETSUITE
from sync_assets.domain.ids import order_external_id
from sync_assets.domain.policy import AccountPolicy, EntityPolicy
from sync_assets_tests.defs.test_inventory_defs import sandbox_resources
from sync_assets_tests.flows.test_finance_flow import _synced_day

POLICY = EntityPolicy("finance", "batch", cron="0 4 * * *", timezone="UTC")


def _run(defs: dg.Definitions, instance, resources, day: str) -> dg.ExecuteInProcessResult:
    job = dg.Definitions.merge(defs, dg.Definitions(resources=resources)).resolve_job_def(defs_finance.JOB_NAME)
    return job.execute_in_process(instance=instance, partition_key=day, raise_on_error=False)


def test_a_day_ties_out_then_a_planted_difference_fails_the_blocking_check(sandbox, tmp_path):
    _synced_day(sandbox, tmp_path)
    resources = sandbox_resources(sandbox.url, tmp_path)
    defs = defs_finance.definitions(POLICY)
    today = datetime.now(timezone.utc).date().isoformat()
    with dg.instance_for_test() as instance:
        first = _run(defs, instance, resources, today)
        assert first.success
        [check] = first.get_asset_check_evaluations()
        assert check.passed and check.metadata["differences"].value == 0
        rows = {m.asset_key: m.metadata["dagster/row_count"].value
                for m in first.asset_materializations_for_node("finance_day")}
        assert rows == {defs_finance.RAW_TRANSACTIONS: 4, defs_finance.RAW_REFUND_DEPOSITS: 1,
                        defs_finance.RAW_BALANCE_TRANSACTIONS: 2, defs_finance.RAW_PAYOUTS: 1}

        [planted] = sandbox.control.place_orders(1, seed=3)  # in the storefront, not (yet) in NetSuite
        second = _run(defs, instance, resources, today)
        [check] = second.get_asset_check_evaluations()
        assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
        listed = check.metadata["all_differences"].value
        assert {"kind": "sales_order", "problem": MISSING_IN_NETSUITE, "external_id": order_external_id(planted["id"]),
                "order": planted["name"], "storefront": listed[0]["storefront"], "netsuite": None} in listed
        assert check.metadata["differences"].value == len(listed) >= 1
        assert instance.get_latest_materialization_event(defs_finance.RAW_TRANSACTIONS).dagster_event \
            .partition == today


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
