"""The order history backfill against the sandbox's seeded history, over real HTTP, landing into a real
landing area and DuckDB file: months in the shop's zone, re-runs without copies, bad rows dead-lettered,
the real-time orders flow syncing while a backfill holds the bulk slot, and Dagster's own ranged run."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest

from sync_assets.defs.order_history import JOB_NAME, ORDER_HISTORY
from sync_assets.defs.order_history import definitions as order_history_definitions
from sync_assets.defs.resources import LandingResource, LedgerResource, ShopifyResource
from sync_assets.domain.policy import AccountPolicy
from sync_assets.flows.order_history import FLOW, BackfillConfig, ShopTimezoneMismatch, run_order_history_backfill
from sync_assets.flows.orders import SYNCED, run_orders_flow
from sync_assets.sandbox import credentials as C
from sync_assets_tests.flows.orders_support import (
    CONFIG, assert_exactly_once, landing_at, ledger_at, merge_at, netsuite_client, policy, shopify_client,
)  # fmt: skip

NEW_YORK = "America/New_York"
NY = ZoneInfo(NEW_YORK)
FAST = BackfillConfig(chunk_rows=7, bulk_poll_interval=0.05, bulk_timeout_seconds=60)
CURRENT_BULK = "query { currentBulkOperation { id status } }"


def _month(year: int, month: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1, tzinfo=NY)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=NY)
    return start, end


def _backfill(sandbox, tmp_path, start, end, *, zone=NEW_YORK, run_id="backfill-1", config=FAST):
    return run_order_history_backfill(shopify_client(sandbox, timeout=30), ledger_at(tmp_path), landing_at(tmp_path),
                                      start=start, end=end, timezone=zone, run_id=run_id, config=config)


def _raw_orders(path) -> list[tuple[str, str]]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute("SELECT order_id, payload->>'createdAt' FROM raw.shopify_orders ORDER BY 1").fetchall()


def _seed_month_boundary(sandbox) -> None:
    """Three orders an hour apart from 23:30 New York time on 31 January: the first is January's in the
    shop's calendar although it is 04:30 on 1 February in UTC."""
    sandbox.control.configure(shopify_timezone=NEW_YORK, bulk_seconds=0, bulk_seconds_per_1000_objects=0)
    first = datetime(2026, 1, 31, 23, 30, tzinfo=NY)
    sandbox.control.seed_order_history(3, first.isoformat(), (first + timedelta(hours=3)).isoformat(), seed=3)


def test_an_order_late_on_the_last_day_belongs_to_that_month_in_the_shops_zone(sandbox, tmp_path):
    _seed_month_boundary(sandbox)
    january = _backfill(sandbox, tmp_path, *_month(2026, 1))
    assert january.orders_landed == 1 and dict(january.by_month) == {"2026-01": 1}
    ((_, created),) = _raw_orders(merge_at(tmp_path))
    assert created == "2026-02-01T04:30:00Z"  # next month in UTC, January in New York

    february = _backfill(sandbox, tmp_path, *_month(2026, 2), run_id="backfill-2")
    assert february.orders_landed == 2 and dict(february.by_month) == {"2026-02": 2}
    assert len(_raw_orders(merge_at(tmp_path))) == 3


def test_re_running_months_adds_no_raw_copies(sandbox, tmp_path):
    sandbox.control.configure(shopify_timezone=NEW_YORK, bulk_seconds=0, bulk_seconds_per_1000_objects=0)
    sandbox.control.seed_order_history(40, "2025-11-01T00:00:00-04:00", "2026-01-01T00:00:00-05:00", seed=9)
    start, end = _month(2025, 11)[0], _month(2025, 12)[1]
    first = _backfill(sandbox, tmp_path, start, end)
    assert first.orders_landed == 40 and first.files == 6  # chunks of 7: landed as it streamed
    rows = _raw_orders(merge_at(tmp_path))
    assert len(rows) == 40 and len({r[0] for r in rows}) == 40

    again = _backfill(sandbox, tmp_path, start, end, run_id="backfill-again")
    assert again.orders_landed == 40
    assert _raw_orders(merge_at(tmp_path)) == rows  # same versions, not a second copy
    # December alone, a third time: still nothing new
    _backfill(sandbox, tmp_path, *_month(2025, 12), run_id="backfill-december")
    assert _raw_orders(merge_at(tmp_path)) == rows


