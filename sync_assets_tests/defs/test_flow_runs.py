"""raw.flow_runs: every run lands one row — a flow's job with the run's real API counters (equal to the
sandbox's own for that run), a failed run included, a backfill over a range of months, the warehouse load
recording itself, and a run that died before any step ended (resources that failed to start, a killed run
worker) through the failure sensor; a second run, a second sensor tick and a re-merge add no copies."""

from __future__ import annotations

from datetime import datetime

import dagster as dg
import duckdb
import pandas as pd

from sync_assets.defs import customers as customers_defs
from sync_assets.defs import orders as orders_defs
from sync_assets.defs import warehouse_load as load_defs
from sync_assets.defs.lanes import FLOW_TAG, TRIGGER_TAG
from sync_assets.defs.order_history import JOB_NAME as HISTORY_JOB
from sync_assets.defs.order_history import definitions as order_history_definitions
from sync_assets.defs.resources import NetSuiteResource
from sync_assets.defs.run_record import SENSOR_NAME, TABLE, failed_run_sensor, flows_by_asset, record_runs
from sync_assets.domain.policy import AccountPolicy, EntityPolicy
from sync_assets.flows.customers import CrmConfig
from sync_assets.sandbox import credentials as C
from sync_assets.warehouse.merge import merge_pending
from sync_assets.warehouse.schema import RAW_TABLES
from sync_assets_tests.defs.test_orders_defs import _resources
from sync_assets_tests.flows.orders_support import CONFIG, place_orders, policy, shopify_client
from sync_assets_tests.flows.test_order_history import FAST, NEW_YORK, _seed_month_boundary


def _sandbox_spend(sandbox) -> dict[str, float]:
    counters = sandbox.control.counters()["counters"]
    return {
        "shopify_calls": sum(v for k, v in counters.items() if k.startswith("shopify.calls.")),
        "shopify_cost_points": sum(v for k, v in counters.items() if k.startswith("shopify.cost.")),
        "netsuite_calls": counters.get("requests.netsuite", 0),
    }


def _flow_runs(path) -> list[dict]:
    with duckdb.connect(str(path), read_only=True) as conn:
        cur = conn.execute("SELECT * FROM raw.flow_runs ORDER BY ended_at")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]


def _landed_rows_of(ledger, run_id: str) -> int:
    """Files the run's rows were landed in so far, merged or not (the ledger keeps them)."""
    with ledger._transaction() as conn:  # a read of the queue's own table, for the test only
        return conn.execute("SELECT count(*) FROM landed_files WHERE raw_table = ? AND run_id = ?",
                            (TABLE, run_id)).fetchone()[0]


def _tick(sensor, instance, resources, cursor: str | None = None) -> str | None:
    """One evaluation of the failure sensor, as the daemon runs it; returns its cursor for the next."""
    with dg.build_sensor_context(instance=instance, resources=resources, cursor=cursor) as ctx:
        return sensor.evaluate_tick(ctx).cursor


