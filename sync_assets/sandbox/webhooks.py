"""Shopify webhook delivery from the sandbox to a receiver's HTTP endpoint (shopify-admin.md §9).

The Shopify backend hands every event to its subscribers as ``(topic, REST-shaped payload)``; this
dispatcher POSTs it to each registered address with Shopify's header set and a base64 HMAC-SHA256 of
the raw body keyed by the app secret, and retries failures (Shopify: 8 retries over 4 hours; here the
same count, compressed into seconds). Deliveries run on a small pool so a slow receiver never slows
the API call that caused the event.

Shopify promises at-least-once and no ordering, so a subscription can make both visible on purpose:
``duplicate_rate`` sends that fraction of events twice (same event and webhook ids, as a retry would),
``reorder`` holds each delivery for a random moment (under ``REORDER_WINDOW_SECONDS``) so they overtake
one another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import requests

from sync_assets.sandbox import credentials
from sync_assets.sandbox.model import Counters

log = logging.getLogger(__name__)

REORDER_WINDOW_SECONDS = 0.4


class WebhookConfigError(ValueError):
    """A subscription that cannot be registered; the message names the field."""


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def sign(secret: str, body: bytes) -> str:
    """The ``X-Shopify-Hmac-Sha256`` value: base64 of HMAC-SHA256(secret, raw body)."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass
class Subscription:
    id: str
    address: str
    topics: tuple[str, ...]  # REST style, e.g. "orders/create"; empty = every topic
    duplicate_rate: float = 0.0
    reorder: bool = False
    created_at: str = field(default_factory=lambda: _now_iso())
    updated_at: str = field(default_factory=lambda: _now_iso())
    # delivery statistics, guarded by the dispatcher's lock
    deliveries: int = 0  # answered 2xx, duplicates included
    duplicates_sent: int = 0
    failures: int = 0  # attempts that failed (non-2xx or no answer)
    abandoned: int = 0  # events given up on after every retry
    last_failure: str | None = None
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def wants(self, topic: str) -> bool:
        return not self.topics or topic in self.topics

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "address": self.address,
            "topics": list(self.topics),
            "duplicate_rate": self.duplicate_rate,
            "reorder": self.reorder,
            "deliveries": self.deliveries,
            "duplicates_sent": self.duplicates_sent,
            "failures": self.failures,
            "abandoned": self.abandoned,
            "last_failure": self.last_failure,
        }


