"""One NetSuite concurrency budget per account: several client processes at once stay under the account's
limit (the sandbox's peak in-flight counter says so), and the batch lane waits, never fails, while the
real-time lane holds the slots."""

from __future__ import annotations

import multiprocessing
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import pytest

from sync_assets.connectors.http import Backoff
from sync_assets.connectors.netsuite import NetSuiteClient, TokenBasedAuth
from sync_assets.connectors.netsuite.account_slots import BATCH, REALTIME, AccountSlots
from sync_assets.sandbox import credentials as C

LIMIT = 3
PROCESSES = 4
REQUESTS_PER_PROCESS = 24


@pytest.fixture
def sandbox(sandbox):
    yield sandbox
    sandbox.control.clear_faults()
    sandbox.control.configure(netsuite_concurrency=5)


def _client(url: str, slots_dir: str | None, lane: str = REALTIME, max_concurrency: int = LIMIT) -> NetSuiteClient:
    auth = TokenBasedAuth(C.NETSUITE_ACCOUNT_ID, C.NETSUITE_CONSUMER_KEY, C.NETSUITE_CONSUMER_SECRET,
                          C.NETSUITE_TOKEN_ID, C.NETSUITE_TOKEN_SECRET)  # fmt: skip
    slots = AccountSlots(slots_dir, C.NETSUITE_ACCOUNT_ID, LIMIT) if slots_dir else None
    return NetSuiteClient(url, C.NETSUITE_ACCOUNT_ID, auth, max_concurrency=max_concurrency, account_slots=slots,
                          lane=lane, backoff=Backoff(max_attempts=8, base_seconds=0.01, cap_seconds=0.1))  # fmt: skip


def _one_process(url: str, slots_dir: str | None, lane: str) -> dict:
    """A run's worth of NetSuite traffic from its own process: LIMIT threads of SuiteQL reads."""
    ns = _client(url, slots_dir, lane)
    with ThreadPoolExecutor(LIMIT) as pool:
        rows = list(pool.map(lambda _: len(list(ns.suiteql("SELECT id FROM item WHERE id = 1"))), range(REQUESTS_PER_PROCESS)))
    return {"rows": rows, **ns.stats.snapshot()}