def test_each_run_lands_its_row_with_the_sandboxs_counters_and_a_failed_run_too(sandbox, tmp_path):
    resources = _resources(sandbox, tmp_path)
    defs = dg.Definitions.merge(record_runs(orders_defs.definitions(policy(), CONFIG), "orders"),
                                dg.Definitions(resources=resources))
    job = defs.resolve_job_def(orders_defs.JOB_NAME)
    ledger, warehouse = resources["ledger"].get_ledger(), tmp_path / "warehouse.duckdb"
    sensor = failed_run_sensor(flows_by_asset({"orders": orders_defs.definitions(policy(), CONFIG)}))
    with dg.instance_for_test() as instance:
        cursor = _tick(sensor, instance, resources)  # a run-failure sensor starts from "now"
        place_orders(sandbox, 3)
        sandbox.control.reset_counters()
        first = job.execute_in_process(instance=instance, tags={FLOW_TAG: "orders", TRIGGER_TAG: "sensor"})
        assert first.success
        spent_first = _sandbox_spend(sandbox)
        merge_pending(str(warehouse), ledger)
        rows = _flow_runs(warehouse)
        assert len(rows) == 1
        row = rows[0]
        assert (row["run_id"], row["flow"], row["lane"], row["trigger"], row["outcome"]) == (
            first.run_id, "orders", "realtime", "sensor", "success")
        assert row["records_synced"] == 3 and row["records_failed"] == 0 and row["records_examined"] >= 3
        assert row["shopify_calls"] == spent_first["shopify_calls"] > 0
        assert row["shopify_cost_points"] == spent_first["shopify_cost_points"] > 0
        assert row["netsuite_calls"] == spent_first["netsuite_calls"] > 0
        assert row["started_at"] <= row["ended_at"]

        # The second run: NetSuite is down, the run fails, and its row says so with what it spent.
        place_orders(sandbox, 1)
        sandbox.control.reset_counters()
        sandbox.control.set_faults("down", service="netsuite")
        try:
            second = job.execute_in_process(instance=instance, raise_on_error=False)
        finally:
            sandbox.control.clear_faults()
        assert not second.success
        spent_second = _sandbox_spend(sandbox)
        merge_pending(str(warehouse), ledger)
        rows = _flow_runs(warehouse)
        assert [r["run_id"] for r in rows] == [first.run_id, second.run_id]
        failed = rows[1]
        assert failed["outcome"] == "failure" and failed["trigger"] == "manual" and failed["records_synced"] == 0
        assert failed["shopify_calls"] == spent_second["shopify_calls"] > 0
        assert failed["shopify_cost_points"] == spent_second["shopify_cost_points"]
        assert failed["netsuite_calls"] >= 1  # attempts sent; the sandbox refuses them before counting a request

        # The failure sensor sees the failed run and leaves it alone: its failure hook landed its row.
        landed = _landed_rows_of(ledger, second.run_id)
        _tick(sensor, instance, resources, cursor)
        assert _landed_rows_of(ledger, second.run_id) == landed >= 1

        # The same rows landed again (a re-run of the landing) and merged add no copies.
        columns = RAW_TABLES["raw.flow_runs"].column_names
        again = pd.DataFrame([{c: r[c] for c in columns} for r in rows])
        resources["landing"].get_area(ledger).land({"raw.flow_runs": again}, "re-landing")
        merge_pending(str(warehouse), ledger)
        assert [r["run_id"] for r in _flow_runs(warehouse)] == [first.run_id, second.run_id]




def test_a_backfill_over_months_its_rerun_and_a_month_materialized_from_its_page_land_a_row_each(sandbox, tmp_path):
    _seed_month_boundary(sandbox)
    area = record_runs(order_history_definitions(
        AccountPolicy(shop_timezone=NEW_YORK, history_start=datetime(2025, 12, 1).date()), FAST), "order_history")
    resources = _resources(sandbox, tmp_path)
    job = dg.Definitions.merge(area, dg.Definitions(resources=resources)).resolve_job_def(HISTORY_JOB)
    ledger, warehouse = resources["ledger"].get_ledger(), tmp_path / "warehouse.duckdb"
    # What Dagster's backfill daemon gives the one run of a single-run backfill over three months.
    months = {"dagster/asset_partition_range_start": "2025-12-01", "dagster/asset_partition_range_end": "2026-02-01"}
    with dg.instance_for_test() as instance:
        sandbox.control.reset_counters()
        first = job.execute_in_process(instance=instance, tags={**months, "dagster/backfill": "bf-1"})
        spent = _sandbox_spend(sandbox)
        second = job.execute_in_process(instance=instance, tags={**months, "dagster/backfill": "bf-2"})
        # One month from the asset's page: Dagster's implicit asset job, no flow tag, no job hooks.
        [asset] = [a for a in area.assets if isinstance(a, dg.AssetsDefinition)]
        third = dg.materialize([asset], partition_key="2026-01-01", resources=resources, instance=instance)
        assert first.success and second.success and third.success
    merge_pending(str(warehouse), ledger)
    merge_pending(str(warehouse), ledger)  # the second merge finds nothing new
    got = [(r["run_id"], r["flow"], r["lane"], r["trigger"], r["partition_key"], r["outcome"]) for r in _flow_runs(warehouse)]
    assert got == [
        (first.run_id, "order_history", "batch", "backfill", "2025-12-01...2026-02-01", "success"),
        (second.run_id, "order_history", "batch", "backfill", "2025-12-01...2026-02-01", "success"),
        (third.run_id, "order_history", "batch", "manual", "2026-01-01", "success"),
    ]
    first_row = _flow_runs(warehouse)[0]
    assert first_row["shopify_calls"] == spent["shopify_calls"] > 0 and first_row["netsuite_calls"] == 0
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM raw.shopify_orders").fetchone() == (3,)  # re-runs added no copies


