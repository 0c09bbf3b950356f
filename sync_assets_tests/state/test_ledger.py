from __future__ import annotations

import multiprocessing as mp
import os
import random
import signal
import sqlite3
import time
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync_assets.domain.windows import Watermark
from sync_assets.state import Ledger

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def ledger(tmp_path):
    led = Ledger(tmp_path / "ledger.db")
    yield led
    led.close()


def test_claim_skips_unchanged_and_resends_edited(ledger):
    assert [c.source_id for c in ledger.claim("orders", {"1": "h1", "2": "h2"})] == ["1", "2"]
    assert ledger.claim("orders", {"1": "h1"}) == []  # in flight elsewhere
    ledger.mark_done("orders", "1", "9318", "h1")
    assert ledger.claim("orders", {"1": "h1"}) == []  # unchanged re-delivery
    [edit] = ledger.claim("orders", {"1": "h1-edited"})
    assert edit.previous_target_id == "9318"
    assert ledger.get_entry("orders", "1").status == "in_flight"
    assert ledger.claim("other-flow", {"1": "h1"})  # flows are independent


def test_expired_lease_can_be_reclaimed(ledger):
    ledger.claim("orders", {"1": "h"})
    assert ledger.claim("orders", {"1": "h"}, lease_seconds=60) == []
    assert len(ledger.claim("orders", {"1": "h"}, lease_seconds=0)) == 1


def test_failures_count_then_dead_letter_then_replay_then_auto_resolve(ledger):
    ledger.claim("orders", {"1": "h"})
    assert ledger.mark_failed("orders", "1", "timeout", max_attempts=2).status == "pending"
    ledger.claim("orders", {"1": "h"})
    entry = ledger.mark_failed("orders", "1", "HTTP 400 bad item", max_attempts=2, payload={"o": 1}, field_path="item")
    assert (entry.status, entry.attempts, entry.last_error) == ("dead", 2, "HTTP 400 bad item")
    [dl] = ledger.dead_letters("orders")
    assert dl.reason == "gave up after 2 attempts: HTTP 400 bad item" and dl.payload == {"o": 1}
    assert ledger.claim("orders", {"1": "h"}) == []  # no hot loop on a dead record
    assert ledger.mark_replayed(dl.id).status == "replayed"
    assert len(ledger.claim("orders", {"1": "h"})) == 1
    ledger.mark_done("orders", "1", "77", "h")
    assert ledger.dead_letters("orders", status=None)[0].status == "resolved"


def test_mapping_dead_letter_dedupes_and_resolves_when_the_source_later_syncs(ledger):
    first = ledger.dead_letter("orders", "5", "unknown SKU 'X' on line 1", {"id": 5}, "lineItems.nodes[0].sku")
    again = ledger.dead_letter("orders", "5", "unknown SKU 'X' on line 1", {"id": 5}, "lineItems.nodes[0].sku")
    assert first == again and ledger.dead_letters("orders")[0].occurrences == 2
    assert ledger.get_entry("orders", "5").status == "dead"
    assert len(ledger.claim("orders", {"5": "fixed-hash"})) == 1  # SKU map fixed → maps → new hash
    ledger.mark_done("orders", "5", "1", "fixed-hash")
    assert ledger.dead_letters("orders") == [] and ledger.dead_letters("orders", status="resolved")[0].source_id == "5"
    other = ledger.dead_letter("payments", "6", "no", None)
    ledger.resolve(other)
    with pytest.raises(ValueError):
        ledger.mark_replayed(other)
    with pytest.raises(KeyError):
        ledger.resolve(12345)


def test_watermark_only_moves_forward(ledger):
    assert ledger.get_watermark("orders") is None
    assert ledger.advance_watermark("orders", Watermark(T0, "10"))
    assert not ledger.advance_watermark("orders", Watermark(T0, "9"))
    assert not ledger.advance_watermark("orders", Watermark(T0 - timedelta(seconds=1), "99"))
    assert ledger.advance_watermark("orders", Watermark(T0, "11"))
    assert ledger.get_watermark("orders") == Watermark(T0, "11")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 50)), min_size=1, max_size=30))
