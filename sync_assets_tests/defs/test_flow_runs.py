"""raw.flow_runs: every flow's job lands one row per run through the shared hooks, with the run's real API
counters (equal to the sandbox's own for that run), a failed run included; a re-merge adds no copies."""

from __future__ import annotations

import dagster as dg
import duckdb
import pandas as pd

from sync_assets.defs import orders as orders_defs
from sync_assets.defs.lanes import FLOW_TAG, TRIGGER_TAG
from sync_assets.warehouse.merge import merge_pending
from sync_assets.warehouse.schema import RAW_TABLES
from sync_assets_tests.defs.test_orders_defs import _resources
from sync_assets_tests.flows.orders_support import CONFIG, place_orders, policy


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


def test_each_run_lands_its_row_with_the_sandboxs_counters_and_a_failed_run_too(sandbox, tmp_path):
    resources = _resources(sandbox, tmp_path)
    defs = dg.Definitions.merge(orders_defs.definitions(policy(), CONFIG), dg.Definitions(resources=resources))
    job = defs.resolve_job_def(orders_defs.JOB_NAME)
    ledger, warehouse = resources["ledger"].get_ledger(), tmp_path / "warehouse.duckdb"
    with dg.instance_for_test() as instance:
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

        # The same rows landed again (a re-run of the landing) and merged add no copies.
        columns = RAW_TABLES["raw.flow_runs"].column_names
        again = pd.DataFrame([{c: r[c] for c in columns} for r in rows])
        resources["landing"].get_area(ledger).land({"raw.flow_runs": again}, "re-landing")
        merge_pending(str(warehouse), ledger)
        assert [r["run_id"] for r in _flow_runs(warehouse)] == [first.run_id, second.run_id]
