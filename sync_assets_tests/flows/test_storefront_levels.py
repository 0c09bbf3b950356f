"""What the flow knows of the storefront's levels, from its reads, its writes and Shopify's deliveries: stamps
decide, and a same-second disagreement makes a level unknown (so it is read)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sync_assets.flows import storefront_levels as levels
from sync_assets.state.ledger import Ledger

ITEM, LOC, OTHER = "gid://shopify/InventoryItem/7", "gid://shopify/Location/1", "gid://shopify/Location/2"
READ_AT = datetime(2026, 12, 7, 12, 0, 10, 400_000, tzinfo=timezone.utc)


def _ledger(tmp_path) -> Ledger:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    levels.remember_read(ledger, {"SKU-7": {"id": ITEM, "tracked": True,
                                            "levels": {LOC: {"available": 5}, OTHER: {"available": 2}}}}, READ_AT)
    return ledger


def _deliver(ledger, n: int, available, stamp: str, location: int = 1, item: int = 7) -> None:
    ledger.inbox_put(f"evt-{n}", levels.TOPIC, {"inventory_item_id": item, "location_id": location,
                                                 "available": available, "updated_at": stamp})


def _known(ledger, now=READ_AT + timedelta(seconds=5), trust=900.0):
    return levels.known(ledger, {"SKU-7": ITEM}, [LOC, OTHER], now, trust)


def _available(ledger):
    found = _known(ledger)
    return {loc: q["available"] for loc, q in found["SKU-7"]["levels"].items()} if found else None


def test_a_read_is_known_until_the_trust_runs_out(tmp_path):
    ledger = _ledger(tmp_path)
    assert _available(ledger) == {LOC: 5, OTHER: 2}
    assert _known(ledger, now=READ_AT + timedelta(seconds=901)) == {}
    assert levels.known(ledger, {"OTHER-SKU": ITEM}, [LOC], READ_AT, 900.0) == {}  # the item is another SKU's


def test_a_later_delivery_wins_an_older_one_changes_nothing_and_out_of_order_ones_sort_out(tmp_path):
    ledger = _ledger(tmp_path)
    _deliver(ledger, 1, 3, "2026-12-07T12:00:12Z")
    _deliver(ledger, 2, 9, "2026-12-07T12:00:09Z")  # before the read: already in what was read
    assert levels.take_deliveries(ledger) == 1
    assert _available(ledger) == {LOC: 3, OTHER: 2}
    _deliver(ledger, 3, 1, "2026-12-07T07:00:14-05:00")  # an offset stamp, as Shopify sends them
    _deliver(ledger, 4, 2, "2026-12-07T12:00:13Z")  # delivered late: older than the one before it
    levels.take_deliveries(ledger)
    assert _available(ledger) == {LOC: 1, OTHER: 2}
    assert ledger.inbox_counts(levels.TOPIC) == {"acked": 4}


def test_the_same_second_with_another_value_makes_the_level_unknown_and_the_same_value_changes_nothing(tmp_path):
    ledger = _ledger(tmp_path)
    _deliver(ledger, 1, 5, "2026-12-07T12:00:10Z")  # the read's own second, the value read: consistent
    assert levels.take_deliveries(ledger) == 0 and _available(ledger) == {LOC: 5, OTHER: 2}
    _deliver(ledger, 2, 4, "2026-12-07T12:00:10Z", location=2)  # same second, another value: before or after?
    assert levels.take_deliveries(ledger) == 1
    assert _known(ledger) == {}  # one mapped level unknown: the SKU is read


def test_our_write_is_known_and_bad_deliveries_are_acked_without_effect(tmp_path):
    ledger = _ledger(tmp_path)
    levels.remember_written(ledger, ITEM, {LOC: 8}, READ_AT + timedelta(seconds=3))
    assert _available(ledger) == {LOC: 8, OTHER: 2}
    ledger.inbox_put("bad-1", levels.TOPIC, {"inventory_item_id": "seven", "location_id": 1})
    ledger.inbox_put("bad-2", levels.TOPIC, ["not", "a", "level"])
    _deliver(ledger, 3, 4, "2026-12-07T12:00:20Z", item=99)  # an item never read
    assert levels.take_deliveries(ledger) == 0
    assert _available(ledger) == {LOC: 8, OTHER: 2} and ledger.inbox_counts(levels.TOPIC) == {"acked": 3}
    levels.remember_written(ledger, "gid://shopify/InventoryItem/99", {LOC: 1}, READ_AT)  # never read: not kept
    assert levels.known(ledger, {"X": "gid://shopify/InventoryItem/99"}, [LOC], READ_AT, 900.0) == {}