def test_watermark_is_the_running_maximum(tmp_path_factory, steps):
    led = Ledger(tmp_path_factory.mktemp("wm") / "l.db")
    best = None
    for seconds, ident in steps:
        wm = Watermark(T0 + timedelta(seconds=seconds), str(ident))
        moved = led.advance_watermark("e", wm)
        assert moved == (best is None or best < wm)
        best = wm if best is None or best < wm else best
        assert led.get_watermark("e") == best
    led.close()


def test_inbox_dedupes_and_leases(ledger):
    assert ledger.inbox_put("evt-1", "orders/create", {"id": 1})
    assert not ledger.inbox_put("evt-1", "orders/create", {"id": 1})
    assert ledger.inbox_put("evt-2", "orders/create", {"id": 2})
    ledger.inbox_put("evt-3", "orders/paid", {"id": 1})
    taken = ledger.inbox_take("orders/create", 10)
    assert [e.event_id for e in taken] == ["evt-1", "evt-2"] and taken[0].payload == {"id": 1}
    assert ledger.inbox_take("orders/create", 10) == []
    ledger.inbox_release(["evt-2"])
    ledger.inbox_ack(["evt-1"])
    assert [e.event_id for e in ledger.inbox_take("orders/create", 10)] == ["evt-2"]
    assert not ledger.inbox_put("evt-1", "orders/create", {"id": 1})  # acked events still dedupe
    assert [e.event_id for e in ledger.inbox_take("orders/create", 10, lease_seconds=0)] == ["evt-2"]
    assert ledger.inbox_counts("orders/create") == {"acked": 1, "taken": 1}
    assert ledger.inbox_prune(0) == 1


def test_alerts(ledger):
    ledger.record_alert("run_failure", "orders_sync failed: boom", "run-1")
    assert [(a["kind"], a["run_id"]) for a in ledger.alerts()] == [("run_failure", "run-1")]


def test_file_is_wal(ledger):
    conn = sqlite3.connect(ledger.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


# --- several processes ------------------------------------------------------------------------------

def _worker(path: str, ids: list[str], out) -> None:
    led = Ledger(path)
    sent = []
    random.seed(os.getpid())
    for _ in range(3):
        order = ids[:]
        random.shuffle(order)
        for start in range(0, len(order), 7):
            for claim in led.claim("orders", {i: "h" for i in order[start : start + 7]}):
                sent.append(claim.source_id)  # stands for the NetSuite write
                led.mark_done("orders", claim.source_id, f"ns-{claim.source_id}", claim.payload_hash)
    out.put(sent)


def test_four_processes_send_each_id_exactly_once(tmp_path):
    path = str(tmp_path / "ledger.db")
    Ledger(path).close()
    ids = [str(i) for i in range(120)]
    ctx = mp.get_context("fork")  # spawn re-imports the world per child: ~20 s here
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(path, ids, out)) for _ in range(4)]
    for p in procs:
        p.start()
    sent = [sid for _ in procs for sid in out.get(timeout=60)]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert sorted(sent) == sorted(ids)
    led = Ledger(path)
    assert len(led.entries("orders", "done")) == 120


# --- crash safety -----------------------------------------------------------------------------------

def _churn(path: str) -> None:
    led = Ledger(path)
    n = 0
    while True:
        n += 1
        sid = str(n % 50)
        led.claim("orders", {sid: f"h{n}"}, lease_seconds=0)
        if n % 3 == 0:
            led.mark_failed("orders", sid, "boom", max_attempts=2, payload={"n": n})
        else:
            led.mark_done("orders", sid, f"t{n}", f"h{n}")
        led.inbox_put(f"e{n}", "t", {"n": n})
        led.advance_watermark("orders", Watermark(T0 + timedelta(seconds=n)))


def test_sigkill_at_random_points_leaves_a_consistent_file(tmp_path):
    path = str(tmp_path / "ledger.db")
    Ledger(path).close()
    ctx = mp.get_context("fork")
    for round_ in range(12):
        proc = ctx.Process(target=_churn, args=(path,))
        proc.start()
        time.sleep(0.05 + random.random() * 0.15)
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()
    led = Ledger(path)
    assert led.integrity_check() == "ok"
    conn = sqlite3.connect(path)
    # A dead ledger row and its open dead letter are written in one transaction: never one without the other.
    dead = {r[0] for r in conn.execute("SELECT source_id FROM ledger WHERE status = 'dead'")}
    open_letters = {r[0] for r in conn.execute("SELECT source_id FROM dead_letters WHERE status = 'open'")}
    assert dead == open_letters
    assert conn.execute("SELECT COUNT(*) FROM ledger WHERE status = 'done' AND target_id IS NULL").fetchone()[0] == 0
    assert led.get_watermark("orders") is not None
    # and the file is still writable by a fresh process
    led.mark_done("orders", "x", "1", "h")
    conn.close()


