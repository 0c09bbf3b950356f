"""The Shopify webhook receiver: verify, dedupe, store durably, answer at once (shopify-admin.md §9).

``POST /webhooks/shopify``, in this order:

1. the HMAC: ``X-Shopify-Hmac-Sha256`` must equal base64(HMAC-SHA256(app secret, raw body)), compared in
   constant time on the bytes as received, before anything parses them (a re-serialised body would not
   match) → otherwise 401, nothing stored. While the app's client secret is rotated, Shopify signs with the
   oldest secret not yet revoked, and switches to the new one up to an hour after the revocation
   (shopify.dev …/client-secrets/rotate-revoke-client-credentials; …/webhooks/verify-deliveries), so
   ``SHOPIFY_WEBHOOK_SECRET`` may list several secrets, newest first, and a body signed by any of them is
   accepted; ``GET /webhooks/health`` shows when each last matched, so the old one can be dropped safely;
2. the headers Shopify always sends: topic, an event id (``X-Shopify-Event-Id``, else
   ``X-Shopify-Webhook-Id``) and ``X-Shopify-Triggered-At`` → otherwise 400;
3. staleness: Shopify retries a failed delivery 8 times over 4 hours and documents webhooks arriving up to
   a day late, so an event triggered more than ``max_age`` ago (48 h by default, ``WEBHOOKS_MAX_AGE_HOURS``)
   is no delivery Shopify would make: it is rejected (400) as a replay. So is one stamped more than 15 min
   in the future. Keep the window shorter than the inbox's retention of acked events (``inbox_prune``) so
   a replay too old to be caught as a duplicate is caught by its age. The HMAC covers the body, not the
   headers, so this is defence in depth: the job re-reads the order from Shopify and upserts idempotently,
   so even a replay that gets through costs a run, never a duplicate sales order;
4. unknown topics: 200 and ignored (Shopify would otherwise retry them, then delete the subscription);
5. the durable inbox: ``inbox_put`` keyed by (topic, event id), so a re-delivery is stored once → 200;
   then the launcher is woken. Dagster is never waited for; if the inbox cannot be written within 2 s the
   answer is 503 and Shopify retries.

``GET /webhooks/health`` gives counters, the launcher's state and the inbox's counts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import flask

from sync_assets.settings import parse_secret_list
from sync_assets.webhooks.routes import ROUTES, Route, route_for_topic

if TYPE_CHECKING:
    from sync_assets.state.ledger import Ledger
    from sync_assets.webhooks.launcher import Launcher

log = logging.getLogger(__name__)

DEFAULT_MAX_AGE_SECONDS = 48 * 3600.0
FUTURE_SKEW_SECONDS = 15 * 60.0
MAX_BODY_BYTES = 10 * 1024 * 1024
PATH = "/webhooks/shopify"
SECRET_SETTING = "SHOPIFY_WEBHOOK_SECRET"


def expected_signature(secret: str, raw_body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()).decode()


def verify_signature(secret: str, raw_body: bytes, signature: str | None) -> bool:
    """Constant-time check of a webhook's ``X-Shopify-Hmac-Sha256`` against the raw body bytes."""
    if not signature:
        return False
    return hmac.compare_digest(expected_signature(secret, raw_body).encode(), signature.strip().encode())


