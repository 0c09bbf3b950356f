"""The policy's ``account:`` facts reach NetSuite, over real HTTP against the sandbox: the subsidiary on the
customers a OneWorld account demands it for, the integration user's time zone in every polling window, and
the first run's start date."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from sync_assets.definitions import account_configs
from sync_assets.domain.policy import parse_policy
from sync_assets.domain.windows import Watermark
from sync_assets.flows import inventory
from sync_assets.flows.orders import DEAD, SYNCED, run_orders_flow
from sync_assets.flows.orders_probe import probe_orders
from sync_assets_tests.flows.orders_support import (
    CONFIG, ledger_at, netsuite_client, place_orders, policy, shopify_client,
)  # fmt: skip


def _orders_config(account_yaml: str):
    account = parse_policy(account_yaml).account
    built = account_configs(account, 100)["orders"]
    return replace(CONFIG, subsidiary_id=built.subsidiary_id, tran_date_timezone=built.tran_date_timezone,
                   start_at=built.start_at)


def test_subsidiary_from_the_policy_is_on_the_customer_a_oneworld_account_requires(sandbox, tmp_path):
    sandbox.control.configure(netsuite_oneworld=True)
    gids = place_orders(sandbox, 1)
    netsuite = netsuite_client(sandbox)

    # Without the setting, NetSuite refuses the customer: the order is dead-lettered with NetSuite's reason.
    refused = run_orders_flow(shopify_client(sandbox), netsuite, ledger_at(tmp_path / "a"), policy(),
                              config=_orders_config("account: {}"))
    assert refused.outcomes[gids[0]].status == DEAD
    assert "Subsidiary" in refused.outcomes[gids[0]].reason

    result = run_orders_flow(shopify_client(sandbox), netsuite, ledger_at(tmp_path / "b"), policy(),
                             config=_orders_config("account: {subsidiary: 1}"))
    outcome = result.outcomes[gids[0]]
    assert outcome.status == SYNCED
    customer = netsuite.get_record("customer", outcome.customer_id)
    assert customer["subsidiary"]["id"] == "1" and customer["subsidiary"]["refName"] == "Parent Company"


def test_a_non_utc_netsuite_user_shifts_the_inventory_window(sandbox, tmp_path):
    """NetSuite stores and compares in the user's zone (8 h behind UTC in Los Angeles in winter): read as
    UTC, the window would start 8 hours after the change and miss it."""
    zone = "America/Los_Angeles"
    sandbox.control.configure(netsuite_timezone=zone)
    sku = sandbox.control.catalog()["skus_sample"][0]
    ledger = ledger_at(tmp_path)
    ledger.advance_watermark(inventory.FLOW, Watermark(datetime.now(timezone.utc) - timedelta(seconds=30)))
    sandbox.control.receive_inventory(sku, "loc-1", 5)
    entity = replace(parse_policy("").entity("inventory"), safety_lag_seconds=0)
    shopify, netsuite = shopify_client(sandbox), netsuite_client(sandbox)

    as_utc = inventory.find_pending(shopify, netsuite, ledger, entity,
                                    config=inventory.InventoryFlowConfig(netsuite_timezone="UTC"))
    assert sku not in {i.sku for i in as_utc.items}
    configured = account_configs(parse_policy(f"account: {{netsuite_timezone: {zone}}}").account, 100)["inventory"]
    as_user = inventory.find_pending(shopify, netsuite, ledger, entity, config=configured)
    assert sku in {i.sku for i in as_user.items}


def test_first_run_starts_at_the_policy_start_date(sandbox, tmp_path):
    gids = place_orders(sandbox, 2)
    time.sleep(3)  # whole-second stamps and a one-second margin: the starts below are clear of the orders
    after_orders = datetime.now(timezone.utc)
    shopify, ledger = shopify_client(sandbox), ledger_at(tmp_path)

    later = replace(CONFIG, start_at=after_orders + timedelta(seconds=1))
    assert probe_orders(shopify, ledger, policy(), config=later) is None

    # A start an hour back takes them, though the built-in look-back (a second here) would not reach them.
    earlier = replace(_orders_config(f"account: {{start_date: '{(after_orders - timedelta(hours=1)).isoformat()}'}}"),
                      initial_lookback_seconds=0.5)
    assert probe_orders(shopify, ledger, policy(), config=replace(earlier, start_at=None)) is None
    assert probe_orders(shopify, ledger, policy(), config=earlier) is not None
    result = run_orders_flow(shopify, netsuite_client(sandbox), ledger, policy(), config=earlier)
    assert {result.outcomes[g].status for g in gids} == {SYNCED}


def test_catalog_reads_netsuite_timestamps_in_the_users_zone(sandbox, tmp_path):
    from sync_assets.flows.catalog import CatalogConfig, extract_catalog
    from sync_assets_tests.flows.orders_support import landing_at

    sandbox.control.configure(netsuite_timezone="Asia/Tokyo")  # UTC+9: the catalog loaded just now shows 9 h ahead
    netsuite, now = netsuite_client(sandbox), datetime.now(timezone.utc)
    in_zone = extract_catalog(netsuite, landing_at(tmp_path), "r1", CatalogConfig(netsuite_timezone="Asia/Tokyo"),
                              keep=False)
    assert abs(in_zone.latest_modified - now) < timedelta(minutes=5)
    as_utc = extract_catalog(netsuite, landing_at(tmp_path), "r2", CatalogConfig(), keep=False)
    assert as_utc.latest_modified - now > timedelta(hours=8)


def test_deposit_account_and_payment_methods_reach_the_customer_deposit(sandbox, tmp_path):
    from sync_assets.domain.ids import payment_external_id

    [gid] = place_orders(sandbox, 1)  # paid through the "manual" gateway
    config = replace(CONFIG, **{k: v for k, v in vars(account_configs(parse_policy(
        "account: {deposit_account: 12, payment_methods: {manual: '3'}}").account, 100)["orders"]).items()
        if k in ("deposit_account_id", "payment_method_map")})
    netsuite = netsuite_client(sandbox)
    result = run_orders_flow(shopify_client(sandbox), netsuite, ledger_at(tmp_path), policy(), config=config)
    assert result.outcomes[gid].status == SYNCED and result.deposits_written == 1
    [order] = result.orders
    eid = payment_external_id(order["transactions"][0]["id"], "t")
    deposit = netsuite.get_record("customerDeposit", f"eid:{eid}")
    assert deposit["account"]["id"] == "12" and deposit["paymentOption"]["id"] == "3"
    assert "undepFunds" not in deposit or deposit["undepFunds"] is False
