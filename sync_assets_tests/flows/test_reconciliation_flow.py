"""Reconciliation against the sandbox over real HTTP: missing orders are found and re-queued, duplicates
created by "another connector" (a second sales order with the order name in otherRefNum) are found."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import duckdb

from sync_assets.domain.ids import order_external_id
from sync_assets.flows.orders import run_orders_flow
from sync_assets.flows.reconciliation import (
    DUPLICATED,
    MISMATCHED,
    MISSING,
    ReconciliationConfig,
    land_report,
    reconcile_orders,
)
from sync_assets_tests.flows.orders_support import (
    CONFIG,
    ledger_at,
    netsuite_client,
    policy,
    shopify_client,
    landing_at, merge_at,
)

NOW_GRACE = ReconciliationConfig(days=1, grace_seconds=0)


def _later() -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=2)


def test_missing_orders_are_requeued_and_the_orders_flow_then_writes_them(sandbox, tmp_path):
    shopify, netsuite, ledger = shopify_client(sandbox), netsuite_client(sandbox), ledger_at(tmp_path)
    placed = sandbox.control.place_orders(3, seed=7)

    report = reconcile_orders(shopify, netsuite, ledger, now=_later(), config=NOW_GRACE, run_id="rec-1")

    missing = {f.order_id for f in report.findings if f.kind == MISSING}
    assert missing == {o["id"] for o in placed} and all(f.requeued for f in report.findings)
    assert ledger.inbox_counts("orders/updated") == {"new": 3}
    assert {e.source_id for e in ledger.entries("orders", "pending")} == missing
    assert land_report(landing_at(tmp_path), report, "rec-1") == 3
    merge_at(tmp_path)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:
        assert conn.execute("SELECT count(*) FROM raw.reconciliation_findings WHERE kind = 'missing'").fetchone()[0] == 3

    run_orders_flow(shopify, netsuite, ledger, policy(), run_id="orders-1", config=CONFIG)
    again = reconcile_orders(shopify, netsuite, ledger, now=_later(), config=NOW_GRACE, run_id="rec-2")
    assert again.findings == [] and again.orders_checked == 3
    assert ledger.inbox_counts("orders/updated") == {"acked": 3}


def test_duplicate_from_another_connector_is_found_and_not_requeued(sandbox, tmp_path):
    shopify, netsuite, ledger = shopify_client(sandbox), netsuite_client(sandbox), ledger_at(tmp_path)
    order = sandbox.control.place_orders(1, seed=11)[0]
    run_orders_flow(shopify, netsuite, ledger, policy(), run_id="orders-1", config=CONFIG)
    ours = netsuite.get_record("salesOrder", f"eid:{order_external_id(order['id'])}", expand=True)
    lines = [{"item": {"id": line["item"]["id"]}, "quantity": line["quantity"], "rate": line.get("rate", 1)}
             for line in ours["item"]["items"]]
    netsuite.upsert_record("salesOrder", "other-connector-1", {
        "entity": {"id": ours["entity"]["id"]}, "otherRefNum": order["name"], "item": {"items": lines},
    })  # fmt: skip

    report = reconcile_orders(shopify, netsuite, ledger, now=_later(), config=NOW_GRACE, run_id="rec-1")

    assert [f.kind for f in report.findings] == [DUPLICATED]
    assert len(report.findings[0].netsuite_ids) == 2 and "other-connector-1" in report.findings[0].detail
    assert not report.findings[0].requeued and ledger.inbox_counts("orders/updated") == {}
    assert report.count(MISMATCHED) == 0