class SigningSecrets:
    """The app client secrets a delivery may be signed with, newest first, and how often each matched.

    Never shows a secret: not in its repr, its logs nor its usage report (positions only, #1 = newest).
    """

    def __init__(self, secrets: str | Sequence[str], clock: Callable[[], float] = time.time) -> None:
        self._secrets = parse_secret_list(SECRET_SETTING, secrets)
        self._clock = clock
        self._lock = threading.Lock()
        self._matched = [0] * len(self._secrets)
        self._last_matched: list[float | None] = [None] * len(self._secrets)

    def __repr__(self) -> str:
        return f"SigningSecrets({len(self._secrets)} secret(s))"

    def match(self, raw_body: bytes, signature: str | None) -> int | None:
        """Position (0 = newest) of the secret that signed ``raw_body``, or None: a forgery.

        Every secret is compared, each in constant time, so the time taken does not tell which one matched.
        """
        matched = None
        for index, secret in enumerate(self._secrets):
            if verify_signature(secret, raw_body, signature) and matched is None:
                matched = index
        if matched is not None:
            self._record(matched)
        return matched

    def _record(self, index: int) -> None:
        with self._lock:
            first_use = self._matched[index] == 0
            self._matched[index] += 1
            self._last_matched[index] = self._clock()
        if index > 0 and first_use:
            # Expected until the old secret is revoked in Shopify, which signs with the oldest unrevoked one.
            log.info(
                "webhook signed with previous secret #%d of %s (Shopify signs with the oldest unrevoked client "
                "secret); once it is revoked in Shopify and /webhooks/health shows no recent delivery signed "
                "with it, remove it from %s",
                index + 1, SECRET_SETTING, SECRET_SETTING,
            )

    def usage(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {
                    "secret": index + 1,
                    "matched": count,
                    "last_matched_at": None if last is None
                    else datetime.fromtimestamp(last, timezone.utc).isoformat(timespec="seconds"),
                }
                for index, (count, last) in enumerate(zip(self._matched, self._last_matched))
            ]


def inbox_key(topic: str, event_id: str | None, webhook_id: str | None) -> str | None:
    """Dedupe key: one event fans out to one delivery per topic and subscription, and every retry or
    re-delivery repeats its Event-Id; the Webhook-Id (stable across retries) stands in when it is absent."""
    if event_id:
        return f"shopify:{topic}:event:{event_id}"
    if webhook_id:
        return f"shopify:{topic}:webhook:{webhook_id}"
    return None