def test_the_warehouse_load_records_itself_in_its_pool_and_its_own_row_triggers_no_other_load(sandbox, tmp_path):
    from sync_assets.flows.landing import event_frame

    resources = _resources(sandbox, tmp_path)
    area = record_runs(load_defs.definitions(EntityPolicy("warehouse_load", "realtime", interval_seconds=1)),
                       "warehouse_load")
    defs = dg.Definitions.merge(area, dg.Definitions(resources=resources))
    job, sensor = defs.resolve_job_def(load_defs.JOB_NAME), defs.get_sensor_def("warehouse_load_sensor")
    ledger, warehouse = resources["ledger"].get_ledger(), tmp_path / "warehouse.duckdb"
    resources["landing"].get_area(ledger).land({"raw.sync_events": event_frame([
        {"flow": "orders", "source_id": "gid://shopify/Order/1", "status": "synced"}])}, "some-sync-run")

    def tick():
        with dg.build_sensor_context(instance=instance, resources=resources) as ctx:
            return sensor.evaluate_tick(ctx)

    with dg.instance_for_test() as instance:
        instance.event_log_storage.set_concurrency_slots(load_defs.POOL, 1)  # as dagster_instance.yaml has it
        [request] = tick().run_requests
        first = job.execute_in_process(instance=instance, tags=request.tags)
        assert first.success
        skip = tick()  # only the load's own row is pending now: no reason for another load
        assert not skip.run_requests and "nothing new" in skip.skip_message
        assert ledger.landed_summary()["files"] == 1
        second = job.execute_in_process(instance=instance, tags=request.tags)  # the next load, when work arrives
        assert second.success
        assert instance.event_log_storage.get_concurrency_info(load_defs.POOL).active_slot_count == 0
    rows = _flow_runs(warehouse)
    assert [(r["run_id"], r["flow"], r["lane"], r["trigger"], r["outcome"], r["shopify_calls"]) for r in rows] == [
        (first.run_id, "warehouse_load", "realtime", "sensor", "success", 0)]
    merge_pending(str(warehouse), ledger)
    merge_pending(str(warehouse), ledger)
    assert [r["run_id"] for r in _flow_runs(warehouse)] == [first.run_id, second.run_id]