def parse_subscription(body: dict[str, Any]) -> dict[str, Any]:
    """Validate a control-API body ``{address, topics?, duplicate_rate?, reorder?}``."""
    known = {"address", "topics", "duplicate_rate", "reorder"}
    unknown = sorted(set(body) - known)
    if unknown:
        raise WebhookConfigError(f"webhooks: unknown field(s) {unknown}; known: {sorted(known)}")
    address = body.get("address")
    parts = urlsplit(address) if isinstance(address, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise WebhookConfigError(f"webhooks: address (the receiver's uri) must be an http(s) URL, got {address!r}")
    topics = body.get("topics") or []
    if not isinstance(topics, list) or not all(isinstance(t, str) and "/" in t for t in topics):
        raise WebhookConfigError(f"webhooks: topics must be a list like ['orders/create'], got {topics!r}")
    rate = body.get("duplicate_rate", 0.0)
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
        raise WebhookConfigError(f"webhooks: duplicate_rate must be a number within 0..1, got {rate!r}")
    reorder = body.get("reorder", False)
    if not isinstance(reorder, bool):
        raise WebhookConfigError(f"webhooks: reorder must be true or false, got {reorder!r}")
    return {"address": address, "topics": topics, "duplicate_rate": float(rate), "reorder": reorder}


class WebhookDispatcher:
    """Callable as a Shopify backend subscriber: ``backend.subscribe(dispatcher)``."""

    def __init__(
        self,
        counters: Counters,
        *,
        secret: str = credentials.SHOPIFY_WEBHOOK_SECRET,
        shop_domain: str = credentials.SHOPIFY_SHOP,
        api_version: str = credentials.SHOPIFY_API_VERSION,
        timeout: float = 5.0,
        attempts: int = 9,
        retry_base_seconds: float = 0.25,
        workers: int = 4,
    ) -> None:
        self._counters = counters
        self._secret = secret
        self._shop_domain = shop_domain
        self._api_version = api_version
        self._timeout = timeout  # Shopify allows 5 s for an answer
        self._attempts = attempts  # the first try plus Shopify's 8 retries
        self._retry_base = retry_base_seconds
        self._lock = threading.Lock()
        self._subscriptions: list[Subscription] = []
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sandbox-webhook")
        self._generation = 0  # bumped by clear(): pending deliveries of old subscriptions give up
        # Set by close(): deliveries waiting to retry give up at once, so the server stops without waiting
        # out their backoff (the pool's threads are joined at interpreter exit).
        self._closed = threading.Event()

    def subscribe(
        self, address: str, topics: list[str] | None = None, duplicate_rate: float = 0.0, reorder: bool = False
    ) -> Subscription:
        spec = parse_subscription(
            {"address": address, "topics": topics or [], "duplicate_rate": duplicate_rate, "reorder": reorder}
        )
        subscription = Subscription(
            id=f"gid://shopify/WebhookSubscription/{uuid.uuid4().int % 10**12}",
            address=spec["address"],
            topics=tuple(spec["topics"]),
            duplicate_rate=spec["duplicate_rate"],
            reorder=spec["reorder"],
        )
        with self._lock:
            self._subscriptions.append(subscription)
        return subscription

    def subscriptions(self) -> list[Subscription]:
        with self._lock:
            return list(self._subscriptions)

    def update_address(self, subscription_id: str, address: str) -> Subscription | None:
        """Point a subscription elsewhere (``webhookSubscriptionUpdate``); None when the id is unknown."""
        parse_subscription({"address": address})
        with self._lock:
            found = next((s for s in self._subscriptions if s.id == subscription_id), None)
            if found is not None:
                found.address, found.updated_at = address, _now_iso()
            return found

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [s.to_json() for s in self._subscriptions]

    def clear(self) -> None:
        with self._lock:
            self._subscriptions = []
            self._generation += 1

    def close(self) -> None:
        self._closed.set()
        self.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __call__(self, topic: str, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        event_id = str(uuid.uuid4())
        triggered_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        with self._lock:
            targets = [s for s in self._subscriptions if s.wants(topic)]
            generation = self._generation
            plans = [(s, 2 if s.rng.random() < s.duplicate_rate else 1) for s in targets]
        for subscription, copies in plans:
            headers = {
                "Content-Type": "application/json",
                "X-Shopify-Topic": topic,
                "X-Shopify-Hmac-Sha256": sign(self._secret, body),
                "X-Shopify-Shop-Domain": self._shop_domain,
                "X-Shopify-API-Version": self._api_version,
                "X-Shopify-Webhook-Id": str(uuid.uuid4()),  # the same for this delivery's retries and duplicate
                "X-Shopify-Event-Id": event_id,
                "X-Shopify-Triggered-At": triggered_at,
            }
            for copy in range(copies):
                self._pool.submit(self._deliver, subscription, body, headers, generation, copy > 0)

    def _current(self, generation: int) -> bool:
        with self._lock:
            return generation == self._generation

    def _deliver(
        self, sub: Subscription, body: bytes, headers: dict[str, str], generation: int, duplicate: bool
    ) -> None:
        if sub.reorder and self._closed.wait(sub.rng.uniform(0, REORDER_WINDOW_SECONDS)):
            return
        topic = headers["X-Shopify-Topic"]
        for attempt in range(self._attempts):
            if not self._current(generation):
                return
            try:
                answer = requests.post(sub.address, data=body, headers=headers, timeout=self._timeout)
                reason = None if 200 <= answer.status_code < 300 else f"HTTP {answer.status_code}"
            except requests.RequestException as error:
                reason = f"{type(error).__name__}: {error}"
            with self._lock:
                if reason is None:
                    sub.deliveries += 1
                    sub.duplicates_sent += duplicate
                else:
                    sub.failures += 1
                    sub.last_failure = reason
            if reason is None:
                self._counters.incr("webhooks.delivered")
                return
            self._counters.incr("webhooks.failed_attempts")
            log.info("webhook %s to %s failed (%s), attempt %d", topic, sub.address, reason, attempt + 1)
            if self._closed.wait(min(30.0, self._retry_base * 2**attempt)):
                return
        with self._lock:
            sub.abandoned += 1
        self._counters.incr("webhooks.abandoned")