def _several_processes_at_once(sandbox, slots_dir: str | None) -> tuple[dict, list[dict]]:
    sandbox.control.configure(netsuite_concurrency=LIMIT)
    # 50 ms per request, so the processes' requests really overlap on a busy 2-core machine.
    sandbox.control.set_faults("slow", service="netsuite", rate=1.0, seconds=0.05)
    sandbox.control.reset_counters()
    lanes = [REALTIME, BATCH] * (PROCESSES // 2)
    with multiprocessing.get_context("spawn").Pool(PROCESSES) as pool:
        results = pool.starmap(_one_process, [(sandbox.url, slots_dir, lane) for lane in lanes])
    return sandbox.control.counters(), results


def test_several_client_processes_never_exceed_the_account_limit(sandbox, tmp_path: Path) -> None:
    counters, results = _several_processes_at_once(sandbox, str(tmp_path / "slots"))

    assert all(r["rows"] == [1] * REQUESTS_PER_PROCESS for r in results)  # every request answered, none failed
    # The account's gate never saw a request over its limit (it would have answered 429), and the budget
    # was used to the full, not starved. (The server's outer middleware counts a request until its socket
    # is done, a moment after the client has its answer and hands the slot on, so it may show limit + 1.)
    assert counters["counters"].get("netsuite.throttled", 0) == 0, counters
    assert counters["netsuite_peak_admitted"] == LIMIT, counters
    assert sum(r["calls"] for r in results) == PROCESSES * REQUESTS_PER_PROCESS  # no retries either


def test_without_the_shared_slots_the_same_processes_go_over(sandbox) -> None:
    """The control: what the account slots prevent (each process capping itself only)."""
    counters, results = _several_processes_at_once(sandbox, None)

    assert all(r["rows"] == [1] * REQUESTS_PER_PROCESS for r in results)  # the client retried its 429s
    assert counters["peak_in_flight"]["netsuite"] > LIMIT
    assert counters["counters"]["netsuite.throttled"] > 0


def _hold(slots: AccountSlots, count: int, stack: ExitStack) -> None:
    for _ in range(count):
        stack.enter_context(slots.slot(REALTIME))


def test_a_batch_client_waits_while_realtime_holds_the_slots_then_completes(sandbox, tmp_path: Path) -> None:
    slots_dir = str(tmp_path / "slots")
    slots = AccountSlots(slots_dir, C.NETSUITE_ACCOUNT_ID, LIMIT)
    batch = _client(sandbox.url, slots_dir, BATCH)
    answered = threading.Event()
    result: list = []

    def batch_read() -> None:
        result.append(list(batch.suiteql("SELECT id FROM item WHERE id = 1")))
        answered.set()

    with ExitStack() as held:
        _hold(slots, LIMIT, held)
        sandbox.control.reset_counters()
        worker = threading.Thread(target=batch_read)
        worker.start()
        assert not answered.wait(0.5)  # every slot is real-time's: the batch request is not even sent
        assert sandbox.control.counters()["counters"].get("requests.netsuite", 0) == 0
        assert slots.held() == LIMIT
    worker.join(10)
    assert answered.is_set() and result == [[{"id": "1"}]]
    stats = batch.stats.snapshot()
    assert stats["queue_wait_s"] >= 0.5 and stats["calls"] == 1 and stats["throttled"] == 0


def test_batch_never_takes_realtimes_last_slot(tmp_path: Path) -> None:
    slots = AccountSlots(tmp_path, C.NETSUITE_ACCOUNT_ID, LIMIT)
    with ExitStack() as held:
        indexes = [held.enter_context(slots.slot(BATCH)) for _ in range(LIMIT - 1)]
        assert 0 not in indexes
        took: list[int] = []
        waiter = threading.Thread(target=lambda: took.append(_take_and_release(slots, BATCH)))
        waiter.start()
        time.sleep(0.3)
        assert took == [] and slots.held() == LIMIT - 1  # slot 0 is free, and batch leaves it to real-time
        with slots.slot(REALTIME) as index:
            assert index == 0  # real-time gets it at once
    waiter.join(5)
    assert took and took[0] != 0  # batch waited for one of its own, and got it


def _take_and_release(slots: AccountSlots, lane: str) -> int:
    with slots.slot(lane) as index:
        return index


def test_batch_gives_way_to_a_waiting_realtime_request(tmp_path: Path) -> None:
    slots = AccountSlots(tmp_path, C.NETSUITE_ACCOUNT_ID, LIMIT)
    took: list[str] = []

    def take(lane: str) -> None:
        with slots.slot(lane):
            took.append(lane)
            time.sleep(0.2)

    with ExitStack() as realtime_held:
        with slots.slot(BATCH):  # slot 1
            _hold(slots, LIMIT - 1, realtime_held)  # slots 0 and 2: the account is full
            batch_waiter = threading.Thread(target=take, args=(BATCH,))
            batch_waiter.start()
            realtime_waiter = threading.Thread(target=take, args=(REALTIME,))
            realtime_waiter.start()
            deadline = time.monotonic() + 5
            while not slots.realtime_waiting() and time.monotonic() < deadline:
                time.sleep(0.01)
            assert slots.realtime_waiting()
        # Slot 1 is free now, and batch could take it; it gives way to the waiting real-time request.
        realtime_waiter.join(5)
        assert took == [REALTIME]
    batch_waiter.join(5)  # then batch gets its turn: it waited, it did not fail
    assert took == [REALTIME, BATCH]


def test_a_dead_process_leaves_no_slot_behind(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    holder = ctx.Process(target=_hold_forever, args=(str(tmp_path),))
    holder.start()
    slots = AccountSlots(tmp_path, C.NETSUITE_ACCOUNT_ID, 1)
    deadline = time.monotonic() + 60
    while slots.held() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert slots.held() == 1
    holder.kill()
    holder.join(10)
    with slots.slot(BATCH) as index:  # the kernel released the dead process's lock
        assert index == 0


def _hold_forever(directory: str) -> None:
    with AccountSlots(directory, C.NETSUITE_ACCOUNT_ID, 1).slot(REALTIME):
        time.sleep(3600)


def test_bad_arguments_are_refused_with_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        AccountSlots(tmp_path, "123", 0)
    with pytest.raises(ValueError, match="lane must be one of"):
        with AccountSlots(tmp_path, "123", 1).slot("fast"):
            pass
