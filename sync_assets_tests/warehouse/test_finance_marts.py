"""The finance marts on what the flows really land: two known orders (one paid through Shopify Payments and
partly refunded) synced by the orders flow, their day landed by the finance flow, then `dbt build` (its tests
included); every assertion is an exact value. A second module-free test plants a NetSuite-less order."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from sync_assets.defs import warehouse_models
from sync_assets.flows.finance import run_finance_flow
from sync_assets_tests.flows.orders_support import landing_at, merge_at
from sync_assets_tests.flows.test_finance_flow import _synced_day

D = Decimal
FINANCE_RECIPES = {"sales_by_channel", "days_not_tied_out", "payout_lines_not_in_netsuite"}


@pytest.fixture(scope="module")
def built(sandbox_server, tmp_path_factory):
    from sync_assets.sandbox.control_client import SandboxControl
    from sync_assets_tests.conftest import SandboxHandle

    control = SandboxControl(sandbox_server.url)
    control.reset()
    sandbox = SandboxHandle(sandbox_server.url, control, sandbox_server.data_dir)
    tmp_path = tmp_path_factory.mktemp("finance")
    placed, shopify, netsuite = _synced_day(sandbox, tmp_path)
    today = datetime.now(timezone.utc).date()
    run_finance_flow(shopify, netsuite, landing_at(tmp_path), today, run_id="fin-1")
    path = merge_at(tmp_path)
    warehouse_models.run_dbt(path, "build")  # raises if any dbt test fails
    return path, placed, today


def rows(built, sql):
    import duckdb

    with duckdb.connect(str(built[0]), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def test_daily_sales_by_channel_location_and_currency(built):
    _, _, today = built
    assert rows(built, "SELECT day, channel, location, currency, orders, units, total FROM analytics.finance_daily_sales") \
        == [(today, "web", "online", "USD", 2, 3, D("32.50"))]


def test_payments_against_orders(built):
    _, placed, _ = built
    got = rows(built, "SELECT order_id, order_total, storefront_paid, storefront_refunded, storefront_unpaid, "
                      "netsuite_order_total, netsuite_deposits, netsuite_deposited, netsuite_refunded, unbooked_amount "
                      "FROM analytics.finance_payments ORDER BY order_number")
    assert got == [(placed[0]["id"], D("21.00"), D("21.00"), D("5.00"), D("0.00"), D("21.00"), 1, D("21.00"),
                    D("5.00"), D("0.00")),
                   (placed[1]["id"], D("11.50"), D("0.00"), D("0.00"), D("11.50"), D("11.50"), 0, D("0.00"),
                    D("0.00"), D("0.00"))]


def test_refunds_match_by_external_id(built):
    _, placed, _ = built
    assert rows(built, "SELECT order_id, storefront_amount, netsuite_amount, netsuite_deposit_ids IS NOT NULL, "
                       "match_status FROM analytics.finance_refunds") == [(placed[0]["id"], D("5.00"), D("5.00"),
                                                                            True, "matched")]


def test_payouts_are_matched_to_the_deposits_and_refunds_they_pay_out(built):
    _, placed, _ = built
    assert rows(built, "SELECT transaction_type, order_id, amount, fee, net, netsuite_transaction_type, "
                       "netsuite_amount, match_status, payout_status FROM analytics.payout_transactions "
                       "ORDER BY transaction_type") == [
        ("CHARGE", placed[0]["id"], D("21.00"), D("0.91"), D("20.09"), "deposit", D("21.00"), "matched", "SCHEDULED"),
        ("REFUND", placed[0]["id"], D("-5.00"), D("0.00"), D("-5.00"), "refund", D("5.00"), "matched", "SCHEDULED"),
    ]  # fmt: skip
    assert rows(built, "SELECT status, net, transactions, matched, unmatched, transactions_net, netsuite_booked "
                       "FROM analytics.payouts") == [("SCHEDULED", D("15.09"), 2, 2, 0, D("15.09"), D("16.00"))]


def test_the_tie_out_per_day(built):
    _, _, today = built
    assert rows(built, "SELECT day, kind, currency, storefront_count, storefront_amount, netsuite_count, "
                       "netsuite_amount, difference, ties_out FROM analytics.finance_tieout ORDER BY kind") == [
        (today, "deposit", "USD", 1, D("21.00"), 1, D("21.00"), D("0.00"), True),
        (today, "refund", "USD", 1, D("5.00"), 1, D("5.00"), D("0.00"), True),
        (today, "sales_order", "USD", 2, D("32.50"), 2, D("32.50"), D("0.00"), True),
    ]  # fmt: skip


def test_the_finance_recipes_answer_and_show_a_deposit_netsuite_lacks(built, tmp_path):
    import shutil

    import duckdb

    from sync_assets_tests.warehouse.test_marts import _recipes

    q = {name: sql for name, sql in _recipes().items() if name in FINANCE_RECIPES}
    assert set(q) == FINANCE_RECIPES
    _, placed, today = built
    assert [r[:6] for r in rows(built, q["sales_by_channel"])] == [(today, "web", "online", "USD", 2, 3)]
    assert rows(built, q["days_not_tied_out"]) == [] and rows(built, q["payout_lines_not_in_netsuite"]) == []

    path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built[0], path)
    with duckdb.connect(str(path)) as conn:  # as if the finance flow had never seen #A's deposit
        conn.execute("DELETE FROM raw.netsuite_transactions WHERE json_extract_string(payload, '$.type') = 'CustDep'")
    warehouse_models.run_dbt(path, "run")
    planted = (path, placed, today)
    assert rows(planted, q["days_not_tied_out"]) == [(today, "deposit", "USD", 1, D("21.00"), 0, D("0.00"), D("21.00"))]
    [line] = rows(planted, q["payout_lines_not_in_netsuite"])
    assert (line[0:2], line[3:8], line[-1]) == ((line[0], "SCHEDULED"), (placed[0]["name"], "CHARGE", D("21.00"),
                                                                       D("0.91"), D("20.09")), "unmatched")


def test_a_shop_far_from_utc_has_its_sales_refunds_and_tie_out_on_its_own_day(sandbox, tmp_path, monkeypatch):
    """Orders placed, paid and partly refunded now, in a shop whose calendar day is not UTC's right now (UTC+14
    from 10:00 UTC, else UTC-11): the orders flow dates the sales order, the deposit and the refund on the
    shop's day; the finance partition of that day ties out (check and mart count the same refund) and
    the UTC day holds none of it; daily_sales and finance_daily_sales agree on the day."""
    import time
    from dataclasses import replace

    from sync_assets.domain.policy import BUNDLED_POLICY, ENV_VAR
    from sync_assets.domain.shop_days import local_day
    from sync_assets.flows.orders import run_orders_flow
    from sync_assets_tests.flows.orders_support import CONFIG, ledger_at, netsuite_client, policy, shopify_client
    from sync_assets_tests.flows.test_finance_flow import place_known_orders

    now = datetime.now(timezone.utc)
    zone = "Pacific/Kiritimati" if now.hour >= 10 else "Pacific/Pago_Pago"
    day, utc_day = local_day(now, zone), now.date()
    assert day != utc_day
    shop_policy = tmp_path / "sync_policy.yaml"
    shop_policy.write_text(BUNDLED_POLICY.read_text().replace("order_date_timezone: UTC", f"order_date_timezone: {zone}"))
    monkeypatch.setenv(ENV_VAR, str(shop_policy))  # what the dbt build reads the shop's day from
    shopify, netsuite, ledger = shopify_client(sandbox), netsuite_client(sandbox), ledger_at(tmp_path)
    in_zone = replace(CONFIG, tran_date_timezone=zone)
    placed = place_known_orders(sandbox)
    run_orders_flow(shopify, netsuite, ledger, policy(), run_id="orders-1", config=in_zone)
    time.sleep(1.1)  # whole-second stamps: the refund after the run's watermark
    sandbox.control.refund_order(placed[0]["id"], "5.00")
    run_orders_flow(shopify, netsuite, ledger, policy(), run_id="orders-2", config=in_zone)

    finance = run_finance_flow(shopify, netsuite, landing_at(tmp_path), day, shop_timezone=zone, run_id="fin-1")
    assert finance.tieout.ties_out, [d.as_dict() for d in finance.tieout.differences]
    assert [(r["kind"], r["storefront_count"], r["netsuite_count"]) for r in finance.tieout.total_rows()] == [
        ("deposit", 1, 1), ("refund", 1, 1), ("sales_order", 2, 2)]
    elsewhere = run_finance_flow(shopify, netsuite, landing_at(tmp_path), utc_day, shop_timezone=zone, run_id="fin-2")
    assert elsewhere.tieout.ties_out and elsewhere.tieout.total_rows() == []

    path = merge_at(tmp_path)
    warehouse_models.run_dbt(path, "build")
    on = (path, placed, day)
    assert rows(on, "SELECT DISTINCT day FROM analytics.daily_sales") == [(day,)]
    assert rows(on, "SELECT DISTINCT day FROM analytics.finance_daily_sales") == [(day,)]
    assert rows(on, "SELECT refund_day, netsuite_date, match_status FROM analytics.finance_refunds") == [
        (day, day, "matched")]
    assert rows(on, "SELECT day, kind, storefront_count, netsuite_count, ties_out FROM analytics.finance_tieout "
                    "ORDER BY kind") == [(day, "deposit", 1, 1, True), (day, "refund", 1, 1, True),
                                         (day, "sales_order", 2, 2, True)]  # fmt: skip
