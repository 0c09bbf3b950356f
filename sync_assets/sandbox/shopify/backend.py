"""ShopifyBackend: the HTTP face of the emulated Admin GraphQL API (auth, versions, cost, throttling)."""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import threading
import time
import uuid
from typing import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import flask
from graphql import GraphQLError, execute, parse, validate
from graphql.language import OperationDefinitionNode

from .. import credentials
from ..model import Catalog, Counters
from . import orders, rest
from .bulk import BulkRunner
from .cost import MAX_QUERY_COST, CostCalculator, LeakyBucket
from .resolvers import build_schema
from .history import History, HistorySpec
from .store import Store, gid, iso
from sync_assets.connectors.shopify.scopes import REQUIRED_SCOPES

log = logging.getLogger(__name__)

_VERSION = re.compile(r"^(\d{4}-(01|04|07|10)|unstable)$")
AUTH_ERROR = "[API] Invalid API key or access token (unrecognized login or wrong password)"
THROTTLED = {"message": "Throttled",
             "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}
_MAX_COST_MSG = (
    "Query cost is {cost}, which exceeds the single query max cost limit ({max}).\n\n"
    "See https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\n"
    "cost of a query is calculated.\n\n"
    "To query larger amounts of data with fewer limits, bulk operations should be used instead.\n"
    "See https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage details.\n"
)
# Client credentials grant (shopify-admin.md §1.2): tokens live about a day; a wrong id or secret is answered
# 400 {"error": "invalid_client"} (Shopify/shopify-app-python exchange/client_credentials.py).
TOKEN_LIFETIME_S = 86399.0
GRANTED_SCOPES = ",".join((
    "read_customers", "write_customers", "read_orders", "write_orders", "read_products", "write_products",
    "read_inventory", "write_inventory", "read_locations", "read_merchant_managed_fulfillment_orders",
    "write_merchant_managed_fulfillment_orders",
))  # fmt: skip
_UNDEFINED_FIELD = re.compile(r"^Cannot query field '(\w+)' on type '(\w+)'\.")


def _shopify_error(err: GraphQLError) -> dict:
    out = err.formatted
    m = _UNDEFINED_FIELD.match(err.message)
    if m:  # Shopify's wording and code for an unknown field (reference §2.3)
        out["message"] = f"Field '{m.group(1)}' doesn't exist on type '{m.group(2)}'"
        out["extensions"] = {"code": "undefinedField", "typeName": m.group(2), "fieldName": m.group(1)}
    return out


class ShopifyBackend:
    name = "shopify"

    def __init__(self, counters: Counters, *, access_token: str = credentials.SHOPIFY_ACCESS_TOKEN,
                 bucket_size: float = 2000.0, restore_rate: float = 100.0, bulk_seconds: float = 2.0,
                 bulk_seconds_per_1000_objects: float = 1.0,
                 client_id: str = credentials.SHOPIFY_CLIENT_ID,
                 client_secret: str = credentials.SHOPIFY_CLIENT_SECRET) -> None:
        self.counters, self.access_token = counters, access_token
        self.client_id, self.client_secret = client_id, client_secret
        self.token_lifetime = TOKEN_LIFETIME_S
        self._granted: dict[str, float] = {}  # token -> expiry (epoch seconds) of tokens from the grant
        self.schema = build_schema()
        self.store = Store()
        self.bulk = BulkRunner(self.store, lambda: self.schema, bulk_seconds, bulk_seconds_per_1000_objects)
        self._bucket_args = (bucket_size, restore_rate)
        self._buckets: dict[str, LeakyBucket] = {}
        self._buckets_lock = threading.Lock()
        self.throttle_status = 200
        self.access_scopes: tuple[str, ...] = tuple(REQUIRED_SCOPES)  # what the merchant granted the app
        self.retired_versions: frozenset[str] = frozenset()  # answered by a newer version ("fall forward")
        # (address, REST topic) pairs the store delivers to; the server wires in its webhook dispatcher.
        self.webhook_subscriptions: Callable[[], list[tuple[str, str]]] = list
        self._subscribers: list[Callable[[str, dict], None]] = []
        self.webhooks = None  # the sandbox's WebhookDispatcher: where webhookSubscriptionCreate registers

    # ---- Backend protocol --------------------------------------------------------------------------
    def reset(self) -> None:
        self.store.reset()
        self.bulk.reset()
        with self._buckets_lock:
            self._buckets.clear()
            self._granted.clear()  # a new shop: tokens issued for the old one are unknown here

    def load_catalog(self, catalog: Catalog) -> None:
        self.store.load_catalog(catalog)

    def configure(self, *, bucket_size=None, restore_rate=None, throttle_status: int | None = None,
                  bulk_seconds=None, bulk_seconds_per_1000_objects=None, token_lifetime=None, access_scopes=None,
                  retired_versions=None, timezone=None) -> None:
        if timezone is not None:
            try:
                ZoneInfo(timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"shopify_timezone: {timezone!r} is not an IANA time zone") from None
            with self.store.lock:
                self.store.timezone = timezone
        if token_lifetime is not None:
            self.token_lifetime = float(token_lifetime)
        if access_scopes is not None:
            self.access_scopes = tuple(str(s) for s in access_scopes)
        if retired_versions is not None:
            bad = [v for v in retired_versions if not _VERSION.match(str(v)) or v == "unstable"]
            if bad:
                raise ValueError(f"retired_versions: {bad} are not YYYY-MM release names")
            self.retired_versions = frozenset(retired_versions)
        if throttle_status is not None:
            if throttle_status not in (200, 429):
                raise ValueError(f"throttle_status must be 200 or 429, got {throttle_status}")
            self.throttle_status = throttle_status
        if bulk_seconds is not None:
            self.bulk.seconds = float(bulk_seconds)
        if bulk_seconds_per_1000_objects is not None:
            self.bulk.seconds_per_1000 = float(bulk_seconds_per_1000_objects)
        with self._buckets_lock:
            self._bucket_args = (bucket_size or self._bucket_args[0], restore_rate or self._bucket_args[1])
            for b in self._buckets.values():
                b.reconfigure(bucket_size, restore_rate)

    def location_id(self, location_key: str) -> str:
        """The Location GID the loaded catalog's ``location_key`` became (mirrors NetSuiteBackend.location_id)."""
        with self.store.lock:
            n = self.store.location_by_key.get(location_key)
            known = sorted(self.store.location_by_key)
        if n is None:
            raise KeyError(f"unknown location key {location_key!r}; known: {known}")
        return self.store.locations[n]["id"]

    def available(self, sku: str, location_key: str) -> int:
        """The storefront's ``available`` of ``sku`` at ``location_key``, read without API cost (control API)."""
        with self.store.lock:
            vid = self.store.variant_by_sku.get(sku)
            lid = self.store.location_by_key.get(location_key)
            if vid is None or lid is None:
                raise KeyError(f"unknown sku {sku!r} or location key {location_key!r}")
            return self.store.level(self.store.variants[vid]["_item"], lid).available

    def subscribe(self, callback: Callable[[str, dict], None]) -> None:
        self._subscribers.append(callback)

    def create_order(self, order_input: dict, options: dict | None = None) -> dict:
        """Place an order as a storefront checkout would: the orderCreate code path, but claiming stock
        (checkouts do; the API mutation's own default is BYPASS). Raises UserError on bad input."""
        record, events = orders.create_order(
            self.store, order_input, options if options is not None else {"inventoryBehaviour": "DECREMENT_IGNORING_POLICY"}
        )
        self.counters.incr("shopify.writes")
        self._emit(events)
        return record

    def seed_history(self, spec: HistorySpec, catalog: Catalog) -> dict:
        """Give the shop ``spec``'s order history (generated on demand, see history.py)."""
        with self.store.lock:
            self.store.history = History(spec, catalog, self.store)
        return {"count": spec.count, "start": iso(spec.start), "end": iso(spec.end), "seed": spec.seed,
                "malformed": spec.malformed, "first_id": gid("Order", spec.first_order_number)}

    def refund_order(self, order_id: str, amount, parent_id: str | None = None, unchecked: bool = False) -> dict:
        """Refund part of a paid order (see :func:`orders.refund_order`). Raises UserError on bad input."""
        record, events = orders.refund_order(self.store, order_id, amount, parent_id, unchecked)
        self.counters.incr("shopify.writes")
        self._emit(events)
        return record

    def _emit(self, events) -> None:
        for topic, obj in events:
            if not self._subscribers:
                return
            payload = rest.payload(self.store, topic, obj)
            for cb in list(self._subscribers):
                try:
                    cb(topic, payload)
                except Exception:  # noqa: BLE001 - a failing listener must not fail the API call
                    log.exception("shopify webhook subscriber failed for %s", topic)

    def _bucket(self, token: str) -> LeakyBucket:
        with self._buckets_lock:
            if token not in self._buckets:
                self._buckets[token] = LeakyBucket(*self._bucket_args)
            return self._buckets[token]

    # ---- HTTP --------------------------------------------------------------------------------------
    def blueprint(self) -> flask.Blueprint:
        bp = flask.Blueprint("shopify", __name__)
        bp.add_url_rule("/admin/api/<version>/graphql.json", "graphql", self._graphql, methods=["POST"])
        bp.add_url_rule("/admin/oauth/access_token", "access_token", self._access_token, methods=["POST"])
        bp.add_url_rule("/shopify-bulk-results/<name>", "bulk_result", self._bulk_file, methods=["GET"])
        return bp

    def _bulk_file(self, name: str):
        m = re.fullmatch(r"bulk-(\d+)\.jsonl", name)
        path = self.bulk.path(int(m.group(1))) if m else None
        if not path or not os.path.exists(path):
            return flask.Response("Not Found", status=404)
        return flask.send_file(path, mimetype="application/jsonl")

    def _reply(self, body, status: int, version: str, headers: dict | None = None):
        resp = flask.Response(json.dumps(body), status=status, mimetype="application/json")
        resp.headers["X-Request-Id"] = str(uuid.uuid4())
        if _VERSION.match(version):
            resp.headers["X-Shopify-API-Version"] = self._served_version(version)
        for k, v in (headers or {}).items():
            resp.headers[k] = v
        return resp

    def _access_token(self):
        """The client credentials grant. Shopify documents it form-encoded; its JS library sends JSON."""
        form = flask.request.get_json(silent=True) if flask.request.is_json else flask.request.form
        form = form if isinstance(form, dict) or hasattr(form, "get") else {}
        if form.get("grant_type") != "client_credentials":
            return self._reply({"error": "unsupported_grant_type"}, 400, "")
        client_ok = secrets.compare_digest(str(form.get("client_id", "")), self.client_id)
        secret_ok = secrets.compare_digest(str(form.get("client_secret", "")), self.client_secret)
        if not (client_ok and secret_ok):
            self.counters.incr("shopify.token_refused")
            return self._reply({"error": "invalid_client"}, 400, "")
        token = "shpat_" + secrets.token_hex(16)
        with self._buckets_lock:
            now = time.time()
            self._granted = {t: exp for t, exp in self._granted.items() if exp > now}
            self._granted[token] = now + self.token_lifetime
        self.counters.incr("shopify.token_grants")
        return self._reply({"access_token": token, "scope": GRANTED_SCOPES, "expires_in": int(self.token_lifetime)},
                           200, "")  # fmt: skip

    def _token_valid(self, token: str | None) -> bool:
        if token is None:
            return False
        if secrets.compare_digest(token, self.access_token):
            return True
        with self._buckets_lock:
            expires_at = self._granted.get(token)
        if expires_at is not None and time.time() >= expires_at:
            self.counters.incr("shopify.expired_tokens")
            return False
        return expires_at is not None

    def _served_version(self, version: str) -> str:
        """A retired version is not refused: Shopify serves the oldest supported one instead and says which
        in ``X-Shopify-API-Version`` (shopify-admin.md §1.2)."""
        while version in self.retired_versions:
            year, month = int(version[:4]), int(version[5:7])
            year, month = (year + 1, 1) if month == 10 else (year, month + 3)
            version = f"{year}-{month:02d}"
        return version

    def _graphql(self, version: str):
        if not _VERSION.match(version):
            return self._reply({"errors": "Not Found"}, 404, version)
        token = flask.request.headers.get("X-Shopify-Access-Token")
        if not self._token_valid(token):
            self.counters.incr("shopify.auth_failures")
            return self._reply({"errors": AUTH_ERROR}, 401, version)
        if (flask.request.mimetype or "") == "application/graphql":
            body = {"query": flask.request.get_data(as_text=True)}
        else:
            body = flask.request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return self._reply({"errors": [{"message": "No query string was present"}]}, 400, version)
        bucket = self._bucket(token)
        try:
            doc = parse(body["query"])
        except GraphQLError as e:
            return self._reply({"errors": [e.formatted]}, 200, version)
        errors = validate(self.schema, doc)
        if errors:
            return self._reply({"errors": [_shopify_error(e) for e in errors]}, 200, version)
        ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
        op_name = body.get("operationName")
        op = next((o for o in ops if o.name and o.name.value == op_name), None) if op_name else (ops[0] if len(ops) == 1 else None)
        if op is None:
            return self._reply({"errors": [{"message": "An operation name is required"}]}, 200, version)
        variables = body.get("variables") or {}
        calc = CostCalculator(self.schema, doc, op, variables)
        try:
            requested = calc.requested()
        except (GraphQLError, TypeError, ValueError) as e:
            return self._reply({"errors": [{"message": f"Variable error: {e}"}]}, 200, version)
        if requested > MAX_QUERY_COST:
            self.counters.incr("shopify.max_cost_exceeded")
            err = {"message": _MAX_COST_MSG.format(cost=requested, max=MAX_QUERY_COST),
                   "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": MAX_QUERY_COST}}
            return self._reply({"errors": [err], "extensions": {"cost": {
                "requestedQueryCost": requested, "actualQueryCost": None, "throttleStatus": bucket.status()}}}, 200, version)
        if not bucket.try_charge(requested):
            self.counters.incr("shopify.throttled")
            status = bucket.status()
            body_out = {"errors": [THROTTLED], "extensions": {"cost": {
                "requestedQueryCost": requested, "actualQueryCost": None, "throttleStatus": status}}}
            headers = {"Retry-After": "2.0"} if self.throttle_status == 429 else None
            return self._reply(body_out, self.throttle_status, version, headers)
        ctx = {"store": self.store, "backend": self, "bulk": None, "search": [], "events": [], "writes": 0,
               "base_url": flask.request.host_url}
        result = execute(self.schema, doc, operation_name=op_name, variable_values=variables, context_value=ctx)
        actual = min(requested, calc.actual(result.data)) if op.operation.value == "query" else requested
        bucket.refund(requested - actual)
        self.counters.incr("shopify.cost", actual)
        # Per operation too, so a test or benchmark can say which documents spent the points.
        label = op.name.value if op.name else "anonymous"
        self.counters.incr(f"shopify.cost.{label}", actual)
        self.counters.incr(f"shopify.calls.{label}")
        if ctx["writes"]:
            self.counters.incr("shopify.writes", ctx["writes"])
        out: dict = {}
        if result.errors:
            out["errors"] = [_shopify_error(e) for e in result.errors]
        out["data"] = result.data
        out["extensions"] = {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual,
                                      "throttleStatus": bucket.status()}}
        if ctx["search"]:
            out["extensions"]["search"] = ctx["search"]
        self._emit(ctx["events"])
        return self._reply(out, 200, version)
