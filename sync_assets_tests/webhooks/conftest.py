"""A real receiver on a loopback port (werkzeug, threaded), and helpers that sign like Shopify does."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import flask
import pytest
from werkzeug.serving import make_server

from sync_assets.sandbox import credentials
from sync_assets.state.ledger import Ledger
from sync_assets.webhooks.receiver import create_app, expected_signature

SECRET = credentials.SHOPIFY_WEBHOOK_SECRET


def shopify_time(delta: timedelta = timedelta(0)) -> str:
    return (datetime.now(timezone.utc) + delta).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def signed(
    payload: Any,
    topic: str = "orders/create",
    *,
    event_id: str | None = None,
    secret: str = SECRET,
    triggered_at: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """A delivery as Shopify sends it: the raw body and its headers."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": expected_signature(secret, body),
        "X-Shopify-Shop-Domain": credentials.SHOPIFY_SHOP,
        "X-Shopify-API-Version": credentials.SHOPIFY_API_VERSION,
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
        "X-Shopify-Triggered-At": triggered_at or shopify_time(),
    }
    return body, headers


@dataclass
class RunningApp:
    url: str  # the webhook endpoint
    base: str
    app: flask.Flask


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(tmp_path / "ledger.sqlite")


@pytest.fixture
def serve_app() -> Iterator:
    """``serve_app(app)`` serves a WSGI app on a free loopback port until the test ends."""
    servers = []

    def serve(app: flask.Flask) -> RunningApp:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        base = f"http://127.0.0.1:{server.server_port}"
        return RunningApp(f"{base}/webhooks/shopify", base, app)

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver(ledger: Ledger, serve_app) -> RunningApp:
    return serve_app(create_app(ledger, secret=SECRET))
