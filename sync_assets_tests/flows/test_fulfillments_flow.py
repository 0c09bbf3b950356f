"""The fulfillments flow against the real sandbox: every shipped NetSuite fulfillment becomes exactly one
Shopify fulfillment with its tracking number, also when Shopify commits and then fails the answer, on a
re-run, and when the ledger lost the outcome (a crash between Shopify's commit and mark_done); tracking
added or changed in NetSuite afterwards reaches Shopify once per value."""

from __future__ import annotations

import time

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


# ------------------------------------------------------------------------------- tracking after the fact

NO_OVERLAP = EntityPolicy("fulfillments", "realtime", interval_seconds=1, overlap_seconds=0)


def shown(shopify, gid: str) -> list[str]:
    [found] = fulfillments_of(shopify, gid)
    return [t["number"] for t in found["trackingInfo"]]


def set_tracking(netsuite, fulfillment_id: str, *numbers: str) -> None:
    """Replace a NetSuite fulfillment's package lines (the sublist is not keyed: clear, then add)."""
    netsuite.patch_record("itemFulfillment", fulfillment_id, {"package": None})
    if numbers:
        netsuite.patch_record("itemFulfillment", fulfillment_id,
                              {"package": {"items": [{"packageTrackingNumber": n} for n in numbers]}})


def shipped(sandbox, shopify, netsuite, ledger) -> dict[str, flow.NetSuiteFulfillment]:
    synced_orders(sandbox, shopify, netsuite, [ledger], count=2)
    sandbox.control.fulfill_sales_orders(0)
    return {f.id: f for f in flow.find_pending(netsuite, ledger, NO_OVERLAP)}


def test_tracking_added_or_changed_later_reaches_shopify_once_per_value(sandbox, tmp_path):
    sandbox.control.reset(seed=3, products=4, variants_per_product=2, customers=3, locations=2)
    shopify, netsuite = clients(sandbox.url)
    ledger = Ledger(tmp_path / "l.sqlite")
    a, b = shipped(sandbox, shopify, netsuite, ledger).values()
    set_tracking(netsuite, a.id)  # shipped before the carrier gave a number
    first = flow.run_fulfillments_flow(shopify, netsuite, ledger, NO_OVERLAP)
    assert first.count(flow.SYNCED) == 2 and first.numbers()["tracking_updates"] == 0
    assert shown(shopify, a.order_gid) == [] and shown(shopify, b.order_gid)[0].startswith("1ZSBX")
    assert flow.find_pending(netsuite, ledger, NO_OVERLAP) == []

    # Saving the record moves lastModifiedDate past the watermark (no overlap here): the change is seen.
    time.sleep(1.05)  # NetSuite timestamps have whole seconds
    before = modified(netsuite, a.id)
    set_tracking(netsuite, a.id, "1ZLATE0001")
    assert modified(netsuite, a.id) > before
    record = netsuite.get_record("itemFulfillment", a.id, expand=True)
    assert [p["packageTrackingNumber"] for p in record["package"]["items"]] == ["1ZLATE0001"]
    [pending] = flow.find_pending(netsuite, ledger, NO_OVERLAP)
    assert pending.id == a.id and pending.tracking_only
    added = flow.run_fulfillments_flow(shopify, netsuite, ledger, NO_OVERLAP)
    assert list(added.outcomes) == [a.id] and added.outcomes[a.id].status == flow.SYNCED
    assert added.numbers()["tracking_updates"] == 1 and added.numbers()["records_synced"] == 1
    assert shown(shopify, a.order_gid) == ["1ZLATE0001"]
    assert len(fulfillments_of(shopify, a.order_gid)) == 1  # updated in place, not a second fulfillment

    calls = shopify.stats.snapshot()["calls"]
    rerun = flow.run_fulfillments_flow(shopify, netsuite, ledger, NO_OVERLAP)
    assert rerun.outcomes == {}
    assert shopify.stats.snapshot()["calls"] == calls  # nothing sent, not even a read

    # Changed again (a re-label), and a second box on the other one: each new value goes out once.
    set_tracking(netsuite, a.id, "1ZRELABEL02")
    netsuite.patch_record("itemFulfillment", b.id, {"package": {"items": [{"packageTrackingNumber": "1ZBOX2"}]}})
    again = flow.run_fulfillments_flow(shopify, netsuite, ledger, NO_OVERLAP)
    assert {k: o.status for k, o in again.outcomes.items()} == {a.id: flow.SYNCED, b.id: flow.SYNCED}
    assert again.numbers()["tracking_updates"] == 2
    assert shown(shopify, a.order_gid) == ["1ZRELABEL02"]
    assert shown(shopify, b.order_gid)[1:] == ["1ZBOX2"] and len(shown(shopify, b.order_gid)) == 2
    assert flow.run_fulfillments_flow(shopify, netsuite, ledger, NO_OVERLAP).outcomes == {}
    assert {e.source_id for e in ledger.entries(flow.TRACKING_FLOW, "done")} == {a.id, b.id}
    ledger.close()