def parse_triggered_at(value: str) -> float:
    """Seconds since the epoch; raises ValueError for anything not ISO 8601. Naive times are UTC."""
    moment = datetime.fromisoformat(value.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


class ReceiverStats:
    NAMES = (
        "received",  # new events stored in the inbox
        "duplicates",
        "ignored",  # verified, but a topic no flow takes
        "rejected",  # every refusal below, summed
        "rejected_signature",
        "rejected_malformed",
        "rejected_stale",
        "inbox_errors",  # could not store: answered 503, Shopify retries
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(self.NAMES, 0)

    def incr(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1
            if name.startswith("rejected_"):
                self._counts["rejected"] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


def _header(request: flask.Request, name: str) -> str | None:
    # Webhook deliveries send X-Shopify-<Name>; Shopify's newer "Events" deliveries the unprefixed form.
    return request.headers.get(f"X-Shopify-{name}") or request.headers.get(f"Shopify-{name}") or None


def create_app(
    ledger: Ledger,
    *,
    secret: str | Sequence[str],
    launcher: Launcher | None = None,
    routes: tuple[Route, ...] = ROUTES,
    max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
    clock: Callable[[], float] = time.time,
) -> flask.Flask:
    """``secret``: ``SHOPIFY_WEBHOOK_SECRET``'s value (one secret, or several comma-separated, newest first)
    or the secrets as a sequence; a malformed list raises ``settings.SettingError``."""
    secrets = SigningSecrets(secret, clock)
    if max_age_seconds <= 0:
        raise ValueError(f"the webhook max age must be positive, got {max_age_seconds!r} s")
    stats = ReceiverStats()
    app = flask.Flask("sync_assets.webhooks")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions["sync_assets_webhook_stats"] = stats

    def refuse(kind: str, status: int, reason: str) -> tuple[flask.Response, int]:
        stats.incr(f"rejected_{kind}")
        log.warning("webhook rejected (%s): %s", kind, reason)
        return flask.jsonify(error=reason), status

    @app.post(PATH)
    def receive() -> tuple[flask.Response, int]:
        raw = flask.request.get_data(cache=False)
        if secrets.match(raw, _header(flask.request, "Hmac-Sha256")) is None:
            return refuse("signature", 401, "X-Shopify-Hmac-Sha256 is missing or does not match the body")
        topic = _header(flask.request, "Topic")
        if not topic:
            return refuse("malformed", 400, "X-Shopify-Topic header missing")
        key = inbox_key(topic, _header(flask.request, "Event-Id"), _header(flask.request, "Webhook-Id"))
        if key is None:
            return refuse("malformed", 400, "X-Shopify-Event-Id and X-Shopify-Webhook-Id headers both missing")
        triggered = _header(flask.request, "Triggered-At")
        if not triggered:
            return refuse("malformed", 400, "X-Shopify-Triggered-At header missing")
        try:
            age = clock() - parse_triggered_at(triggered)
        except ValueError:
            return refuse("malformed", 400, f"X-Shopify-Triggered-At is not an ISO 8601 time: {triggered[:64]!r}")
        if age > max_age_seconds:
            return refuse("stale", 400, f"event triggered {age / 3600:.1f} h ago, beyond the {max_age_seconds / 3600:g} h window")
        if age < -FUTURE_SKEW_SECONDS:
            return refuse("stale", 400, f"event stamped {-age:.0f} s in the future")
        route = route_for_topic(topic, routes)
        if route is None:
            stats.incr("ignored")
            log.info("webhook %s ignored: no flow takes this topic", topic)
            return flask.jsonify(status="ignored"), 200
        try:
            payload = json.loads(raw)
        except ValueError:
            return refuse("malformed", 400, "body is not JSON")
        if not isinstance(payload, dict):
            return refuse("malformed", 400, "body is not a JSON object")
        try:
            stored = ledger.inbox_put(key, topic, payload)
        except sqlite3.Error as error:
            stats.incr("inbox_errors")
            log.error("webhook %s not stored (%s); answering 503 so Shopify retries", topic, error)
            return flask.jsonify(error="inbox unavailable, retry later"), 503
        if not stored:
            stats.incr("duplicates")
            return flask.jsonify(status="duplicate"), 200
        stats.incr("received")
        if launcher is not None:
            launcher.notify()
        return flask.jsonify(status="stored"), 200

    @app.get("/webhooks/health")
    def health() -> flask.Response:
        launcher_stats = launcher.stats() if launcher is not None else None
        counters = stats.snapshot()
        counters["launches"] = launcher_stats["launches"] if launcher_stats else 0
        return flask.jsonify(
            status="ok",
            counters=counters,
            launcher=launcher_stats,
            inbox=ledger.inbox_counts(),
            signing_secrets=secrets.usage(),
        )

    @app.errorhandler(413)
    def too_large(_: Exception) -> tuple[flask.Response, int]:
        stats.incr("rejected_malformed")
        return flask.jsonify(error=f"body larger than {MAX_BODY_BYTES} bytes"), 413

    return app


def serve(
    host: str,
    port: int,
    *,
    ledger_path: str,
    secret: str | Sequence[str],
    dagster_url: str,
    max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
) -> None:
    """Serve the receiver with the launcher thread beside it until interrupted (SIGINT/SIGTERM).

    Served by waitress, a production WSGI server (Flask's own warns against production use): pure Python, so
    it runs wherever the project does (gunicorn has no Windows), and one process with a thread pool, which
    keeps the single launcher thread beside the app (a pre-forking server would start one per worker).
    """
    import signal

    from waitress import create_server

    from sync_assets.state.ledger import Ledger
    from sync_assets.webhooks.launcher import GraphQLRunPort, Launcher

    # A short busy timeout: better a 503 that Shopify retries than an answer past its 5 s.
    ledger = Ledger(ledger_path, busy_timeout_ms=2_000)
    port_ = GraphQLRunPort(dagster_url)
    launcher = Launcher(ledger, port_)
    app = create_app(ledger, secret=secret, launcher=launcher, max_age_seconds=max_age_seconds)
    # Shopify waits 5 s for an answer: enough threads that a burst of deliveries never queues past that.
    server = create_server(app, host=host, port=port, threads=16, ident="sync-assets")
    url = f"http://{host}:{server.effective_port}{PATH}"

    def stop(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    launcher.start(warm_up=port_.warm_up)
    print(f"sync-assets webhooks: listening on {url} (launching runs through {dagster_url})", flush=True)
    try:
        server.run()  # returns on KeyboardInterrupt, after stopping its threads
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        launcher.stop()
