"""A backlog in the polling window is read with one bulk operation, not paged: same order shape, every
order synced exactly once, and the watermark only past what NetSuite durably holds."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from sync_assets.connectors.errors import TransientError
from sync_assets.connectors.shopify.bulk import iter_bulk_orders_updated_between
from sync_assets.connectors.shopify.orders import iter_orders_updated_between
from sync_assets.domain.ids import id_sort_key
from sync_assets.domain.windows import Watermark, parse_ts
from sync_assets.flows import orders as orders_flow
from sync_assets.flows.orders import FAILED, SKIPPED, SYNCED, run_orders_flow
from sync_assets_tests.flows.orders_support import (
    CONFIG, assert_exactly_once, ledger_at, netsuite_client, place_orders, policy, shopify_client,
)  # fmt: skip

# Small numbers so the test is quick; the logic does not depend on them.
BULK = replace(CONFIG, bulk_threshold=5, bulk_cap_multiplier=2, bulk_poll_interval=0.05, workers=1)
BATCH = 4  # → 8 orders per bulk run, 4 per paged run

CURRENT_BULK = "query { currentBulkOperation { id status rootObjectCount query } }"


def _sorted_keys(orders) -> list[tuple]:
    return sorted((parse_ts(o["updatedAt"]), id_sort_key(o["id"]), o["id"]) for o in orders)


def test_a_bulk_read_gives_exactly_the_paged_order_shape(sandbox):
    sandbox.control.place_orders(4, seed=11)  # generated: several lines, shipping, addresses, discounts
    place_orders(sandbox, 2)  # one of them paid: transactions
    shopify = shopify_client(sandbox)
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    end = datetime.now(timezone.utc) + timedelta(seconds=2)
    paged = {o["id"]: o for o in iter_orders_updated_between(shopify, start, end)}
    bulk = {o["id"]: o for o in iter_bulk_orders_updated_between(shopify, start, end, poll_interval=0.05, timeout_s=30)}
    assert len(paged) == 6 and set(bulk) == set(paged)
    assert any(len(o["lineItems"]) > 1 for o in paged.values()) and any(o["shippingLines"] for o in paged.values())
    assert any(o["transactions"] for o in paged.values())
    for gid, order in paged.items():
        assert bulk[gid] == order, gid


def test_a_backlog_is_read_by_bulk_synced_once_and_the_watermark_follows(sandbox, tmp_path, monkeypatch):
    gids = [o["id"] for o in sandbox.control.place_orders(11, seed=5)]
    ledger, netsuite, orders_policy = ledger_at(tmp_path), netsuite_client(sandbox), policy(batch_size=BATCH)
    shopify = shopify_client(sandbox)
    done_when_read: list[int] = []  # orders done in the ledger when each order of the bulk result was read

    def watched(*args, **kwargs):
        for order in iter_bulk_orders_updated_between(*args, **kwargs):
            done_when_read.append(sum(e.status == "done" for e in ledger.entries("orders")))
            yield order

    monkeypatch.setattr(orders_flow, "iter_bulk_orders_updated_between", watched)

    first = run_orders_flow(shopify, netsuite, ledger, orders_policy, config=BULK)
    assert first.read_via_bulk and first.numbers()["orders_read_via_bulk"] == 1
    operation = shopify.execute(CURRENT_BULK)["currentBulkOperation"]
    assert operation["status"] == "COMPLETED" and operation["rootObjectCount"] == "11"  # the whole window, once
    synced = [g for g, o in first.outcomes.items() if o.status == SYNCED]
    assert len(synced) == 8  # batch_size × bulk_cap_multiplier, the oldest first
    keys = _sorted_keys(first.orders)
    assert {k[2] for k in keys} == set(synced)
    assert first.watermark_after == Watermark(keys[-1][0], keys[-1][2])
    assert done_when_read[:9] == [0, 0, 0, 0, 4, 4, 4, 4, 8]  # written a chunk (batch_size) at a time, as read

    second = run_orders_flow(shopify, netsuite, ledger, orders_policy, config=BULK)
    # 3 left of the window's 11: under the threshold, so paged; the 8 done ones cost a key each, no full read.
    assert not second.read_via_bulk
    assert shopify.execute(CURRENT_BULK)["currentBulkOperation"]["id"] == operation["id"]
    assert {g for g, o in second.outcomes.items() if o.status == SYNCED} == set(gids) - set(synced)
    assert {o.status for g, o in second.outcomes.items() if g in synced} == {SKIPPED}
    assert second.watermark_after == Watermark(second.window.end, "")  # drained
    assert_exactly_once(netsuite, gids)


def test_netsuite_failing_mid_way_leaves_the_rest_of_the_bulk_read_for_the_next_run(sandbox, tmp_path):
    gids = [o["id"] for o in sandbox.control.place_orders(10, seed=7)]
    ledger, orders_policy, shopify = ledger_at(tmp_path), policy(batch_size=BATCH), shopify_client(sandbox)
    netsuite = netsuite_client(sandbox)
    real_upsert, written = netsuite.upsert_record, []

    def fails_after_three(record_type, external_id, body, **kw):
        if record_type == "salesOrder":
            if len(written) >= 3:
                raise TransientError("NetSuite is down (test)")
            written.append(external_id)
        return real_upsert(record_type, external_id, body, **kw)

    netsuite.upsert_record = fails_after_three
    failing = run_orders_flow(shopify, netsuite, ledger, orders_policy, config=BULK)
    assert failing.read_via_bulk and failing.netsuite_unavailable
    keys = _sorted_keys(failing.orders)  # the first chunk only: NetSuite down stopped the reading
    assert [failing.outcomes[k[2]].status for k in keys] == [SYNCED] * 3 + [FAILED]  # one writer: in order
    assert failing.watermark_after == Watermark(keys[2][0], keys[2][2])
    assert ledger.get_watermark("orders") == failing.watermark_after

    clean = run_orders_flow(shopify, netsuite_client(sandbox), ledger, orders_policy, config=BULK)
    assert clean.read_via_bulk  # 7 still past the watermark (within this run's cap of 8)
    assert {g for g, o in clean.outcomes.items() if o.status == SYNCED} == set(gids) - {k[2] for k in keys[:3]}
    assert clean.count(FAILED) == 0 and clean.watermark_after == Watermark(clean.window.end, "")
    assert_exactly_once(netsuite_client(sandbox), gids)


def test_a_quiet_window_is_paged_and_with_bulk_off_a_backlog_still_drains_past_its_done_overlap(sandbox, tmp_path):
    gids = place_orders(sandbox, 3)
    ledger, netsuite, shopify = ledger_at(tmp_path), netsuite_client(sandbox), shopify_client(sandbox)
    quiet = run_orders_flow(shopify, netsuite, ledger, policy(batch_size=BATCH), config=BULK)
    assert not quiet.read_via_bulk and quiet.count(SYNCED) == 3
    assert shopify.execute(CURRENT_BULK)["currentBulkOperation"] is None

    # Paging only, a cap of 2: each run re-reads the done orders of its overlap, which must not use up the
    # cap (they did once: a run read the same done orders again and never got further).
    time.sleep(1.1)  # Shopify stamps whole seconds: place them past the first run's watermark
    gids += [o["id"] for o in sandbox.control.place_orders(3, seed=3)]
    paged_only = replace(BULK, bulk_threshold=None)
    first = run_orders_flow(shopify, netsuite, ledger, policy(batch_size=2), config=paged_only)
    second = run_orders_flow(shopify, netsuite, ledger, policy(batch_size=2), config=paged_only)
    assert not first.read_via_bulk and first.count(SYNCED) == 2 and first.count(SKIPPED) == 3
    assert second.count(SYNCED) == 1 and second.watermark_after == Watermark(second.window.end, "")
    assert_exactly_once(netsuite, gids)
