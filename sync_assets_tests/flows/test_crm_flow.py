"""The CRM flow's Shopify half against the sandbox over real HTTP, merged into a real DuckDB file: customers
land, a re-run adds nothing, an edit adds one version, a large read switches to one bulk operation, and a
malformed customer is dead-lettered with the reason while the rest lands."""

from __future__ import annotations

import dagster as dg
import duckdb

from sync_assets.defs import customers as defs_customers
from sync_assets.domain.policy import EntityPolicy
from sync_assets.flows.customers import FLOW, SHOPIFY_WATERMARK, CrmConfig, run_shopify_customers_flow
from sync_assets_tests.defs.test_inventory_defs import sandbox_resources
from sync_assets_tests.flows.orders_support import landing_at, ledger_at, merge_at, shopify_client

# Sandbox customers are stamped "now": no overlap keeps what a run re-reads down to its watermark's second.
PAGED = CrmConfig(overlap_seconds=0, shopify_page_size=4, bulk_above=None)


def _raw(tmp_path, sql: str = "SELECT count(*), count(DISTINCT customer_id) FROM raw.shopify_customers"):
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def test_customers_land_a_rerun_adds_nothing_and_an_edit_adds_one_version(sandbox, tmp_path):
    shopify, ledger = shopify_client(sandbox), ledger_at(tmp_path)
    first = run_shopify_customers_flow(shopify, ledger, landing_at(tmp_path), run_id="c1", config=PAGED)
    assert (first.customers, first.dead_lettered, first.read_via_bulk) == (10, 0, False)  # SMALL_CATALOG: 10
    assert first.pages == 1 and first.shopify_stats["calls"] == 3  # 10 customers in pages of 4
    merge_at(tmp_path)
    assert _raw(tmp_path) == [(10, 10)]

    again = run_shopify_customers_flow(shopify, ledger, landing_at(tmp_path), run_id="c2", config=PAGED)
    assert again.customers <= 10  # the watermark's second again (all 10 share the reset's second)
    merge_at(tmp_path)
    assert _raw(tmp_path) == [(10, 10)]  # nothing new: the content-hash merge absorbs the re-read

    some = shopify.execute("{ customers(first: 1) { nodes { id } } }")["customers"]["nodes"][0]["id"]
    sandbox.control.update_customer(some, email="  New.Address@Example.COM ", marketingState="SUBSCRIBED")
    edited = run_shopify_customers_flow(shopify, ledger, landing_at(tmp_path), run_id="c3", config=PAGED)
    assert edited.customers >= 1
    merge_at(tmp_path)
    assert _raw(tmp_path) == [(11, 10)]  # one new version of one customer
    # an edit may share its second with the version before it: the later merge is the newer version
    latest = _raw(tmp_path, "SELECT json_extract_string(payload, '$.defaultEmailAddress.marketingState') "
                            f"FROM raw.shopify_customers WHERE customer_id = '{some}' "
                            "ORDER BY source_updated_at DESC, _loaded_at DESC")
    assert latest[0] == ("SUBSCRIBED",)
    assert ledger.get_watermark(SHOPIFY_WATERMARK) == edited.watermark_after


def test_more_changed_customers_than_the_threshold_are_read_by_one_bulk_operation(sandbox, tmp_path):
    for n in range(6):
        sandbox.control.create_customer(email=f"bulk{n}@example.com", firstName="Bulk", lastName=str(n))
    shopify, ledger = shopify_client(sandbox), ledger_at(tmp_path)
    config = CrmConfig(overlap_seconds=0, shopify_page_size=4, bulk_above=5, bulk_poll_interval=0.05)
    result = run_shopify_customers_flow(shopify, ledger, landing_at(tmp_path), run_id="b1", config=config)
    assert result.read_via_bulk and result.dead_lettered == 0
    calls = sandbox.control.counters()["counters"]
    assert calls["shopify.calls.BulkOperationRunQuery"] == 1 and calls["shopify.calls.CustomersPage"] == 2
    merge_at(tmp_path)
    assert _raw(tmp_path) == [(16, 16)]  # every customer once, whether paged or bulk-read (or both)


def test_a_malformed_customer_is_dead_lettered_with_the_reason_and_the_rest_lands(sandbox, tmp_path):
    shopify, ledger = shopify_client(sandbox), ledger_at(tmp_path)
    bad = sandbox.control.create_customer(email="broken@example.com")["id"]
    sandbox.control.update_customer(bad, corrupt={"updatedAt": "2026-13-45T99:00:00Z"})
    result = run_shopify_customers_flow(shopify, ledger, landing_at(tmp_path), run_id="m1", config=PAGED)
    assert (result.customers, result.dead_lettered) == (10, 1)
    [letter] = ledger.dead_letters(FLOW)
    assert letter.source_id == bad and letter.field_path == "updatedAt"
    assert f"Shopify customer {bad}: updatedAt '2026-13-45T99:00:00Z' is not an ISO-8601 timestamp" in letter.reason
    merge_at(tmp_path)
    assert _raw(tmp_path) == [(10, 10)]

    sandbox.control.update_customer(bad, firstName="Fixed")  # an edit stamps it properly again
    fixed = run_shopify_customers_flow(shopify, ledger, landing_at(tmp_path), run_id="m2", config=PAGED)
    assert fixed.dead_lettered == 0 and ledger.dead_letters(FLOW) == []  # landed now: the letter is resolved
    merge_at(tmp_path)
    assert _raw(tmp_path) == [(11, 11)]


def test_the_crm_job_lands_both_systems_and_warns_about_a_dead_letter(sandbox, tmp_path):
    bad = sandbox.control.create_customer(email="broken@example.com")["id"]
    sandbox.control.update_customer(bad, corrupt={"updatedAt": "yesterday"})
    policy = EntityPolicy("crm", "batch", cron="15 * * * *", batch_size=1000)
    defs = dg.Definitions.merge(defs_customers.definitions(policy, PAGED),
                                dg.Definitions(resources=sandbox_resources(sandbox.url, tmp_path)))
    assert [s.cron_schedule for s in defs.schedules] == ["15 * * * *"]  # the batch lane: hourly by default
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def(defs_customers.JOB_NAME).execute_in_process(instance=instance)
    assert result.success
    counts = {m.asset_key: m.metadata["dagster/row_count"].value
              for node in ("warehouse__raw_netsuite_customers", "warehouse__raw_shopify_customers")
              for m in result.asset_materializations_for_node(node)}
    assert counts == {defs_customers.RAW_CUSTOMERS: 10, defs_customers.RAW_SHOPIFY_CUSTOMERS: 10}
    [check] = result.get_asset_check_evaluations()
    assert not check.passed and "updatedAt 'yesterday'" in check.description