def test_runs_that_die_before_a_step_ends_get_their_row_from_the_failure_sensor_once(sandbox, tmp_path):
    resources = _resources(sandbox, tmp_path)
    # A NetSuite credential left empty: the resource refuses to start, so no step runs and no hook fires.
    broken = {**resources, "netsuite": NetSuiteResource(
        base_url=sandbox.url, account_id=C.NETSUITE_ACCOUNT_ID, consumer_key=C.NETSUITE_CONSUMER_KEY,
        consumer_secret=C.NETSUITE_CONSUMER_SECRET, token_id=C.NETSUITE_TOKEN_ID, token_secret="")}
    area = customers_defs.definitions(EntityPolicy("crm", "batch", cron="15 * * * *", batch_size=1000), CrmConfig())
    job = dg.Definitions.merge(record_runs(area, "crm"), dg.Definitions(resources=broken)).resolve_job_def(
        customers_defs.JOB_NAME)
    sensor = failed_run_sensor(flows_by_asset({"crm": area}))
    assert sensor.name == SENSOR_NAME
    ledger, warehouse = resources["ledger"].get_ledger(), tmp_path / "warehouse.duckdb"
    with dg.instance_for_test() as instance:
        start = _tick(sensor, instance, resources)
        sandbox.control.reset_counters()
        init_failed = job.execute_in_process(instance=instance, raise_on_error=False, tags={TRIGGER_TAG: "schedule"})
        assert not init_failed.success
        assert not init_failed.get_step_success_events() and not init_failed.get_step_failure_events()
        assert _sandbox_spend(sandbox)["shopify_calls"] == 0
        # A run worker killed mid-step: run monitoring marks the run failed; none of its steps ended.
        killed = instance.create_run_for_job(job, tags={FLOW_TAG: "crm", TRIGGER_TAG: "schedule"})
        instance.handle_run_event(killed.run_id, dg.DagsterEvent(event_type_value="PIPELINE_START",
                                                                  job_name=killed.job_name))
        instance.report_run_failed(killed, "run worker process exited")
        after = _tick(sensor, instance, resources, start)
        merge_pending(str(warehouse), ledger)
        # The same evaluation again (a daemon restarted before it saved its cursor): the same rows, no copies.
        _tick(sensor, instance, resources, start)
        _tick(sensor, instance, resources, after)
        merge_pending(str(warehouse), ledger)
    got = [(r["run_id"], r["flow"], r["lane"], r["trigger"], r["outcome"], r["records_synced"], r["shopify_calls"],
            r["netsuite_calls"]) for r in _flow_runs(warehouse)]
    assert sorted(got) == sorted([
        (init_failed.run_id, "crm", "batch", "schedule", "failure", 0, None, None),
        (killed.run_id, "crm", "batch", "schedule", "failure", 0, None, None),
    ])
    assert _landed_rows_of(ledger, killed.run_id) == 2  # landed twice, merged once: the same content


def test_every_asset_and_op_job_of_the_code_location_lands_its_runs_and_the_failure_sensor_runs():
    from sync_assets.definitions import defs
    from sync_assets.defs.run_record import FAILURE_HOOK, SUCCESS_HOOK

    resolved = defs()
    executable = [a for a in resolved.assets if isinstance(a, dg.AssetsDefinition) and a.is_executable]
    assert executable and all({SUCCESS_HOOK, FAILURE_HOOK} <= {h.name for h in a.hook_defs} for a in executable)
    op_jobs = [j for j in resolved.jobs if isinstance(j, dg.JobDefinition)]
    assert op_jobs and all({SUCCESS_HOOK, FAILURE_HOOK} <= {h.name for h in j.hook_defs} for j in op_jobs)
    sensor = resolved.get_sensor_def(SENSOR_NAME)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    # (that every job resolves with its hooks' resources is test_definitions' `dagster definitions validate`)


