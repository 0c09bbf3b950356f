"""An order whose customer NetSuite refuses (an email Shopify accepts but NetSuite does not) is dead-lettered
with NetSuite's own reason, and the rest of the batch syncs; over real HTTP against the sandbox."""

from __future__ import annotations

from sync_assets.flows.orders import DEAD, FLOW, SYNCED, run_orders_flow
from sync_assets_tests.flows.orders_support import (
    CONFIG, assert_exactly_once, ledger_at, netsuite_client, place_orders, policy, shopify_client,
)  # fmt: skip


def test_invalid_customer_email_is_dead_lettered_with_netsuites_reason_and_the_rest_sync(sandbox, tmp_path):
    good = place_orders(sandbox, 3)
    shopify = shopify_client(sandbox)
    sku = sandbox.control.catalog()["skus_sample"][0]
    bad = shopify.create_order({
        "currency": "USD", "email": "buyer@localhost",
        "customer": {"toUpsert": {"email": "buyer@localhost", "firstName": "Local", "lastName": "Host"}},
        "lineItems": [{"sku": sku, "title": "Item", "quantity": 1,
                       "priceSet": {"shopMoney": {"amount": "12.00", "currencyCode": "USD"}}}],
    })["id"]
    ledger, netsuite = ledger_at(tmp_path), netsuite_client(sandbox)

    result = run_orders_flow(shopify, netsuite, ledger, policy(), config=CONFIG)

    assert {g: result.outcomes[g].status for g in good} == dict.fromkeys(good, SYNCED)
    assert_exactly_once(netsuite, good)
    outcome = result.outcomes[bad]
    assert outcome.status == DEAD
    assert "NetSuite refused the customer" in outcome.reason
    assert "Invalid Field Value buyer@localhost for the following field: email" in outcome.reason
    [letter] = [d for d in ledger.dead_letters(FLOW) if d.source_id == bad]
    assert letter.reason == outcome.reason
