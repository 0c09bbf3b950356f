"""The fulfillments flow against the real sandbox: every shipped NetSuite fulfillment becomes exactly one
Shopify fulfillment with its tracking number, also when Shopify commits and then fails the answer, on a
re-run, and when the ledger lost the outcome (a crash between Shopify's commit and mark_done)."""

from __future__ import annotations

from sync_assets.connectors.shopify.fulfillment import fulfillment_orders
from sync_assets.domain.money import nodes
from sync_assets.domain.policy import EntityPolicy
from sync_assets.flows import fulfillments as flow
from sync_assets.flows.orders import FLOW as ORDERS_FLOW
from sync_assets.state.ledger import Ledger
from sync_assets_tests.flows.test_inventory_flow import clients

POLICY = EntityPolicy("fulfillments", "realtime", interval_seconds=1, overlap_seconds=300)


def synced_orders(sandbox, shopify, netsuite, ledgers, count=2) -> list[str]:
    """Storefront orders put into NetSuite directly by external id (as the orders flow would) and marked done."""
    gids = [o["id"] for o in sandbox.control.place_orders(count, seed=7)]
    for order in shopify.get_orders(gids):
        legacy = order["id"].rsplit("/", 1)[-1]
        lines = [{"item": {"externalId": li["sku"]}, "quantity": li["quantity"], "rate": 1}
                 for li in nodes(order["lineItems"])]
        so_id = netsuite.upsert_record("salesOrder", f"shopify-order-{legacy}", {
            "entity": {"id": "1"}, "externalId": f"shopify-order-{legacy}", "location": {"id": "1"},
            "item": {"items": lines}})
        for ledger in ledgers:
            ledger.mark_done(ORDERS_FLOW, order["id"], so_id, "test")
    return gids


def fulfillments_of(shopify, gid: str) -> list[dict]:
    return flow.order_fulfillments(shopify, gid)


def test_each_netsuite_fulfillment_becomes_exactly_one_shopify_fulfillment(sandbox, tmp_path):
    sandbox.control.reset(seed=3, products=4, variants_per_product=2, customers=3, locations=2)
    shopify, netsuite = clients(sandbox.url)
    ledger, crashed = Ledger(tmp_path / "a.sqlite"), Ledger(tmp_path / "b.sqlite")
    gids = synced_orders(sandbox, shopify, netsuite, [ledger, crashed])
    assert flow.find_pending(netsuite, ledger, POLICY) == []  # nothing shipped yet
    assert sandbox.control.fulfill_sales_orders(0) == 2

    pending = flow.find_pending(netsuite, ledger, POLICY)
    assert sorted(p.order_gid for p in pending) == sorted(gids)
    # Shopify commits the first fulfillmentCreate, then answers 500: the flow must not create it again.
    sandbox.control.set_faults("committed_then_failed", service="shopify", failure="error", limit=1)
    result = flow.run_fulfillments_flow(shopify, netsuite, ledger, POLICY)
    sandbox.control.clear_faults()
    assert result.count(flow.SYNCED) == 2, result.outcomes
    assert sum(o.adopted for o in result.outcomes.values()) == 1
    for gid in gids:
        found = fulfillments_of(shopify, gid)
        assert len(found) == 1 and found[0]["trackingInfo"][0]["number"].startswith("1ZSBX")

    again = flow.run_fulfillments_flow(shopify, netsuite, ledger, POLICY)
    assert again.outcomes == {}  # re-run: the ledger has them done

    # A run that died after Shopify committed but before mark_done: its ledger knows nothing of them.
    recovered = flow.run_fulfillments_flow(shopify, netsuite, crashed, POLICY)
    assert recovered.count(flow.SYNCED) == 2 and all(o.adopted for o in recovered.outcomes.values())
    assert all(len(fulfillments_of(shopify, gid)) == 1 for gid in gids)
    assert {e.target_id for e in crashed.entries(flow.FLOW, "done")} == {e.target_id for e in ledger.entries(flow.FLOW, "done")}
    ledger.close()
    crashed.close()


def test_unmatched_lines_are_dead_lettered(sandbox, tmp_path):
    sandbox.control.reset(seed=3, products=4, variants_per_product=2, customers=3, locations=2)
    shopify, netsuite = clients(sandbox.url)
    ledger = Ledger(tmp_path / "l.sqlite")
    [gid] = synced_orders(sandbox, shopify, netsuite, [ledger], count=1)
    sandbox.control.fulfill_sales_orders(0)
    # The storefront fulfils the order itself first: NetSuite's fulfillment finds no open lines left.
    fo = fulfillment_orders(shopify, gid)
    shopify.create_fulfillment([{"fulfillmentOrderId": f["id"], "fulfillmentOrderLineItems": []} for f in fo][:1])
    result = flow.run_fulfillments_flow(shopify, netsuite, ledger, POLICY)
    [outcome] = result.outcomes.values()
    assert outcome.status == flow.DEAD and "no open fulfillment-order lines" in outcome.reason
    assert ledger.dead_letters(flow.FLOW)[0].reason.startswith("no open fulfillment-order lines")
    assert flow.find_pending(netsuite, ledger, POLICY) == []  # parked, not retried hot
    ledger.close()