def test_real_runs_and_their_dead_letters_meet_on_one_hourly_row_per_policy_entity(sandbox, tmp_path):
    """Through Dagster: an orders run that syncs an order and dead-letters its over-refund (ledger flow
    ``refunds``), a CRM run that dead-letters a customer (``crm``), the operators' refresh landing those dead
    letters, the load, and dbt: each entity's run spend and its events are on the same row."""
    from sync_assets.defs import operations
    from sync_assets.defs.warehouse_models import run_dbt

    (gid,) = place_orders(sandbox, 1)  # paid by one sale; refunded for more than it holds: dead-lettered
    (sale,) = shopify_client(sandbox).get_orders([gid])[0]["transactions"]
    sandbox.control.refund_order(gid, f"{float(sale['amountSet']['shopMoney']['amount']) + 10:.2f}", unchecked=True)
    bad = sandbox.control.create_customer(email="broken@example.com")["id"]
    sandbox.control.update_customer(bad, corrupt={"updatedAt": "yesterday"})
    resources = _resources(sandbox, tmp_path)
    defs = dg.Definitions.merge(
        record_runs(orders_defs.definitions(policy(), CONFIG), "orders"),
        record_runs(customers_defs.definitions(EntityPolicy("crm", "batch", cron="15 * * * *", batch_size=1000),
                                               CrmConfig()), "crm"),
        record_runs(operations.definitions(), "operations"), dg.Definitions(resources=resources))
    ledger, warehouse = resources["ledger"].get_ledger(), tmp_path / "warehouse.duckdb"
    spent = {}
    with dg.instance_for_test() as instance:
        for entity, job_name in (("orders", orders_defs.JOB_NAME), ("crm", customers_defs.JOB_NAME)):
            sandbox.control.reset_counters()
            assert defs.resolve_job_def(job_name).execute_in_process(instance=instance).success
            spent[entity] = _sandbox_spend(sandbox)
        assert defs.resolve_job_def(operations.REFRESH_JOB).execute_in_process(instance=instance).success
    merge_pending(str(warehouse), ledger)
    run_dbt(warehouse, "run", "--select", "staging__flow_runs staging__sync_events analytics__sync_health_hourly")
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        got = conn.execute(
            "SELECT entity, records_synced, dead_lettered, runs, failed_runs, shopify_calls, shopify_cost_points, "
            "netsuite_calls FROM analytics.sync_health_hourly WHERE entity IN ('orders', 'crm') ORDER BY entity, hour_utc"
        ).fetchall()
        hours = conn.execute(  # a test run across the top of an hour puts a run and its events in two hours
            "SELECT count(DISTINCT hour_utc) FROM analytics.sync_health_hourly WHERE entity IN ('orders', 'crm') "
            "GROUP BY entity ORDER BY entity").fetchall()
        assert conn.execute("SELECT DISTINCT entity FROM staging.sync_events WHERE flow = 'refunds'").fetchall() == [
            ("orders",)]
    expected = [(entity, synced, 1, 1, 0, spent[entity]["shopify_calls"], spent[entity]["shopify_cost_points"],
                 spent[entity]["netsuite_calls"]) for entity, synced in (("crm", 0), ("orders", 1))]
    if hours == [(1,), (1,)]:
        assert got == expected
    else:
        totals = {e: tuple(sum(r[i] for r in got if r[0] == e) for i in range(1, 8)) for e in ("crm", "orders")}
        assert totals == {row[0]: row[1:] for row in expected}


def test_throttled_answers_are_run_metadata_with_the_same_keys_in_every_asset_and_on_the_runs_row(sandbox, tmp_path):
    resources = _resources(sandbox, tmp_path)
    area = customers_defs.definitions(EntityPolicy("crm", "batch", cron="15 * * * *", batch_size=1000), CrmConfig())
    job = dg.Definitions.merge(record_runs(area, "crm"), dg.Definitions(resources=resources)).resolve_job_def(
        customers_defs.JOB_NAME)
    sandbox.control.set_faults("throttle", service="netsuite", limit=2)  # NetSuite's first two answers: 429
    try:
        with dg.instance_for_test() as instance:
            result = job.execute_in_process(instance=instance)
    finally:
        sandbox.control.clear_faults()
    assert result.success
    throttled = sandbox.control.counters()["counters"]["faults.throttle.netsuite"]
    assert throttled == 2
    meta = {node: result.asset_materializations_for_node(node)[0].metadata
            for node in ("warehouse__raw_netsuite_customers", "warehouse__raw_shopify_customers")}
    assert {n: (m["netsuite_throttled"].value, m["shopify_throttled"].value) for n, m in meta.items()} == {
        "warehouse__raw_netsuite_customers": (2, 0), "warehouse__raw_shopify_customers": (0, 0)}
    merge_pending(str(tmp_path / "warehouse.duckdb"), resources["ledger"].get_ledger())
    row = _flow_runs(tmp_path / "warehouse.duckdb")[-1]  # the last step's: the run's totals
    assert (row["outcome"], row["netsuite_throttled"], row["shopify_throttled"]) == ("success", 2, 0)