def test_launch_lease_lets_one_trigger_launch_at_a_time(ledger, monkeypatch):
    assert ledger.take_launch_lease("orders", "sensor")
    assert ledger.take_launch_lease("orders", "sensor")  # its own: a later tick may ask again
    assert not ledger.take_launch_lease("orders", "webhook")
    assert ledger.take_launch_lease("inventory", "webhook")  # per flow
    assert ledger.launch_lease_holder("orders") == "sensor"
    ledger.release_launch_lease("orders", "webhook")  # not its lease: nothing happens
    assert ledger.launch_lease_holder("orders") == "sensor"
    ledger.release_launch_lease("orders")  # the run started
    assert ledger.take_launch_lease("orders", "webhook")
    # A lease whose run never came expires.
    later = time.time() + 16
    monkeypatch.setattr(time, "time", lambda: later)
    assert ledger.launch_lease_holder("orders") is None
    assert ledger.take_launch_lease("orders", "sensor")


def test_mark_done_many_records_all_in_one_go_and_again_changes_nothing_but_the_hash(ledger):
    ledger.dead_letter("catalog", "b", "refused", {"x": 1})
    assert ledger.mark_done_many("catalog", [("a", "gid://1", "h1"), ("b", "gid://2", "h2")]) == 2
    assert ledger.done_hashes("catalog", ["a", "b", "c"]) == {"a": "h1", "b": "h2"}
    assert ledger.dead_letters("catalog") == []  # like mark_done, a durable write resolves the dead letter
    ledger.mark_done_many("catalog", [("a", "gid://1", "h3")])
    assert ledger.done_hashes("catalog", ["a", "b"]) == {"a": "h3", "b": "h2"}
    assert ledger.mark_done_many("catalog", []) == 0


def test_findings_open_repeat_heal_and_reopen_per_partition(ledger):
    from sync_assets.state.ledger import SeenFinding

    gap, dup, slow = (SeenFinding("missing", "o1", "no sales order"), SeenFinding("duplicated", "o2", "2 found"),
                      SeenFinding("missing", "o3"))  # fmt: skip
    first = ledger.record_findings("rec", "2026-12-06", [gap, dup, slow])
    assert [(f.kind, f.source_id, f.status, f.times_seen) for f in first] == [
        ("duplicated", "o2", "open", 1), ("missing", "o1", "open", 1), ("missing", "o3", "open", 1)]
    ledger.record_findings("rec", "2026-12-07", [gap])  # another day: its own finding, untouched below

    # The next run of the day: o1 is fixed, o2 still duplicated, o3 not judged (being written right now).
    second = {(f.kind, f.source_id): f for f in ledger.record_findings("rec", "2026-12-06", [dup], not_judged=["o3"])}
    assert second[("missing", "o1")].status == "healed" and second[("missing", "o1")].healed_at
    assert second[("duplicated", "o2")].status == "open" and second[("duplicated", "o2")].times_seen == 2
    assert second[("missing", "o3")].status == "open" and second[("missing", "o3")].healed_at is None
    assert ledger.partitions_with_open_findings("rec") == ["2026-12-06", "2026-12-07"]

    # Seen again after healing: open again, still one row.
    third = ledger.record_findings("rec", "2026-12-06", [gap, dup, slow])
    assert len(third) == 3 and all(f.status == "open" and f.healed_at is None for f in third)
    reopened = {f.source_id: f for f in third}
    assert reopened["o1"].opened_at > reopened["o1"].first_seen_at  # a new version for raw
    assert reopened["o2"].opened_at == reopened["o2"].first_seen_at  # open all along
    assert [f.source_id for f in ledger.findings("rec", partition="2026-12-07")] == ["o1"]
    ledger.record_findings("rec", "2026-12-06", [])
    assert ledger.findings("rec", partition="2026-12-06") == [] and ledger.partitions_with_open_findings("rec") == ["2026-12-07"]
