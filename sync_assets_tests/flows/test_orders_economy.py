"""Reads that cost what changed, measured with the sandbox's own cost counters (points per operation).

A polling window full of orders already synced costs the keys-only page and nothing else; a webhook run
fetches the orders its events name and nothing else (a duplicate delivery not even those); a backlog is
bulk-read only when it is unhandled work, and paged when someone else holds the bulk slot.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from sync_assets.connectors.shopify import documents as docs
from sync_assets.connectors.shopify.bulk import run_bulk_query
from sync_assets.connectors.shopify.orders import updated_between_query
from sync_assets.connectors.shopify.throttle import BATCH
from sync_assets.flows.orders import SKIPPED, SYNCED, WEBHOOK_TRIGGER, drain_orders_flow, run_orders_flow
from sync_assets.flows.orders_probe import probe_orders
from sync_assets_tests.flows.orders_support import (
    CONFIG, assert_exactly_once, ledger_at, netsuite_client, place_orders, policy, shopify_client,
)  # fmt: skip

KEYS, BY_ID, PAGE = "OrderKeysPage", "OrdersById", "OrdersPage"
BULK_RUN = "BulkOperationRunQuery"


def _spent(sandbox) -> dict[str, int]:
    """Points charged per operation name since the last counters reset (``shopify.cost.<operation>``)."""
    counters = sandbox.control.counters()["counters"]
    return {k.removeprefix("shopify.cost."): v for k, v in counters.items() if k.startswith("shopify.cost.")}


def _calls(sandbox) -> dict[str, int]:
    counters = sandbox.control.counters()["counters"]
    return {k.removeprefix("shopify.calls."): v for k, v in counters.items() if k.startswith("shopify.calls.")}


def _event(gid: str, updated_at: str) -> dict:
    """The REST payload fields the orders flow reads from an ``orders/*`` webhook."""
    return {"admin_graphql_api_id": gid, "id": int(gid.rsplit("/", 1)[1]), "updated_at": updated_at}


def test_a_polling_window_of_synced_orders_costs_only_the_keys_page(sandbox, tmp_path):
    gids = place_orders(sandbox, 6)
    ledger, netsuite, shopify = ledger_at(tmp_path), netsuite_client(sandbox), shopify_client(sandbox)
    first = run_orders_flow(shopify, netsuite, ledger, policy(), config=CONFIG)
    assert first.count(SYNCED) == 6
    full_read = _spent(sandbox)[BY_ID] / 6  # what reading one of these orders in full cost, once

    sandbox.control.reset_counters()
    again = run_orders_flow(shopify, netsuite, ledger, policy(), config=CONFIG)  # the overlap holds all six
    assert again.count(SKIPPED) == 6 and again.count(SYNCED) == 0 and not again.read_via_bulk
    spent = _spent(sandbox)
    assert set(spent) == {KEYS}, spent  # no full read, no bulk operation
    assert spent[KEYS] <= 2 + 6  # the connection plus a point per key
    assert spent[KEYS] / 6 < full_read / 5  # an already-synced order costs a fraction of reading it
    numbers = again.numbers()
    assert numbers["records_examined"] == 6 and numbers["records_synced"] == 0
    assert numbers["shopify_cost_points"] == spent[KEYS] and numbers["netsuite_api_calls"] == 0
    assert again.watermark_after >= first.watermark_after
    assert_exactly_once(netsuite, gids)


def test_a_busy_window_of_done_orders_is_not_bulk_read(sandbox, tmp_path):
    """The overlap holds more orders than the bulk threshold, but only one is new: keys plus one by id."""
    gids = place_orders(sandbox, 8)
    ledger, netsuite, shopify = ledger_at(tmp_path), netsuite_client(sandbox), shopify_client(sandbox)
    bulky = replace(CONFIG, bulk_threshold=3, bulk_poll_interval=0.05)
    first = run_orders_flow(shopify, netsuite, ledger, policy(), config=bulky)
    assert first.read_via_bulk and first.count(SYNCED) == 8  # 8 unhandled > 3: one bulk read
    time.sleep(1.1)  # whole-second stamps: the next order is past the first run's watermark
    gids += place_orders(sandbox, 1)
    sandbox.control.reset_counters()
    second = run_orders_flow(shopify, netsuite, ledger, policy(), config=bulky)
    assert not second.read_via_bulk and second.count(SYNCED) == 1 and second.count(SKIPPED) == 8
    assert set(_spent(sandbox)) == {KEYS, BY_ID} and _calls(sandbox)[BY_ID] == 1
    assert_exactly_once(netsuite, gids)


def test_a_version_that_changes_nothing_in_netsuite_is_read_once_then_costs_its_key(sandbox, tmp_path):
    """Our own fulfillment bumps the order's updatedAt but not its sales order: one full read finds it
    unchanged, and the runs after it pay the key only (they used to re-read it for the whole overlap)."""
    gids = [o["id"] for o in sandbox.control.place_orders(3, seed=5)]  # generated: with fulfillment orders
    ledger, netsuite, shopify = ledger_at(tmp_path), netsuite_client(sandbox), shopify_client(sandbox)
    assert run_orders_flow(shopify, netsuite, ledger, policy(), config=CONFIG).count(SYNCED) == 3
    time.sleep(1.1)  # the fulfillment's stamp a whole second past our write
    (fo, *_) = shopify.fulfillment_orders(gids[0])
    shopify.create_fulfillment([{"fulfillmentOrderId": fo["id"]}])
    time.sleep(1.1)  # past the whole second of the new stamp
    sandbox.control.reset_counters()
    first = run_orders_flow(shopify, netsuite, ledger, policy(), config=CONFIG)
    assert first.outcomes[gids[0]].status == SKIPPED and _calls(sandbox).get(BY_ID) == 1  # read once, unchanged
    sandbox.control.reset_counters()
    second = run_orders_flow(shopify, netsuite, ledger, policy(), config=CONFIG)
    assert second.count(SKIPPED) == 3 and set(_spent(sandbox)) == {KEYS}
    assert_exactly_once(netsuite, gids)


def test_a_webhook_run_fetches_only_the_orders_it_was_told_about(sandbox, tmp_path):
    ledger, netsuite, shopify = ledger_at(tmp_path), netsuite_client(sandbox), shopify_client(sandbox)
    gids = place_orders(sandbox, 2)
    polled = run_orders_flow(shopify, netsuite, ledger, policy(), config=CONFIG)  # a fresh watermark
    assert polled.count(SYNCED) == 2
    time.sleep(1.1)
    told, untold = place_orders(sandbox, 2)
    (order,) = shopify.get_orders([told])
    ledger.inbox_put("evt-1", "orders/create", _event(told, order["updatedAt"]))
    # Whole-second stamps: a version read within its own second might hide a same-second edit, so it only
    # counts as handled once read a second later. Deliveries take about that long anyway.
    time.sleep(1.1)

    sandbox.control.reset_counters()
    hooked = run_orders_flow(shopify, netsuite, ledger, policy(), config=CONFIG, trigger=WEBHOOK_TRIGGER)
    assert {g for g, o in hooked.outcomes.items() if o.status == SYNCED} == {told}
    assert hooked.inbox_acked == 1 and hooked.window is None
    assert _calls(sandbox) == {BY_ID: 1}  # no window paged: the poller's job while the watermark is fresh
    assert ledger.get_watermark("orders") == polled.watermark_after

    # Shopify delivers at least once: the same version again costs no read at all.
    sandbox.control.reset_counters()
    ledger.inbox_put("evt-1-again", "orders/create", _event(told, order["updatedAt"]))
    duplicate = run_orders_flow(shopify, netsuite, ledger, policy(), config=CONFIG, trigger=WEBHOOK_TRIGGER)
    assert duplicate.inbox_acked == 1 and duplicate.outcomes[told].status == SKIPPED
    assert _calls(sandbox) == {}

    # A sensor-launched run polls as always and finds the order no webhook named.
    swept = run_orders_flow(shopify, netsuite, ledger, policy(), config=CONFIG, trigger="sensor")
    assert {g for g, o in swept.outcomes.items() if o.status == SYNCED} == {untold}
    assert_exactly_once(netsuite, gids + [told, untold])


def test_a_webhook_run_polls_too_once_the_watermark_is_stale(sandbox, tmp_path):
    ledger, netsuite, shopify = ledger_at(tmp_path), netsuite_client(sandbox), shopify_client(sandbox)
    run_orders_flow(shopify, netsuite, ledger, policy(), config=CONFIG)  # nothing yet: sets the watermark
    told, untold = place_orders(sandbox, 2)
    (order,) = shopify.get_orders([told])
    ledger.inbox_put("evt-2", "orders/create", _event(told, order["updatedAt"]))
    later = datetime.now(timezone.utc) + timedelta(seconds=CONFIG.webhook_poll_after_seconds + 5)
    hooked = run_orders_flow(shopify, netsuite, ledger, policy(), config=CONFIG, trigger=WEBHOOK_TRIGGER, now=later)
    assert hooked.window is not None  # the safety net: the webhook run read the window as well
    assert {g for g, o in hooked.outcomes.items() if o.status == SYNCED} == {told, untold}
    assert_exactly_once(netsuite, [told, untold])


def test_a_backlog_is_paged_while_another_bulk_query_holds_the_slot(sandbox, tmp_path):
    """The real-time lane does not queue behind a batch export: it pages, and every order still syncs once."""
    gids = place_orders(sandbox, 5)
    sandbox.control.configure(bulk_seconds=6.0)
    batch = shopify_client(sandbox, lane=BATCH)
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    export = threading.Thread(target=lambda: list(run_bulk_query(
        batch, docs.bulk_orders_query(updated_between_query(start, start + timedelta(hours=2))),
        group_objects=True, poll_interval=0.1, timeout_s=60)))  # fmt: skip
    export.start()
    try:
        deadline = time.monotonic() + 10
        while not sandbox.control.counters()["counters"].get(f"shopify.calls.{BULK_RUN}"):
            assert time.monotonic() < deadline, "the export's bulk query never started"
            time.sleep(0.05)
        ledger, netsuite, shopify = ledger_at(tmp_path), netsuite_client(sandbox), shopify_client(sandbox)
        run = run_orders_flow(shopify, netsuite, ledger, policy(),
                              config=replace(CONFIG, bulk_threshold=2, bulk_poll_interval=0.05))
        assert export.is_alive(), "the orders run waited for the export's bulk query to finish"
        assert not run.read_via_bulk and run.count(SYNCED) == 5
        assert _calls(sandbox)[BULK_RUN] == 2  # the export's, and the orders run's one refused try
    finally:
        export.join(timeout=30)
    assert_exactly_once(netsuite, gids)


class _MidRunDelivery:
    """A Shopify client whose first full read is followed by a webhook delivery for another order: the
    event arrives while the run is busy with the first one."""

    def __init__(self, shopify, ledger, gid: str, updated_at: str) -> None:
        self._shopify, self._ledger, self._event = shopify, ledger, (gid, updated_at)
        self.delivered = False

    def get_orders(self, ids):
        found = self._shopify.get_orders(ids)
        if not self.delivered:
            self.delivered = True
            self._ledger.inbox_put("evt-mid", "orders/create", _event(*self._event))
        return found

    def __getattr__(self, name):
        return getattr(self._shopify, name)


def _mid_run_setup(sandbox, tmp_path):
    ledger, netsuite, shopify = ledger_at(tmp_path), netsuite_client(sandbox), shopify_client(sandbox)
    run_orders_flow(shopify, netsuite, ledger, policy(), config=CONFIG)  # nothing yet: sets the watermark
    first, second = place_orders(sandbox, 2)
    orders = {o["id"]: o for o in shopify.get_orders([first, second])}
    ledger.inbox_put("evt-first", "orders/create", _event(first, orders[first]["updatedAt"]))
    return ledger, netsuite, _MidRunDelivery(shopify, ledger, second, orders[second]["updatedAt"]), first, second


def test_a_run_in_flight_takes_the_webhooks_that_arrive_meanwhile(sandbox, tmp_path):
    """One run in flight per flow, and an order arriving while it works is not left for the next run."""
    ledger, netsuite, shopify, first, second = _mid_run_setup(sandbox, tmp_path)
    result = drain_orders_flow(shopify, netsuite, ledger, policy(), config=replace(CONFIG, drain_seconds=60.0),
                               trigger=WEBHOOK_TRIGGER)  # fmt: skip
    assert shopify.delivered
    assert {g for g, o in result.outcomes.items() if o.status == SYNCED} == {first, second}
    assert result.inbox_events == 2 and result.inbox_acked == 2
    assert not ledger.inbox_counts("orders/create").get("new")
    numbers = result.numbers()
    assert numbers["records_synced"] == 2 and numbers["shopify_api_calls"] >= 2  # both batches' spend
    assert_exactly_once(netsuite, [first, second])


def test_without_a_drain_budget_the_late_webhook_waits_for_the_next_run(sandbox, tmp_path):
    ledger, netsuite, shopify, first, second = _mid_run_setup(sandbox, tmp_path)
    result = drain_orders_flow(shopify, netsuite, ledger, policy(), config=replace(CONFIG, drain_seconds=0.0),
                               trigger=WEBHOOK_TRIGGER)  # fmt: skip
    assert {g for g, o in result.outcomes.items() if o.status == SYNCED} == {first}
    assert ledger.inbox_counts("orders/create").get("new") == 1
    later = drain_orders_flow(shopify, netsuite, ledger, policy(), config=replace(CONFIG, drain_seconds=60.0),
                              trigger=WEBHOOK_TRIGGER)  # fmt: skip
    assert {g for g, o in later.outcomes.items() if o.status == SYNCED} == {second}
    assert_exactly_once(netsuite, [first, second])


def test_a_run_that_took_webhooks_waits_a_moment_for_the_next(sandbox, tmp_path):
    """Under a steady stream the next order arrives just after a batch: the run waits for it
    (``drain_linger_seconds``) instead of ending, and a run that took no webhook never waits."""
    ledger, netsuite, shopify = ledger_at(tmp_path), netsuite_client(sandbox), shopify_client(sandbox)
    run_orders_flow(shopify, netsuite, ledger, policy(), config=CONFIG)
    first, second = place_orders(sandbox, 2)
    orders = {o["id"]: o for o in shopify.get_orders([first, second])}
    ledger.inbox_put("evt-a", "orders/create", _event(first, orders[first]["updatedAt"]))

    def deliver_after_the_first_batch():
        deadline = time.monotonic() + 60
        while ledger.inbox_counts("orders/create").get("new") and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the run has finished its batch and is waiting
        ledger.inbox_put("evt-b", "orders/create", _event(second, orders[second]["updatedAt"]))

    late = threading.Thread(target=deliver_after_the_first_batch)
    late.start()
    config = replace(CONFIG, drain_seconds=60.0, drain_linger_seconds=5.0)
    result = drain_orders_flow(shopify, netsuite, ledger, policy(), config=config, trigger=WEBHOOK_TRIGGER)
    late.join()
    assert {g for g, o in result.outcomes.items() if o.status == SYNCED} == {first, second}
    assert_exactly_once(netsuite, [first, second])

    began = time.monotonic()
    idle = drain_orders_flow(shopify, netsuite, ledger, policy(), config=config, trigger="sensor")
    assert idle.inbox_events == 0 and time.monotonic() - began < config.drain_linger_seconds


def test_the_probe_pages_only_keys_newer_than_its_last_quiet_tick(sandbox, tmp_path):
    """Webhook runs leave the watermark behind; the sensor's probe must not page those done keys every tick."""
    ledger, netsuite, shopify = ledger_at(tmp_path), netsuite_client(sandbox), shopify_client(sandbox)
    run_orders_flow(shopify, netsuite, ledger, policy(), config=CONFIG)  # the watermark, before the orders
    time.sleep(1.1)
    gids = place_orders(sandbox, 6)
    for n, order in enumerate(shopify.get_orders(gids)):
        ledger.inbox_put(f"evt-{n}", "orders/create", _event(order["id"], order["updatedAt"]))
    time.sleep(1.1)  # read a second after their stamps: the versions count as handled
    hooked = run_orders_flow(shopify, netsuite, ledger, policy(), config=CONFIG, trigger=WEBHOOK_TRIGGER)
    assert hooked.count(SYNCED) == 6 and hooked.window is None  # the watermark stayed behind them
    time.sleep(1.1)  # a tick reads from a second before its cursor: the orders' second is behind that

    sandbox.control.reset_counters()
    assert probe_orders(shopify, ledger, policy(), config=CONFIG) is None  # six done keys paged, once
    assert _spent(sandbox)[KEYS] >= 2 + 6
    time.sleep(1.1)
    sandbox.control.reset_counters()
    assert probe_orders(shopify, ledger, policy(), config=CONFIG) is None
    assert _spent(sandbox)[KEYS] <= 2  # from its cursor: no key to page again

    (new,) = place_orders(sandbox, 1)  # past the cursor: seen at once
    pending = probe_orders(shopify, ledger, policy(), config=CONFIG)
    assert pending is not None and [gid for gid, _ in pending.keys] == [new]
    # Once a poll period has passed, a tick reads from the watermark again: the safety net's full look.
    sandbox.control.reset_counters()
    later = datetime.now(timezone.utc) + timedelta(seconds=CONFIG.webhook_poll_after_seconds + 1)
    assert [gid for gid, _ in probe_orders(shopify, ledger, policy(), config=CONFIG, now=later).keys] == [new]
    assert _spent(sandbox)[KEYS] >= 2 + 7
    # An order behind the cursor that becomes work again comes through the inbox, which every tick counts.
    ledger.requeue("orders", gids[0], "reconciliation: missing in NetSuite")
    ledger.inbox_put("requeue-0", "orders/updated", {"admin_graphql_api_id": gids[0]})
    assert probe_orders(shopify, ledger, policy(), config=CONFIG).inbox_events == 1