def test_refused_tracking_update_is_dead_lettered_and_the_rest_go_on(sandbox, tmp_path):
    sandbox.control.reset(seed=3, products=4, variants_per_product=2, customers=3, locations=2)
    shopify, netsuite = clients(sandbox.url)
    ledger = Ledger(tmp_path / "l.sqlite")
    a, b = shipped(sandbox, shopify, netsuite, ledger).values()
    assert flow.run_fulfillments_flow(shopify, netsuite, ledger, NO_OVERLAP).count(flow.SYNCED) == 2
    # The ledger points a's NetSuite fulfillment at a Shopify fulfillment that does not exist.
    entry = ledger.get_entry(flow.FLOW, a.id)
    ledger.mark_done(flow.FLOW, a.id, "gid://shopify/Fulfillment/999999999", entry.payload_hash)
    set_tracking(netsuite, a.id, "1ZNEWA")
    set_tracking(netsuite, b.id, "1ZNEWB")

    result = flow.run_fulfillments_flow(shopify, netsuite, ledger, NO_OVERLAP)
    assert result.outcomes[b.id].status == flow.SYNCED and shown(shopify, b.order_gid) == ["1ZNEWB"]
    dead = result.outcomes[a.id]
    assert dead.status == flow.DEAD and "Fulfillment does not exist" in dead.reason
    [letter] = ledger.dead_letters(flow.TRACKING_FLOW)
    assert letter.source_id == a.id and "999999999" in letter.reason and "1ZNEWA" in letter.reason
    assert shown(shopify, a.order_gid)[0].startswith("1ZSBX")  # the real one was left alone
    assert result.watermark_after is not None  # a dead letter does not hold the watermark back
    assert flow.run_fulfillments_flow(shopify, netsuite, ledger, NO_OVERLAP).outcomes == {}  # parked

    # The next tracking value is tried afresh; with the ledger fixed it goes through and closes the letter.
    ledger.mark_done(flow.FLOW, a.id, entry.target_id, entry.payload_hash)
    set_tracking(netsuite, a.id, "1ZNEWA2")
    fixed = flow.run_fulfillments_flow(shopify, netsuite, ledger, NO_OVERLAP)
    assert fixed.outcomes[a.id].status == flow.SYNCED and shown(shopify, a.order_gid) == ["1ZNEWA2"]
    assert ledger.dead_letters(flow.TRACKING_FLOW) == []
    ledger.close()


def test_fulfillments_synced_before_tracking_was_versioned_are_not_resent(sandbox, tmp_path):
    """A ledger without tracking versions (written before this feature): Shopify is read once and what it
    already shows is recorded, not sent again (that would mail the customer a second time)."""
    sandbox.control.reset(seed=3, products=4, variants_per_product=2, customers=3, locations=2)
    shopify, netsuite = clients(sandbox.url)
    ledger, legacy = Ledger(tmp_path / "a.sqlite"), Ledger(tmp_path / "b.sqlite")
    a, b = shipped(sandbox, shopify, netsuite, ledger).values()
    flow.run_fulfillments_flow(shopify, netsuite, ledger, NO_OVERLAP)
    for f in (a, b):
        legacy.mark_done(ORDERS_FLOW, f.order_gid, f.sales_order_id, "test")
        done = ledger.get_entry(flow.FLOW, f.id)
        legacy.mark_done(flow.FLOW, f.id, done.target_id, done.payload_hash)
    set_tracking(netsuite, b.id, "1ZCHANGED")
    result = flow.run_fulfillments_flow(shopify, netsuite, legacy, POLICY)
    assert result.outcomes[a.id].status == flow.SKIPPED and result.outcomes[a.id].settled
    assert result.outcomes[b.id].status == flow.SYNCED and result.outcomes[b.id].tracking_sent
    assert shown(shopify, b.order_gid) == ["1ZCHANGED"]
    assert flow.run_fulfillments_flow(shopify, netsuite, legacy, POLICY).outcomes == {}
    ledger.close()
    legacy.close()


def modified(netsuite, fulfillment_id: str) -> str:
    [row] = netsuite.suiteql("SELECT TO_CHAR(lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS m FROM transaction "
                             "WHERE id = :id", {"id": int(fulfillment_id)})
    return row["m"]
