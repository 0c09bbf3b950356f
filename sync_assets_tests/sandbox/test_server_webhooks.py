"""Shopify webhooks delivered by the sandbox server to a local receiver, signed as Shopify signs them."""

from __future__ import annotations

import hmac
import json
import queue
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sync_assets.sandbox import credentials
from sync_assets.sandbox.control_client import SandboxControlError
from sync_assets.sandbox.webhooks import sign


class Receiver:
    def __init__(self, fail_first: int = 0) -> None:
        self.deliveries: queue.Queue[tuple[dict[str, str], bytes]] = queue.Queue()
        self.fail_first = fail_first
        self.attempts = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.attempts += 1
                if receiver.attempts <= receiver.fail_first:
                    self.send_response(500)
                    self.end_headers()
                    return
                receiver.deliveries.put(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/webhooks/shopify"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self, timeout: float = 10.0) -> tuple[dict[str, str], bytes]:
        return self.deliveries.get(timeout=timeout)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def test_order_create_webhook_is_delivered_signed(sandbox, receiver):
    subscription = sandbox.control.register_webhooks(receiver.url, ["orders/create"])
    assert subscription["topics"] == ["orders/create"]
    assert sandbox.control.webhooks() == [subscription]
    assert subscription["address"] == receiver.url and subscription["deliveries"] == 0
    placed = sandbox.control.place_orders(1, seed=3)
    headers, body = receiver.take()
    assert headers["x-shopify-topic"] == "orders/create"
    assert hmac.compare_digest(headers["x-shopify-hmac-sha256"], sign(credentials.SHOPIFY_WEBHOOK_SECRET, body))
    assert headers["x-shopify-shop-domain"] == credentials.SHOPIFY_SHOP
    assert headers["x-shopify-api-version"] == credentials.SHOPIFY_API_VERSION
    assert headers["x-shopify-event-id"] and headers["x-shopify-webhook-id"] and headers["x-shopify-triggered-at"]
    payload = json.loads(body)
    assert payload["admin_graphql_api_id"] == placed[0]["id"]
    assert payload["line_items"]


def test_failed_deliveries_are_retried(sandbox):
    receiver = Receiver(fail_first=1)
    try:
        sandbox.control.register_webhooks(receiver.url, ["orders/create"])
        sandbox.control.place_orders(1)
        headers, _ = receiver.take()
        assert receiver.attempts == 2
        assert headers["x-shopify-topic"] == "orders/create"
        deadline = time.monotonic() + 5
        while sandbox.control.counters()["counters"].get("webhooks.delivered") != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        counters = sandbox.control.counters()["counters"]
        assert counters["webhooks.delivered"] == 1 and counters["webhooks.failed_attempts"] == 1
        [subscription] = sandbox.control.webhooks()
        assert subscription["deliveries"] == 1 and subscription["failures"] == 1
        assert subscription["last_failure"] == "HTTP 500"
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def test_reset_clears_subscriptions_and_bad_uris_are_refused(sandbox, receiver):
    sandbox.control.register_webhooks(receiver.url)
    sandbox.control.reset()
    assert sandbox.control.webhooks() == []
    with pytest.raises(SandboxControlError, match="address"):
        sandbox.control.register_webhooks("ftp://nowhere")
    with pytest.raises(SandboxControlError, match="duplicate_rate"):
        sandbox.control.register_webhooks(receiver.url, duplicate_rate=1.5)
    assert sandbox.control.webhooks() == []


def test_duplicates_repeat_the_event_id(sandbox, receiver):
    sandbox.control.register_webhooks(receiver.url, ["orders/create"], duplicate_rate=1.0)
    sandbox.control.place_orders(1)
    (first, body_1), (second, body_2) = receiver.take(), receiver.take()
    assert first["x-shopify-event-id"] == second["x-shopify-event-id"] and body_1 == body_2
    deadline = time.monotonic() + 5
    while sandbox.control.webhooks()[0]["deliveries"] < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandbox.control.webhooks()[0]["duplicates_sent"] == 1
