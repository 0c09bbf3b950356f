"""The receiver: HMAC on the raw bytes, dedupe into the durable inbox, replay window, fast answers."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from datetime import timedelta

import pytest
import requests

from sync_assets.state.ledger import Ledger
from sync_assets.webhooks.launcher import Launcher, LaunchError
from sync_assets.webhooks.receiver import create_app, expected_signature, verify_signature
from sync_assets_tests.webhooks.conftest import SECRET, shopify_time, signed

ORDER = {"id": 6200407294252, "admin_graphql_api_id": "gid://shopify/Order/6200407294252", "total_price": "186.90"}


def inbox_rows(ledger: Ledger) -> list[tuple[str, str]]:
    conn = sqlite3.connect(ledger.path)
    try:
        return conn.execute("SELECT event_id, topic FROM inbox ORDER BY seq").fetchall()
    finally:
        conn.close()


def test_verify_signature_is_over_the_raw_bytes() -> None:
    body, headers = signed(ORDER)
    signature = headers["X-Shopify-Hmac-Sha256"]
    assert verify_signature(SECRET, body, signature)
    # Same JSON value, serialised differently: a receiver that parsed and re-dumped would wrongly reject
    # (or, worse, accept a tampered body); the bytes as received are what is signed.
    assert json.loads(json.dumps(ORDER, indent=2)) == json.loads(body)
    assert not verify_signature(SECRET, json.dumps(ORDER, indent=2).encode(), signature)
    assert not verify_signature(SECRET, body + b" ", signature)
    assert not verify_signature("another-secret", body, signature)
    assert not verify_signature(SECRET, body, None)
    assert not verify_signature(SECRET, body, "")


def test_valid_webhook_is_stored_once_and_answered(receiver, ledger: Ledger) -> None:
    body, headers = signed(ORDER)
    answer = requests.post(receiver.url, data=body, headers=headers, timeout=5)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "stored"}
    [event] = ledger.inbox_take("orders/create", 10)
    assert event.payload == ORDER
    assert headers["X-Shopify-Event-Id"] in event.event_id


def test_reserialised_body_with_the_original_signature_is_rejected(receiver, ledger: Ledger) -> None:
    body, headers = signed(ORDER)
    answer = requests.post(receiver.url, data=json.dumps(ORDER).encode(), headers=headers, timeout=5)
    assert answer.status_code == 401
    assert inbox_rows(ledger) == []


@pytest.mark.parametrize("how", ["wrong secret", "missing header", "garbage"])
def test_forged_signature_is_401_and_stores_nothing(receiver, ledger: Ledger, how: str) -> None:
    body, headers = signed(ORDER, secret="not-the-app-secret" if how == "wrong secret" else SECRET)
    if how == "missing header":
        del headers["X-Shopify-Hmac-Sha256"]
    elif how == "garbage":
        headers["X-Shopify-Hmac-Sha256"] = "AAAA"
    answer = requests.post(receiver.url, data=body, headers=headers, timeout=5)
    assert answer.status_code == 401
    assert inbox_rows(ledger) == []
    health = requests.get(f"{receiver.base}/webhooks/health", timeout=5).json()
    assert health["counters"]["rejected_signature"] == 1 and health["counters"]["received"] == 0


def test_duplicate_event_id_is_stored_once(receiver, ledger: Ledger) -> None:
    body, headers = signed(ORDER, event_id="evt-1")
    retry = dict(headers, **{"X-Shopify-Webhook-Id": headers["X-Shopify-Webhook-Id"]})
    answers = [requests.post(receiver.url, data=body, headers=h, timeout=5).json() for h in (headers, retry, headers)]
    assert answers == [{"status": "stored"}, {"status": "duplicate"}, {"status": "duplicate"}]
    # The same event under another topic is another delivery (one per topic and subscription).
    body2, headers2 = signed(ORDER, "orders/paid", event_id="evt-1")
    assert requests.post(receiver.url, data=body2, headers=headers2, timeout=5).json() == {"status": "stored"}
    assert [topic for _, topic in inbox_rows(ledger)] == ["orders/create", "orders/paid"]
    counters = requests.get(f"{receiver.base}/webhooks/health", timeout=5).json()["counters"]
    assert (counters["received"], counters["duplicates"]) == (2, 2)


def test_webhook_id_is_the_fallback_dedupe_key(receiver, ledger: Ledger) -> None:
    body, headers = signed(ORDER)
    del headers["X-Shopify-Event-Id"]
    assert requests.post(receiver.url, data=body, headers=headers, timeout=5).json() == {"status": "stored"}
    assert requests.post(receiver.url, data=body, headers=headers, timeout=5).json() == {"status": "duplicate"}
    del headers["X-Shopify-Webhook-Id"]
    assert requests.post(receiver.url, data=body, headers=headers, timeout=5).status_code == 400
    assert len(inbox_rows(ledger)) == 1


@pytest.mark.parametrize(
    ("delta", "status"),
    [
        (timedelta(hours=-49), 400),  # beyond the 48 h window: a replay, not a Shopify retry
        (timedelta(hours=-47), 200),  # a day late and more is still a legitimate delivery
        (timedelta(hours=1), 400),  # stamped in the future
        (timedelta(minutes=5), 200),  # clock skew
    ],
)
def test_replay_window(receiver, ledger: Ledger, delta: timedelta, status: int) -> None:
    body, headers = signed(ORDER, triggered_at=shopify_time(delta))
    answer = requests.post(receiver.url, data=body, headers=headers, timeout=5)
    assert answer.status_code == status, answer.text
    assert len(inbox_rows(ledger)) == (1 if status == 200 else 0)


def test_replay_window_is_configurable(ledger: Ledger, serve_app) -> None:
    app = serve_app(create_app(ledger, secret=SECRET, max_age_seconds=60))
    body, headers = signed(ORDER, triggered_at=shopify_time(timedelta(minutes=-2)))
    answer = requests.post(app.url, data=body, headers=headers, timeout=5)
    assert answer.status_code == 400 and "window" in answer.json()["error"]


@pytest.mark.parametrize(
    "breakage",
    ["no topic", "no triggered-at", "bad triggered-at", "not json", "json list"],
)
def test_malformed_deliveries_are_400(receiver, ledger: Ledger, breakage: str) -> None:
    body, headers = signed(ORDER)
    if breakage == "no topic":
        del headers["X-Shopify-Topic"]
    elif breakage == "no triggered-at":
        del headers["X-Shopify-Triggered-At"]
    elif breakage == "bad triggered-at":
        headers["X-Shopify-Triggered-At"] = "yesterday"
    elif breakage in ("not json", "json list"):
        body = b"{not json" if breakage == "not json" else b"[1, 2]"
        headers["X-Shopify-Hmac-Sha256"] = expected_signature(SECRET, body)  # signed, so it gets past the HMAC
    answer = requests.post(receiver.url, data=body, headers=headers, timeout=5)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]
    assert inbox_rows(ledger) == []


def test_unknown_topic_is_acknowledged_and_ignored(receiver, ledger: Ledger) -> None:
    body, headers = signed({"id": 1, "title": "A product"}, "products/update")
    answer = requests.post(receiver.url, data=body, headers=headers, timeout=5)
    assert answer.status_code == 200 and answer.json() == {"status": "ignored"}
    assert inbox_rows(ledger) == []


class _BrokenInbox(Ledger):
    def __init__(self, path, failures: int) -> None:
        super().__init__(path)
        self.failures = failures

    def inbox_put(self, event_id, topic, payload):
        if self.failures > 0:
            self.failures -= 1
            raise sqlite3.OperationalError("database is locked")
        return super().inbox_put(event_id, topic, payload)


def test_inbox_unavailable_is_503_so_shopify_retries(tmp_path, serve_app) -> None:
    ledger = _BrokenInbox(tmp_path / "ledger.sqlite", failures=1)
    app = serve_app(create_app(ledger, secret=SECRET))
    body, headers = signed(ORDER)
    assert requests.post(app.url, data=body, headers=headers, timeout=5).status_code == 503
    assert requests.post(app.url, data=body, headers=headers, timeout=5).status_code == 200
    assert len(inbox_rows(ledger)) == 1


class _HangingDagster:
    """Dagster that takes 3 s per call: the receiver must not wait for it."""

    def __init__(self) -> None:
        self.calls = 0

    def in_flight(self, entity):
        self.calls += 1
        time.sleep(3)
        raise LaunchError("timed out")

    def launch(self, route):
        raise AssertionError("unreachable")

    def status(self, run_id):
        return None


def test_answers_within_a_second_whatever_dagster_does(ledger: Ledger, serve_app) -> None:
    dagster = _HangingDagster()
    launcher = Launcher(ledger, dagster, idle_seconds=30)
    app = serve_app(create_app(ledger, secret=SECRET, launcher=launcher))
    launcher.start()
    try:
        slowest = 0.0
        for i in range(20):
            body, headers = signed(dict(ORDER, id=i))
            began = time.perf_counter()
            answer = requests.post(app.url, data=body, headers=headers, timeout=5)
            slowest = max(slowest, time.perf_counter() - began)
            assert answer.status_code == 200
        assert slowest < 1.0, f"slowest answer {slowest:.3f} s"
        assert dagster.calls >= 1  # the launcher was woken and is stuck on Dagster meanwhile
        health = requests.get(f"{app.base}/webhooks/health", timeout=5).json()
        assert health["counters"]["received"] == 20
        assert health["inbox"] == {"new": 20}
    finally:
        launcher.stop(timeout=0.1)


def test_concurrent_deliveries_of_one_event_store_it_once(receiver, ledger: Ledger) -> None:
    body, headers = signed(ORDER)
    answers: list[int] = []

    def post() -> None:
        answers.append(requests.post(receiver.url, data=body, headers=headers, timeout=10).status_code)

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [200] * 8
    assert len(inbox_rows(ledger)) == 1
