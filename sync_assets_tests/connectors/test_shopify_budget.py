"""One Shopify budget per shop, over real HTTP against the sandbox: the bucket report shared by every
process, the bulk slot queued for instead of failed on, and the batch lane finishing while the real-time
lane keeps the bucket throttled."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from sync_assets.connectors.http import Backoff
from sync_assets.connectors.shopify import ShopifyBulkSlotBusy, ShopifyClient, ShopifyThrottledError
from sync_assets.connectors.shopify import documents as docs
from sync_assets.connectors.shopify.bulk import iter_bulk_orders_updated_between
from sync_assets.connectors.shopify.throttle import BATCH, CostBucket, LanePacing
from sync_assets.domain.shop_days import local_day
from sync_assets.flows.reconciliation import ReconciliationConfig, reconcile_day
from sync_assets.sandbox import credentials
from sync_assets.state.ledger import Ledger
from sync_assets_tests.flows.orders_support import netsuite_client

KEYS_PAGE = {"first": 100, "query": "updated_at:>='2000-01-01T00:00:00Z'"}


def _client(sandbox, **kwargs) -> ShopifyClient:
    kwargs.setdefault("timeout", 5)
    kwargs.setdefault("backoff", Backoff(max_attempts=10, base_seconds=0.02, cap_seconds=0.3))
    return ShopifyClient(sandbox.url, credentials.SHOPIFY_ACCESS_TOKEN, **kwargs)


def _window():
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    return start, start + timedelta(hours=2)


def test_another_process_paces_against_the_bucket_this_one_spent(sandbox, tmp_path):
    sandbox.control.place_orders(50, seed=1)  # so a keys page costs 52 points
    sandbox.control.configure(shopify_bucket_size=1000, shopify_restore_rate=10)
    code = (
        "import sys; from sync_assets.connectors.shopify import ShopifyClient\n"
        "from sync_assets.connectors.shopify import documents as docs\n"
        f"c = ShopifyClient({sandbox.url!r}, {credentials.SHOPIFY_ACCESS_TOKEN!r}, shared_state_dir=sys.argv[1])\n"
        f"for _ in range(8): c.execute(docs.ORDER_KEYS_PAGE, {KEYS_PAGE!r})\n"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, timeout=60)
    here = _client(sandbox, shared_state_dir=str(tmp_path))
    alone = _client(sandbox)
    # The other process's last report says the bucket is low: this client knows before sending anything.
    estimate = here.bucket.available_now()
    assert estimate is not None and estimate < 1000 - 8 * 40
    assert alone.bucket.available_now() is None
    alone.execute(docs.ORDER_KEYS_PAGE, {"first": 1, "query": KEYS_PAGE["query"]})  # Shopify's own figure (+3 points)
    assert abs(alone.bucket.available_now() + 3 - estimate) < 20


def test_a_second_bulk_query_waits_for_the_first_instead_of_failing(sandbox, tmp_path):
    sandbox.control.place_orders(3, seed=2)
    sandbox.control.configure(bulk_seconds=1.5)
    start, end = _window()
    results: dict[str, object] = {}

    def export(name: str, client: ShopifyClient) -> None:
        try:
            results[name] = sorted(o["id"] for o in iter_bulk_orders_updated_between(
                client, start, end, poll_interval=0.05, timeout_s=60, in_progress_wait=0.2))  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - the assertion below names it
            results[name] = exc

    ours = [_client(sandbox, lane=BATCH, shared_state_dir=str(tmp_path)) for _ in range(2)]
    outsider = _client(sandbox, lane=BATCH)  # no shared state: another deployment of the same app
    threads = [threading.Thread(target=export, args=(f"ours-{i}", c)) for i, c in enumerate(ours)]
    threads.append(threading.Thread(target=export, args=("outsider", outsider)))
    for t in threads:
        t.start()
        time.sleep(0.1)
    # The real-time lane does not queue behind them: it hears at once that the slot is taken.
    with pytest.raises(ShopifyBulkSlotBusy) as busy:
        list(iter_bulk_orders_updated_between(_client(sandbox), start, end, poll_interval=0.05, timeout_s=60))
    assert busy.value.operation_id and busy.value.operation_id.startswith("gid://shopify/BulkOperation/")
    for t in threads:
        t.join(timeout=60)
    expected = results["ours-0"]
    assert isinstance(expected, list) and len(expected) == 3, expected
    assert results["ours-1"] == expected and results["outsider"] == expected
    waits = [c.stats.snapshot()["bulk_slot_waits"] for c in (*ours, outsider)]
    assert sum(waits) > 0  # someone found the slot taken, and waited instead of failing
    # Every refused submission was a wait of one of them (or the real-time lane's single try), never an error.
    refused = sandbox.control.counters()["counters"]["shopify.calls.BulkOperationRunQuery"] - 3 - 1
    assert 0 <= refused <= sum(waits)


def test_a_batch_job_completes_while_the_real_time_lane_keeps_the_bucket_throttled(sandbox, tmp_path):
    placed = sandbox.control.place_orders(20, seed=4)  # four pages for the reconciliation
    time.sleep(1.1)  # whole-second stamps: let them fall inside the reconciliation's window
    # Most of Shopify's answers are 429 + Retry-After while a real-time client keeps reading: the state in
    # which the batch lane used to give up ("kept throttling ... after 50 retries").
    sandbox.control.set_faults("throttle", service="shopify", rate=0.8, retry_after=0.1, seed=3)
    stop = threading.Event()
    realtime_answers = [0]

    def real_time_lane() -> None:  # a busy sensor: a keys page every 0.3 s, sharing the bucket report
        client = _client(sandbox, shared_state_dir=str(tmp_path))
        while not stop.is_set():
            try:
                client.execute(docs.ORDER_KEYS_PAGE, KEYS_PAGE)
                realtime_answers[0] += 1
            except ShopifyThrottledError:
                pass
            stop.wait(0.3)

    hammers = [threading.Thread(target=real_time_lane) for _ in range(2)]
    for t in hammers:
        t.start()
    try:
        # One throttled answer would end a count-based client; the batch lane waits by its deadline instead.
        batch = _client(sandbox, lane=BATCH, shared_state_dir=str(tmp_path), max_throttle_retries=1)
        ledger = Ledger(tmp_path / "ledger.sqlite")
        result = reconcile_day(batch, netsuite_client(sandbox), ledger, local_day(placed[0]["createdAt"], "UTC"),
                               config=ReconciliationConfig(grace_seconds=0, requeue=False))  # fmt: skip
    finally:
        stop.set()
        for t in hammers:
            t.join(timeout=30)
    assert result.orders_checked == len(placed)  # the batch job completed, every order checked
    stats = batch.stats.snapshot()
    assert stats["throttled"] > 1 and stats["throttle_wait_s"] > 0  # throttled past any count, and waited
    assert realtime_answers[0] > 0
    numbers = result.numbers()
    assert numbers["shopify_cost_points"] > 0 and numbers["records_examined"] == len(placed)


def test_the_batch_lane_leaves_its_reserve_to_the_real_time_lane():
    now = [0.0]
    bucket = CostBucket(clock=lambda: now[0])
    report = {"requestedQueryCost": 100, "throttleStatus": {"maximumAvailable": 1000.0, "currentlyAvailable": 350,
                                                            "restoreRate": 50.0}}  # fmt: skip
    bucket.observe("q", report)
    assert bucket.wait_before("q") == 0.0  # the real-time lane: 350 points hold a 100-point query
    assert bucket.wait_before("q", reserve_fraction=0.3) == pytest.approx((100 + 300 - 350) / 50)


def test_the_batch_lane_fails_at_the_deadline_it_states(sandbox):
    # A bucket that refills at 0.01 point/s: once below what the batch lane waits for, it stays there.
    sandbox.control.configure(shopify_bucket_size=110, shopify_restore_rate=0.01)
    batch = _client(sandbox, lane=LanePacing("batch", reserve_fraction=0.3, throttle_deadline_s=1.0,
                                             wait_for_bulk_slot=True))  # fmt: skip
    batch.execute(docs.ORDER_KEYS_PAGE, KEYS_PAGE)  # learns the cost (102 requested) and the level (108 left)
    with pytest.raises(ShopifyThrottledError, match=r"over 1 s, the batch lane's deadline"):
        batch.execute(docs.ORDER_KEYS_PAGE, KEYS_PAGE)  # waits for a full bucket, which never comes