def test_a_malformed_order_is_dead_lettered_with_a_clear_reason_and_the_rest_lands(sandbox, tmp_path):
    sandbox.control.configure(bulk_seconds=0, bulk_seconds_per_1000_objects=0)
    sandbox.control.seed_order_history(30, "2025-06-01T00:00:00Z", "2025-07-01T00:00:00Z", malformed=2)
    utc = timezone.utc
    result = _backfill(sandbox, tmp_path, datetime(2025, 6, 1, tzinfo=utc), datetime(2025, 7, 1, tzinfo=utc), zone="UTC")
    assert result.orders_landed == 28 and result.dead_lettered == 2
    letters = ledger_at(tmp_path).dead_letters(FLOW)
    assert len(letters) == 2
    for letter in letters:
        assert letter.source_id.startswith("gid://shopify/Order/")
        assert "createdAt '0000-00-00T25:61:00Z' is not a timestamp" in letter.reason
        assert letter.field_path == "createdAt" and letter.payload["id"] == letter.source_id
    assert len(_raw_orders(merge_at(tmp_path))) == 28
    # the orders flow's own ledger rows are untouched: history is not synced to NetSuite
    assert ledger_at(tmp_path).entries("orders") == []


def test_months_of_another_zone_than_the_shops_are_refused_naming_the_setting(sandbox, tmp_path):
    sandbox.control.configure(shopify_timezone="Europe/Paris")
    with pytest.raises(ShopTimezoneMismatch, match=r"account\.shop_timezone is 'America/New_York' but the shop's "
                                                    r"time zone \(shop.ianaTimezone\) is 'Europe/Paris'"):
        _backfill(sandbox, tmp_path, *_month(2026, 1))
    assert not (tmp_path / "landing").exists()


def test_the_real_time_orders_flow_syncs_while_a_backfill_holds_the_bulk_slot(sandbox, tmp_path):
    sandbox.control.configure(bulk_seconds=6, bulk_seconds_per_1000_objects=0)
    sandbox.control.seed_order_history(20, "2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z")
    utc = timezone.utc
    outcome: dict = {}

    def backfill() -> None:
        outcome["result"] = _backfill(sandbox, tmp_path, datetime(2025, 3, 1, tzinfo=utc),
                                      datetime(2025, 4, 1, tzinfo=utc), zone="UTC")

    worker = threading.Thread(target=backfill)
    worker.start()
    watcher = shopify_client(sandbox)
    deadline = time.monotonic() + 30
    while (watcher.execute(CURRENT_BULK, {})["currentBulkOperation"] or {}).get("status") != "RUNNING":
        assert time.monotonic() < deadline, "the backfill's bulk operation never started"
        time.sleep(0.1)
    placed = sandbox.control.place_orders(2, seed=21)
    realtime = run_orders_flow(shopify_client(sandbox), netsuite_client(sandbox), ledger_at(tmp_path), policy(),
                               config=CONFIG)
    still_running = watcher.execute(CURRENT_BULK, {})["currentBulkOperation"]["status"] == "RUNNING"
    worker.join(timeout=60)
    assert still_running, "the orders flow finished only after the backfill's bulk operation"
    assert {o.status for o in realtime.outcomes.values()} == {SYNCED} and len(realtime.outcomes) == 2
    assert_exactly_once(netsuite_client(sandbox), [o["id"] for o in placed])
    assert outcome["result"].orders_landed == 20


def _resources(sandbox, tmp_path) -> dict:
    return {
        "shopify": ShopifyResource(shop_url=sandbox.url, access_token=C.SHOPIFY_ACCESS_TOKEN,
                                   api_version=C.SHOPIFY_API_VERSION),
        "ledger": LedgerResource(path=str(tmp_path / "ledger.sqlite")),
        "landing": LandingResource(path=str(tmp_path / "landing")),
    }


def test_a_backfill_of_several_months_is_one_run_that_materializes_each_partition(sandbox, tmp_path):
    _seed_month_boundary(sandbox)
    account = AccountPolicy(shop_timezone=NEW_YORK, history_start=datetime(2025, 12, 1).date())
    defs = dg.Definitions.merge(order_history_definitions(account, FAST),
                                dg.Definitions(resources=_resources(sandbox, tmp_path)))
    job = defs.resolve_job_def(JOB_NAME)
    assert job.partitions_def.get_partition_keys()[:3] == ["2025-12-01", "2026-01-01", "2026-02-01"]
    with dg.instance_for_test() as instance:
        # What the UI's "Launch backfill" does with a single-run backfill policy: one run over the range.
        # (the range tags are Dagster's own, dagster._core.storage.tags.ASSET_PARTITION_RANGE_*_TAG)
        result = job.execute_in_process(instance=instance, tags={
            "dagster/asset_partition_range_start": "2025-12-01", "dagster/asset_partition_range_end": "2026-02-01"})
        assert result.success
        materialized = instance.get_materialized_partitions(ORDER_HISTORY)
        assert materialized == {"2025-12-01", "2026-01-01", "2026-02-01"}
        events = result.asset_materializations_for_node("warehouse__shopify_order_history")
        assert sorted(e.partition for e in events) == ["2025-12-01", "2026-01-01", "2026-02-01"]
        event = events[0]
        assert event.metadata["dagster/row_count"].value == 3
        assert event.metadata["orders_by_month"].data == {"2026-01": 1, "2026-02": 2}
    assert len(_raw_orders(merge_at(tmp_path))) == 3
