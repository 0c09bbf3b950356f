"""Reconciliation through Dagster's own APIs against the sandbox: a day partition materialized while the
living shop streams orders and the real-time lane (the orders flow, in a thread) writes them; its findings
as table metadata, the blocking check listing what is open; a re-run of the same day heals what the orders flow
wrote meanwhile; the schedule asks for yesterday in the shop's zone plus the recent days with open findings."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import dagster as dg

from sync_assets.defs import reconciliation as defs_rec
from sync_assets.domain.ids import order_external_id
from sync_assets.domain.policy import AccountPolicy, EntityPolicy
from sync_assets.domain.shop_days import day_bounds, local_day
from sync_assets.flows.orders import run_orders_flow
from sync_assets.flows.reconciliation import CHECK, DUPLICATED, HEALED, MISSING, OPEN
from sync_assets.state.ledger import Ledger, SeenFinding
from sync_assets_tests.defs.test_inventory_defs import sandbox_resources
from sync_assets_tests.flows.orders_support import (
    CONFIG,
    assert_exactly_once,
    ledger_at,
    netsuite_client,
    policy,
    shopify_client,
)

POLICY = EntityPolicy("reconciliation", "batch", cron="30 3 * * *", batch_size=1000)


# The default grace (15 minutes) would leave every order just placed out; an operator's run config shortens it
# (grace_seconds=0 in every run below).


def _materialize(defs: dg.Definitions, instance, resources, day: str, **config) -> dg.ExecuteInProcessResult:
    """The day's run; a failing verdict fails it (a blocking check), so errors are returned, not raised."""
    job = dg.Definitions.merge(defs, dg.Definitions(resources=resources)).resolve_job_def(defs_rec.JOB_NAME)
    run_config = {"ops": {"warehouse__reconciliation_findings": {"config": {"grace_seconds": 0, **config}}}}
    return job.execute_in_process(instance=instance, partition_key=day, run_config=run_config, raise_on_error=False)


def _metadata(result: dg.ExecuteInProcessResult) -> dict:
    [materialization] = result.asset_materializations_for_node("warehouse__reconciliation_findings")
    return materialization.metadata


def _plant_duplicate_and_gap(sandbox, tmp_path) -> tuple[dict, dict]:
    """A second sales order by "another connector" for one order; another order's sales order deleted in
    NetSuite after the ledger recorded it done (no sync run notices that by itself)."""
    shopify, netsuite, ledger = shopify_client(sandbox), netsuite_client(sandbox), ledger_at(tmp_path)
    order, gap = sandbox.control.place_orders(2, seed=51)
    run_orders_flow(shopify, netsuite, ledger, policy(), run_id="orders-0", config=CONFIG)
    sandbox.control.delete_sales_order(order_external_id(gap["id"]))
    assert ledger.get_entry("orders", gap["id"]).status == "done"
    ours = netsuite.get_record("salesOrder", f"eid:{order_external_id(order['id'])}", expand=True)
    lines = [{"item": {"id": line["item"]["id"]}, "quantity": line["quantity"], "rate": line.get("rate", 1)}
             for line in ours["item"]["items"]]
    netsuite.upsert_record("salesOrder", "other-connector-9", {
        "entity": {"id": ours["entity"]["id"]}, "otherRefNum": order["name"], "item": {"items": lines},
        "tranDate": ours["tranDate"]})  # fmt: skip
    return order, gap


