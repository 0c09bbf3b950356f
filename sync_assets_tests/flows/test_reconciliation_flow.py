"""Reconciliation of one shop-local day against the sandbox over real HTTP: planted gaps (orders the orders
flow never wrote), duplicates ("another connector" writing a second sales order under its own external id)
and totals changed in NetSuite are found; gaps are re-queued, written by the orders flow and then marked
healed by a re-run of the same day; re-runs add no duplicate findings (in the ledger or in raw); days follow
the shop's time zone."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import duckdb

from sync_assets.domain.ids import order_external_id
from sync_assets.domain.shop_days import day_bounds, local_day
from sync_assets.flows.orders import run_orders_flow
from sync_assets.flows.reconciliation import (
    CHECK,
    DUPLICATED,
    HEALED,
    MISMATCHED,
    MISSING,
    OPEN,
    ReconciliationConfig,
    land_report,
    reconcile_day,
)
from sync_assets_tests.flows.orders_support import (
    CONFIG,
    landing_at,
    ledger_at,
    merge_at,
    netsuite_client,
    policy,
    shopify_client,
)

NOW_GRACE = ReconciliationConfig(grace_seconds=0)


def _later() -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=2)


def _day(order: dict, tz: str = "UTC") -> str:
    return local_day(order["createdAt"], tz).isoformat()


def _raw(tmp_path, sql: str):
    with duckdb.connect(str(merge_at(tmp_path))) as conn:
        return conn.execute(sql).fetchall()


def test_missing_orders_are_requeued_written_by_the_orders_flow_and_then_healed(sandbox, tmp_path):
    shopify, netsuite, ledger = shopify_client(sandbox), netsuite_client(sandbox), ledger_at(tmp_path)
    placed = sandbox.control.place_orders(3, seed=7)
    day = _day(placed[0])

    report = reconcile_day(shopify, netsuite, ledger, day, now=_later(), config=NOW_GRACE, run_id="rec-1")

    missing = {f.order_id for f in report.findings if f.kind == MISSING}
    assert missing == {o["id"] for o in placed} and all(f.requeued for f in report.findings)
    assert {f.source_id for f in report.open} == missing and report.healed_now == []
    assert ledger.inbox_counts("orders/updated") == {"new": 3}
    assert {e.source_id for e in ledger.entries("orders", "pending")} == missing
    assert land_report(landing_at(tmp_path), report, "rec-1") == 3
    assert _raw(tmp_path, "SELECT kind, status, count(*) FROM raw.reconciliation_findings GROUP BY ALL") == [
        (MISSING, OPEN, 3)]

    # The orders flow takes the re-queued orders (inbox events) and writes them.
    run_orders_flow(shopify, netsuite, ledger, policy(), run_id="orders-1", config=CONFIG)
    again = reconcile_day(shopify, netsuite, ledger, day, now=_later(), config=NOW_GRACE, run_id="rec-2")

    assert again.findings == [] and again.orders_checked == 3 and again.open == []
    assert {f.source_id for f in again.healed_now} == missing
    assert all(f.status == HEALED and f.healed_at for f in again.tracked) and len(again.tracked) == 3
    assert ledger.inbox_counts("orders/updated") == {"acked": 3}
    land_report(landing_at(tmp_path), again, "rec-2")
    assert sorted(_raw(tmp_path, "SELECT status, count(*), count(healed_at) FROM raw.reconciliation_findings "
                                 "GROUP BY ALL")) == [(HEALED, 3, 3), (OPEN, 3, 0)]  # fmt: skip

    # A third run of the same day: nothing new in the ledger, no new version in raw.
    third = reconcile_day(shopify, netsuite, ledger, day, now=_later(), config=NOW_GRACE, run_id="rec-3")
    assert third.healed_now == [] and len(ledger.findings(CHECK, status=None)) == 3
    land_report(landing_at(tmp_path), third, "rec-3")
    assert _raw(tmp_path, "SELECT count(*) FROM raw.reconciliation_findings")[0][0] == 6

    # Someone deletes one of the sales orders in NetSuite: the next run re-opens that finding (a new version).
    reopened = sorted(missing)[0]
    sandbox.control.delete_sales_order(order_external_id(reopened))
    fourth = reconcile_day(shopify, netsuite, ledger, day, now=_later(), config=NOW_GRACE, run_id="rec-4")
    assert [(f.kind, f.source_id) for f in fourth.open] == [(MISSING, reopened)]
    land_report(landing_at(tmp_path), fourth, "rec-4")
    assert _raw(tmp_path, "SELECT status, opened_at > first_seen_at FROM raw.reconciliation_findings "
                          f"WHERE order_id = '{reopened}' ORDER BY _landed_at") == [
        (OPEN, False), (HEALED, False), (OPEN, True)]  # fmt: skip


def test_duplicate_from_another_connector_is_found_once_however_often_the_day_is_run(sandbox, tmp_path):
    shopify, netsuite, ledger = shopify_client(sandbox), netsuite_client(sandbox), ledger_at(tmp_path)
    order = sandbox.control.place_orders(1, seed=11)[0]
    run_orders_flow(shopify, netsuite, ledger, policy(), run_id="orders-1", config=CONFIG)
    ours = netsuite.get_record("salesOrder", f"eid:{order_external_id(order['id'])}", expand=True)
    lines = [{"item": {"id": line["item"]["id"]}, "quantity": line["quantity"], "rate": line.get("rate", 1)}
             for line in ours["item"]["items"]]
    netsuite.upsert_record("salesOrder", "other-connector-1", {
        "entity": {"id": ours["entity"]["id"]}, "otherRefNum": order["name"], "item": {"items": lines},
        "tranDate": ours["tranDate"],
    })  # fmt: skip

    for run in ("rec-1", "rec-2"):
        report = reconcile_day(shopify, netsuite, ledger, _day(order), now=_later(), config=NOW_GRACE, run_id=run)
        assert [f.kind for f in report.findings] == [DUPLICATED]
        assert len(report.findings[0].netsuite_ids) == 2 and "other-connector-1" in report.findings[0].detail
        assert not report.findings[0].requeued and ledger.inbox_counts("orders/updated") == {}
        assert report.count(MISMATCHED) == 0
        land_report(landing_at(tmp_path), report, run)
    tracked = ledger.findings(CHECK, status=None)
    assert [(f.kind, f.status, f.times_seen) for f in tracked] == [(DUPLICATED, OPEN, 2)]
    assert _raw(tmp_path, "SELECT kind, status, netsuite_ids FROM raw.reconciliation_findings") == [
        (DUPLICATED, OPEN, ",".join(report.findings[0].netsuite_ids))]
    # Both sales orders were on the day's one query: no lookup by key was needed.
    assert report.sales_orders_seen == 2


def test_a_total_changed_in_netsuite_is_a_mismatch_and_the_unchanged_order_is_not(sandbox, tmp_path):
    shopify, netsuite, ledger = shopify_client(sandbox), netsuite_client(sandbox), ledger_at(tmp_path)
    placed = sandbox.control.place_orders(2, seed=21)
    run_orders_flow(shopify, netsuite, ledger, policy(), run_id="orders-1", config=CONFIG)
    changed = placed[0]
    eid = order_external_id(changed["id"])
    ours = netsuite.get_record("salesOrder", f"eid:{eid}", expand=True)
    lines = [{"item": {"id": line["item"]["id"]}, "quantity": line["quantity"], "rate": line.get("rate", 1)}
             for line in ours["item"]["items"]]
    lines[0]["rate"] = float(lines[0]["rate"]) + 5.0 / float(lines[0]["quantity"])  # five more in total
    netsuite.upsert_record("salesOrder", eid, {"item": {"items": lines}}, replace=("item",))

    report = reconcile_day(shopify, netsuite, ledger, _day(changed), now=_later(), config=NOW_GRACE, run_id="rec-1")

    assert [(f.kind, f.order_id) for f in report.findings] == [(MISMATCHED, changed["id"])]
    finding = report.findings[0]
    assert abs(finding.netsuite_total - finding.storefront_total - 5) <= 0.01
    assert not finding.requeued and report.orders_checked == 2


def test_days_follow_the_shop_time_zone(sandbox, tmp_path):
    # Kiritimati is UTC+14, Pago Pago UTC-11: an order placed now is on different days in the two.
    east, west = "Pacific/Kiritimati", "Pacific/Pago_Pago"
    shopify, netsuite, ledger = shopify_client(sandbox), netsuite_client(sandbox), ledger_at(tmp_path)
    placed = sandbox.control.place_orders(3, seed=31)
    run_orders_flow(shopify, netsuite, ledger, policy(), run_id="orders-1",
                    config=CONFIG.__class__(**{**CONFIG.__dict__, "tran_date_timezone": east}))  # fmt: skip
    in_east = ReconciliationConfig(timezone=east, grace_seconds=0)
    day = local_day(placed[0]["createdAt"], east)

    today = reconcile_day(shopify, netsuite, ledger, day, now=_later(), config=in_east, run_id="rec-1")
    before = reconcile_day(shopify, netsuite, ledger, day - timedelta(days=1), now=_later(), config=in_east,
                           run_id="rec-2")  # fmt: skip

    assert today.orders_checked == 3 and today.findings == [] and today.sales_orders_seen >= 3
    assert today.netsuite_stats["calls"] == 1  # the day's one query explained every order
    assert before.orders_checked == 0
    # Cut in the west, the same orders are on the previous calendar day, whose tranDate (written in the east)
    # differs: the lookup by key still finds their sales orders, so nothing is reported missing.
    west_day = local_day(placed[0]["createdAt"], west)
    assert west_day == day - timedelta(days=1)
    west_report = reconcile_day(shopify, netsuite, ledger, west_day, now=_later(),
                                config=ReconciliationConfig(timezone=west, grace_seconds=0), run_id="rec-3")
    assert west_report.orders_checked == 3 and west_report.findings == []


def test_orders_still_being_written_are_not_judged_and_keep_their_findings_open(sandbox, tmp_path):
    shopify, netsuite, ledger = shopify_client(sandbox), netsuite_client(sandbox), ledger_at(tmp_path)
    placed = sandbox.control.place_orders(1, seed=41)
    first = reconcile_day(shopify, netsuite, ledger, _day(placed[0]), now=_later(), config=NOW_GRACE, run_id="rec-1")
    assert first.count(MISSING) == 1

    patient = ReconciliationConfig(grace_seconds=3600, requeue=False)
    second = reconcile_day(shopify, netsuite, ledger, _day(placed[0]), config=patient, run_id="rec-2")
    assert second.orders_checked == 0 and second.orders_not_judged == 1
    assert [f.status for f in second.tracked] == [OPEN] and second.healed_now == []


def test_day_bounds_follow_daylight_saving():
    start, end = day_bounds("2026-03-08", "America/Los_Angeles")  # spring forward: a 23-hour day
    assert start == datetime(2026, 3, 8, 8, tzinfo=timezone.utc) and end - start == timedelta(hours=23)
    start, end = day_bounds(date(2026, 11, 1), "America/Los_Angeles")  # fall back: 25 hours
    assert start == datetime(2026, 11, 1, 7, tzinfo=timezone.utc) and end - start == timedelta(hours=25)
    assert local_day("2026-12-07T07:59:59Z", "America/Los_Angeles") == date(2026, 12, 6)
