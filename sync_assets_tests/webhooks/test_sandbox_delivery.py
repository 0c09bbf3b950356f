"""The sandbox's webhook sender → the receiver, over real HTTP: signed, REST-shaped, at least once,
out of order, retried; each event lands in the inbox exactly once."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
import requests

from sync_assets.sandbox.control_client import SandboxControlError
from sync_assets.state.ledger import Ledger
from sync_assets.webhooks.receiver import create_app
from sync_assets.webhooks.routes import ROUTES
from sync_assets_tests.webhooks.conftest import SECRET

ORDER_TOPICS = list(ROUTES[0].topics)


def _settled(sandbox, receiver_base: str, timeout: float = 20.0) -> tuple[dict, dict]:
    """Wait until every delivery the sandbox made was answered and nothing more is coming."""
    deadline = time.monotonic() + timeout
    previous = None
    while time.monotonic() < deadline:
        [sub] = sandbox.control.webhooks()
        counters = requests.get(f"{receiver_base}/webhooks/health", timeout=5).json()["counters"]
        answered = counters["received"] + counters["duplicates"] + counters["ignored"]
        state = (sub["deliveries"], answered)
        if sub["deliveries"] == answered and state == previous:
            return sub, counters
        previous = state
        time.sleep(0.6)  # longer than the reorder window: a quiet spell means all were sent
    raise AssertionError(f"deliveries did not settle: {previous}")


def _inbox(ledger: Ledger) -> list[tuple[str, str]]:
    conn = sqlite3.connect(ledger.path)
    try:
        return conn.execute("SELECT topic, payload FROM inbox ORDER BY seq").fetchall()
    finally:
        conn.close()


def test_orders_deliver_signed_webhooks_once_per_event_despite_duplicates(sandbox, ledger: Ledger, serve_app) -> None:
    receiver = serve_app(create_app(ledger, secret=SECRET))
    sub = sandbox.control.register_webhooks(receiver.url, ORDER_TOPICS, duplicate_rate=0.5, reorder=True)
    assert sub["topics"] == ORDER_TOPICS and sub["duplicate_rate"] == 0.5 and sub["reorder"] is True

    placed = sandbox.control.place_orders(12)
    sub, counters = _settled(sandbox, receiver.base)

    rows = _inbox(ledger)
    creates = [r for r in rows if r[0] == "orders/create"]
    payloads = [json.loads(p) for _, p in creates]
    # REST-shaped (snake_case, numeric ids, the GID alongside), one per placed order, exactly once.
    assert sorted(p["admin_graphql_api_id"] for p in payloads) == sorted(o["id"] for o in placed)
    assert all(isinstance(p["id"], int) and "line_items" in p for p in payloads)
    assert counters["received"] == len(rows)  # every stored row is a distinct event
    assert counters["rejected"] == 0
    assert sub["duplicates_sent"] >= 1 and counters["duplicates"] == sub["duplicates_sent"]
    assert sub["deliveries"] == len(rows) + sub["duplicates_sent"]
    # Out-of-order delivery is not asserted here: it comes from random delays, and on a loaded machine twelve
    # deliveries sometimes still arrive in order (seen in CI-like runs); the exactly-once checks above are the
    # property this test guards.


def test_failed_deliveries_are_retried_until_stored(sandbox, tmp_path, serve_app) -> None:
    class FlakyInbox(Ledger):
        failures = 2

        def inbox_put(self, event_id, topic, payload):
            if self.failures > 0:
                self.failures -= 1
                raise sqlite3.OperationalError("database is locked")
            return super().inbox_put(event_id, topic, payload)

    ledger = FlakyInbox(tmp_path / "ledger.sqlite")
    receiver = serve_app(create_app(ledger, secret=SECRET))
    sandbox.control.register_webhooks(receiver.url, ["orders/create"])
    [order] = sandbox.control.place_orders(1)
    deadline = time.monotonic() + 15
    while not _inbox(ledger) and time.monotonic() < deadline:
        time.sleep(0.1)
    [(topic, payload)] = _inbox(ledger)
    assert topic == "orders/create" and order["id"] in payload
    [sub] = sandbox.control.webhooks()
    assert sub["failures"] == 2 and sub["deliveries"] == 1 and "503" in sub["last_failure"]


def test_registration_validates_its_fields(sandbox) -> None:
    with pytest.raises(SandboxControlError, match="duplicate_rate"):
        sandbox.control.register_webhooks("http://127.0.0.1:9/x", duplicate_rate=2)
    with pytest.raises(SandboxControlError, match="uri"):
        sandbox.control.register_webhooks("not a url")
    with pytest.raises(SandboxControlError, match="reorder"):
        sandbox.control._call("POST", "webhooks", {"address": "http://127.0.0.1:9/x", "reorder": "yes"})
    assert sandbox.control.webhooks() == []