def test_a_day_reconciles_while_orders_stream_and_a_rerun_heals_what_was_written(sandbox, tmp_path):
    resources = sandbox_resources(sandbox.url, tmp_path)
    duplicate, gap = _plant_duplicate_and_gap(sandbox, tmp_path)
    day = local_day(duplicate["createdAt"], "UTC").isoformat()
    defs = defs_rec.definitions(POLICY, AccountPolicy())
    stop, lane_runs, lane_errors = threading.Event(), [0], []

    def real_time_lane() -> None:  # the orders sensor's runs, back to back, while the shop streams
        shopify, netsuite, ledger = shopify_client(sandbox), netsuite_client(sandbox), ledger_at(tmp_path)
        while not stop.is_set():
            try:
                run_orders_flow(shopify, netsuite, ledger, policy(), run_id=f"orders-{lane_runs[0] + 1}", config=CONFIG)
                lane_runs[0] += 1
            except Exception as exc:  # noqa: BLE001 - reported below, the test fails on it
                lane_errors.append(exc)
                return
            stop.wait(0.2)

    sandbox.control.stream(orders_per_minute=120)
    lane = threading.Thread(target=real_time_lane, daemon=True)
    lane.start()
    try:
        with dg.instance_for_test() as instance:
            during = _materialize(defs, instance, resources, day)
            runs_during = lane_runs[0]
            sandbox.control.stop_stream()
            stop.set()
            lane.join(timeout=60)
            assert not lane_errors, lane_errors
            # Drain what the stream placed last (and anything reconciliation re-queued).
            shopify, netsuite, ledger = shopify_client(sandbox), netsuite_client(sandbox), ledger_at(tmp_path)
            for n in range(3):
                run_orders_flow(shopify, netsuite, ledger, policy(), run_id=f"orders-drain-{n}", config=CONFIG)
            after = _materialize(defs, instance, resources, day)
    finally:
        sandbox.control.stop_stream()
        stop.set()

    # The duplicate fails the day (a blocking check): both runs fail, after landing and showing their findings.
    assert not during.success and not after.success and runs_during >= 1
    first = _metadata(during)
    assert first["orders_checked"].value >= 1 and first["shopify_cost_points"].value > 0
    rows = first["findings"].value.records
    kinds = {r.data["kind"] for r in rows}
    assert DUPLICATED in kinds and kinds <= {DUPLICATED, "missing"}  # missing: the gap, and streamed ones not written yet
    assert (MISSING, gap["id"]) in {(r.data["kind"], r.data["order_id"]) for r in rows}
    [check] = during.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.metadata["open_duplicated"].value == 1 and check.partition == day

    second = _metadata(after)
    ledger = Ledger(tmp_path / "ledger.sqlite")
    tracked = ledger.findings(CHECK, partition=day, status=None)
    assert [(f.kind, f.source_id) for f in tracked if f.status == OPEN] == [(DUPLICATED, duplicate["id"])]
    assert all(f.status == HEALED for f in tracked if f.kind == MISSING)
    assert (MISSING, gap["id"], HEALED) in {(f.kind, f.source_id, f.status) for f in tracked}
    assert second["healed_findings"].value == sum(1 for r in rows if r.data["kind"] == MISSING)
    assert len({(f.kind, f.source_id) for f in tracked}) == len(tracked)  # no finding twice
    [check] = after.get_asset_check_evaluations()
    listed = check.metadata["open_findings"].value.records
    assert not check.passed and [r.data["order_id"] for r in listed] == [duplicate["id"]]
    requeued = [r.data["order_id"] for r in rows if r.data["kind"] == MISSING]
    assert_exactly_once(netsuite_client(sandbox), requeued)  # re-queued, then written once


def test_the_schedule_runs_yesterday_in_the_shop_zone_and_recent_days_with_open_findings(tmp_path):
    tz = "Pacific/Kiritimati"  # UTC+14: at 11:00 UTC on the 7th it is 01:00 on the 8th there
    ledger = Ledger(tmp_path / "ledger.sqlite")
    for day in ("2026-12-04", "2026-11-20"):  # three days back, and too old to re-run every night
        ledger.record_findings(CHECK, day, [SeenFinding("missing", f"gid://shopify/Order/{day}")])
    ledger.record_findings(CHECK, "2026-12-05", [SeenFinding("missing", "gid://shopify/Order/healed")])
    ledger.record_findings(CHECK, "2026-12-05", [])  # healed by a re-run
    defs = defs_rec.definitions(POLICY, AccountPolicy(order_date_timezone=tz))
    [schedule] = defs.schedules
    resources = sandbox_resources("http://127.0.0.1:9", tmp_path)  # only the ledger is read
    when = datetime(2026, 12, 7, 11, 0, tzinfo=timezone.utc)
    repository = dg.Definitions.merge(defs, dg.Definitions(resources=resources)).get_repository_def()
    with dg.build_schedule_context(scheduled_execution_time=when, resources=resources,
                                   repository_def=repository) as context:
        requests = schedule.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requests] == ["2026-12-04", "2026-12-07"]
    assert len({r.run_key for r in requests}) == 2
    partitions = defs_rec.daily_partitions(AccountPolicy(order_date_timezone=tz))
    assert partitions.timezone == tz
    window = partitions.time_window_for_partition_key("2026-12-08")  # midnight there is 10:00 UTC the day before
    assert window.start == datetime(2026, 12, 7, 10, tzinfo=timezone.utc) == day_bounds("2026-12-08", tz)[0]


def test_partitions_start_at_the_policy_start_date_on_the_shop_calendar():
    start = datetime(2026, 3, 1, 6, tzinfo=timezone.utc)  # still Feb 28 in Los Angeles
    partitions = defs_rec.daily_partitions(AccountPolicy(order_date_timezone="America/Los_Angeles", start_date=start))
    assert partitions.get_first_partition_key() == "2026-02-28"


def test_moved_to_the_real_time_lane_its_sensor_reconciles_today_in_the_shop_zone(tmp_path):
    tz = "Pacific/Kiritimati"
    defs = defs_rec.definitions(EntityPolicy("reconciliation", "realtime", interval_seconds=60),
                                AccountPolicy(order_date_timezone=tz))  # fmt: skip
    [sensor] = defs.sensors
    resources = sandbox_resources("http://127.0.0.1:9", tmp_path)
    repository = dg.Definitions.merge(defs, dg.Definitions(resources=resources)).get_repository_def()
    with dg.instance_for_test() as instance, dg.build_sensor_context(
            instance=instance, resources=resources, repository_def=repository) as context:
        [request] = sensor.evaluate_tick(context).run_requests
    assert request.partition_key == local_day(datetime.now(timezone.utc), tz).isoformat()
