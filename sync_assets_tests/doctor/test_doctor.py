"""`sync-assets doctor` against the real sandbox over HTTP: a good set-up passes every check, and each
broken one (bad credentials, a missing scope, a retired API version, a role without a permission, a policy
naming what the account lacks, webhooks pointing elsewhere) fails the right check with what to do."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sync_assets import doctor
from sync_assets.connectors.netsuite import NetSuiteClient, TokenBasedAuth
from sync_assets.connectors.shopify import ShopifyClient
from sync_assets.connectors.shopify.scopes import REQUIRED_SCOPES
from sync_assets.domain.policy import load_policy, parse_policy
from sync_assets.sandbox import credentials as C
from sync_assets.webhooks.routes import ROUTES
from sync_assets_tests.flows.orders_support import FAST, netsuite_client, shopify_client

RECEIVER = "https://sync.example.com/webhooks/shopify"
TOPICS = [t for r in ROUTES for t in r.topics]


def _run(sandbox, policy=None, *, shopify=None, netsuite=None):
    checks = doctor.run_all(shopify or shopify_client(sandbox), netsuite or netsuite_client(sandbox),
                            policy or load_policy(), RECEIVER, TOPICS)
    return {c.name: c for c in checks}, checks


def _failed(checks) -> dict:
    return {name: c for name, c in checks.items() if not c.ok}


@pytest.fixture
def registered(sandbox):
    sandbox.control.register_webhooks(RECEIVER, topics=TOPICS)
    return sandbox


def test_a_good_set_up_passes_every_check(registered):
    registered.control.configure(netsuite_oneworld=True)
    checks, ordered = _run(registered, parse_policy("account: {subsidiary: 1, deposit_account: 12, payment_methods: {manual: 3}}\n"
                                                    "entities: {orders: {default_customer: {USD: '1'}, discount_item: Shopify Discount}}"))
    assert _failed(checks) == {}
    names = set(checks)
    assert {"Shopify credentials", "Shopify access scopes", "Shopify API version 2026-10",
            "Shopify webhook subscriptions", "NetSuite credentials", "policy: subsidiary 1",
            "policy: item 'Shopify Discount'", "policy: default customer(s) 1", "location map",
            "policy: price level 'Base Price'"} <= names
    from sync_assets.connectors.netsuite.queries import REGISTRY
    assert {f"SuiteQL {q.name}" for q in REGISTRY} <= names  # every query the flows run, one row each
    assert {f"NetSuite record {r}" for r in doctor.WRITTEN_RECORDS} <= names
    table = doctor.render(ordered)
    assert table.splitlines()[0].startswith("✔") and "✘" not in table and f"{len(ordered)} of {len(ordered)}" in table


def test_missing_scope_is_named_with_what_it_is_for(registered):
    registered.control.configure(shopify_access_scopes=[s for s in REQUIRED_SCOPES if s != "write_inventory"])
    failed = _failed(_run(registered)[0])
    assert list(failed) == ["Shopify access scopes"]
    assert "write_inventory" in failed["Shopify access scopes"].detail
    assert "inventorySetQuantities" in failed["Shopify access scopes"].fix


def test_a_retired_api_version_says_which_one_shopify_served(registered):
    registered.control.configure(shopify_retired_versions=["2026-10"])
    failed = _failed(_run(registered)[0])
    assert list(failed) == ["Shopify API version 2026-10"]
    assert "2027-01" in failed["Shopify API version 2026-10"].detail


def test_a_role_without_a_table_permission_fails_the_queries_and_records_that_need_it(registered):
    registered.control.configure(netsuite_denied_tables=["customer"])
    failed = _failed(_run(registered)[0])
    assert set(failed) == {"SuiteQL orders: customers by external id", "SuiteQL orders: customers by email",
                           "SuiteQL crm: customers modified since", "NetSuite record customer"}
    assert "Record 'customer' was not found" in failed["SuiteQL orders: customers by email"].detail
    assert "INSUFFICIENT_PERMISSION" in failed["NetSuite record customer"].detail or \
        "Permission Violation" in failed["NetSuite record customer"].detail
    assert "integration role" in failed["SuiteQL orders: customers by email"].fix


def test_a_oneworld_account_needs_the_subsidiary_set(registered):
    assert _failed(_run(registered)[0]) == {}  # one subsidiary: none to name
    registered.control.configure(netsuite_oneworld=True)
    failed = _failed(_run(registered)[0])
    assert list(failed) == ["policy: subsidiary"]
    assert "1 (Parent Company), 2 (Sandbox EMEA)" in failed["policy: subsidiary"].detail
    assert "account.subsidiary" in failed["policy: subsidiary"].fix


def test_a_policy_naming_what_the_account_lacks(registered):
    policy = parse_policy("account: {subsidiary: 99, price_level: Wholesale Special, deposit_account: 77,"
                          " payment_methods: {paypal: '4', other: '55'}}\n"
                          "entities:\n  orders: {discount_item: No Such Item, default_customer: {USD: '999999'}}\n"
                          "  inventory: {location_map: {Nowhere: '1'}}", source="mine.yaml")
    failed = _failed(_run(registered, policy)[0])
    assert set(failed) == {"policy: subsidiary 99", "policy: item 'No Such Item'", "policy: default customer(s) 999999",
                           "policy: price level 'Wholesale Special'", "location map", "policy: deposit account 77",
                           "policy: payment method(s) 4, 55"}
    assert failed["policy: payment method(s) 4, 55"].detail == "not found: 55"
    assert failed["policy: item 'No Such Item'"].fix.startswith("mine.yaml: entities.orders.discount_item")
    assert "Nowhere" in failed["location map"].detail


def test_a_shop_time_zone_other_than_the_shops_is_named(registered):
    registered.control.configure(shopify_timezone="America/New_York")
    failed = _failed(_run(registered, parse_policy("account: {shop_timezone: Europe/Paris}", source="mine.yaml"))[0])
    check = failed["policy: shop time zone Europe/Paris"]
    assert check.detail == "the shop's is America/New_York"
    assert check.fix.startswith("mine.yaml: account.shop_timezone")
    assert not any(name.startswith("policy: shop time zone") for name in _failed(_run(
        registered, parse_policy("account: {shop_timezone: America/New_York}"))[0]))


def test_bad_credentials_on_both_sides(registered):
    shopify = ShopifyClient(registered.url, "shpat_wrong", api_version=C.SHOPIFY_API_VERSION, backoff=FAST)
    auth = TokenBasedAuth(C.NETSUITE_ACCOUNT_ID, C.NETSUITE_CONSUMER_KEY, C.NETSUITE_CONSUMER_SECRET,
                          C.NETSUITE_TOKEN_ID, "wrong-secret")
    netsuite = NetSuiteClient(registered.url, C.NETSUITE_ACCOUNT_ID, auth, backoff=FAST)
    checks, ordered = _run(registered, shopify=shopify, netsuite=netsuite)
    assert [c.name for c in ordered] == ["Shopify credentials", "NetSuite credentials"]
    assert not any(c.ok for c in ordered)
    assert "credentials" in checks["NetSuite credentials"].fix


def test_webhooks_pointing_elsewhere(sandbox):
    sandbox.control.register_webhooks("http://127.0.0.1:9/webhooks/shopify", topics=TOPICS)
    failed = _failed(_run(sandbox)[0])
    assert list(failed) == ["Shopify webhook subscriptions"]
    assert "sync-assets webhooks register" in failed["Shopify webhook subscriptions"].fix


def test_the_command_prints_the_table_and_exits_non_zero_on_a_failure(registered, tmp_path):
    # The sandbox's port as SANDBOX_PORT: both URLs are then "the sandbox" and its default credentials apply.
    env = {**os.environ, "SANDBOX_PORT": registered.url.rsplit(":", 1)[1], "WEBHOOKS_PUBLIC_URL": RECEIVER,
           "DAGSTER_HOME": str(tmp_path), "SYNC_ASSETS_DATA_DIR": str(tmp_path)}
    for name in ("SHOPIFY_SHOP_URL", "NETSUITE_BASE_URL", "SYNC_POLICY_PATH"):
        env.pop(name, None)
    good = subprocess.run([sys.executable, "-m", "sync_assets.cli", "doctor"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "✔  Shopify credentials" in good.stdout and "✘" not in good.stdout

    registered.control.configure(netsuite_denied_tables=["inventoryitemlocations"])
    bad = subprocess.run([sys.executable, "-m", "sync_assets.cli", "doctor"], env=env, capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 1
    assert "✘  SuiteQL inventory: changed item locations" in bad.stdout and "→ give the integration role" in bad.stdout
