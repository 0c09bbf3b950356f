"""The sandbox server: both emulated services, fault injection and the control API on one local port.

``python -m sync_assets.sandbox`` (or ``sync-assets sandbox``) serves it with werkzeug's threaded
server; ``build_app`` gives the WSGI app for embedding. Both services live under one base URL:
NetSuite under ``/services/rest/...``, Shopify under ``/admin/api/<version>/...``, control under
``/_sandbox/...``.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import flask
from werkzeug.serving import make_server

from sync_assets.connectors.shopify.scopes import REQUIRED_SCOPES
from sync_assets.sandbox import credentials, http_errors
from sync_assets.sandbox.control import ControlError, control_blueprint
from sync_assets.sandbox.faults import PROFILES, FaultInjector, FaultMiddleware, FaultPlan
from sync_assets.sandbox.generator import LivingShop, OrderMaker, StreamSettings, make_catalog
from sync_assets.sandbox.model import Catalog, Counters
from sync_assets.sandbox.netsuite import NetSuiteBackend
from sync_assets.sandbox.shopify import ShopifyBackend, UserError
from sync_assets.sandbox.shopify.history import HistorySpecError
from sync_assets.sandbox.shopify.history import parse_spec as parse_history_spec
from sync_assets.sandbox.webhooks import WebhookDispatcher

log = logging.getLogger("sync_assets.sandbox")

# A Standard-plan shop (shopify-admin.md §2.1): 2000-point bucket, 100 points/s; THROTTLED as HTTP 200.
SHOPIFY_DEFAULTS: dict[str, Any] = {
    "shopify_bucket_size": 2000.0,
    "shopify_restore_rate": 100.0,
    "shopify_throttle_status": 200,
    # A bulk query on a real store takes seconds to minutes (queued, then paged server-side); the sandbox
    # takes this floor plus a second per thousand objects, so the one-slot contention is visible.
    "bulk_seconds": 2.0,
    "bulk_seconds_per_1000_objects": 1.0,
    "shopify_token_lifetime": 86399.0,  # seconds a token from the client credentials grant lives
}

_ORDER_SUMMARY = (
    "id", "legacyResourceId", "name", "email", "createdAt", "displayFinancialStatus", "totalPriceSet",
)  # fmt: skip


class Sandbox:
    """The running sandbox: the two backends, the current catalog, faults, counters and the living shop."""

    CATALOG_FIELDS = ("seed", "products", "variants_per_product", "customers", "locations")
    CONFIG_FIELDS = (
        "suiteql_row_cap",
        "netsuite_concurrency",
        "shopify_bucket_size",
        "shopify_restore_rate",
        "shopify_throttle_status",
        "bulk_seconds",
        "bulk_seconds_per_1000_objects",
        "shopify_token_lifetime",
        "netsuite_timezone",
        "netsuite_oneworld",
        "netsuite_denied_tables",
        "shopify_access_scopes",
        "shopify_retired_versions",
        "shopify_timezone",
    )
    STREAM_FIELDS = ("orders_per_minute", "inventory_receipts_per_minute", "fulfillment_delay_seconds")

    def __init__(
        self,
        *,
        data_dir: Path,
        suiteql_row_cap: int = 100_000,
        netsuite_concurrency: int = 5,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.counters = Counters()
        self.netsuite = NetSuiteBackend(
            self.counters,
            account_id=credentials.NETSUITE_ACCOUNT_ID,
            row_cap=suiteql_row_cap,
            concurrency_limit=netsuite_concurrency,
            key_dir=self.data_dir / "netsuite",
        )
        self.shopify = ShopifyBackend(
            self.counters,
            access_token=credentials.SHOPIFY_ACCESS_TOKEN,
            bucket_size=SHOPIFY_DEFAULTS["shopify_bucket_size"],
            restore_rate=SHOPIFY_DEFAULTS["shopify_restore_rate"],
            bulk_seconds=SHOPIFY_DEFAULTS["bulk_seconds"],
            bulk_seconds_per_1000_objects=SHOPIFY_DEFAULTS["bulk_seconds_per_1000_objects"],
        )
        self.webhooks = WebhookDispatcher(self.counters)
        self.shopify.subscribe(self.webhooks)
        self.shopify.webhooks = self.webhooks  # what webhookSubscriptionCreate/Update register with
        self.faults = FaultInjector(self.counters)
        # What every reset goes back to; POST /_sandbox/config changes last until the next reset.
        self._default_config = {
            "suiteql_row_cap": suiteql_row_cap,
            "netsuite_concurrency": netsuite_concurrency,
            "netsuite_timezone": "UTC",
            "netsuite_oneworld": False,
            "netsuite_denied_tables": [],
            "shopify_access_scopes": list(REQUIRED_SCOPES),
            "shopify_retired_versions": [],
            "shopify_timezone": "UTC",
            **SHOPIFY_DEFAULTS,
        }
        self.catalog: Catalog | None = None
        self.catalog_spec: dict[str, int] = {}
        self._middleware: FaultMiddleware | None = None
        # Resets, stream changes and order placement must not interleave with one another.
        self._lock = threading.RLock()
        self._stream: LivingShop | None = None
        self._orders_seed = 0
        self.started = time.time()

    # -- the WSGI app
    def build_app(self) -> flask.Flask:
        app = flask.Flask("sync_assets.sandbox")
        app.json.sort_keys = False  # type: ignore[attr-defined]
        app.register_blueprint(self.netsuite.blueprint())
        app.register_blueprint(self.shopify.blueprint())
        app.register_blueprint(control_blueprint(self))
        http_errors.install(app)
        self._middleware = FaultMiddleware(app.wsgi_app, self.faults, self.counters)
        app.wsgi_app = self._middleware  # type: ignore[method-assign]
        return app

    # -- control operations
    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "uptime_seconds": round(time.time() - self.started, 3),
            "catalog": self.catalog_spec,
            "faults": self.faults.plan.profile,
            "stream": self.stream_status(),
        }

    def reset(
        self,
        seed: int = 42,
        products: int = 20,
        variants_per_product: int = 3,
        customers: int = 10,
        locations: int = 3,
    ) -> dict[str, Any]:
        """Empty both services, load a freshly generated catalog; clear counters, faults, webhook
        subscriptions and the living shop."""
        spec = {
            "seed": seed,
            "products": products,
            "variants_per_product": variants_per_product,
            "customers": customers,
            "locations": locations,
        }
        began = time.perf_counter()
        catalog = make_catalog(**spec)  # validates before anything is torn down
        with self._lock:
            self._stop_stream()
            self.faults.clear()
            self.webhooks.clear()
            self.netsuite.reset()
            self.shopify.reset()
            self.configure(**self._default_config)
            self.netsuite.load_catalog(catalog)
            self.shopify.load_catalog(catalog)
            self.catalog, self.catalog_spec = catalog, spec
            self._orders_seed = seed
            self.reset_counters()
        took = time.perf_counter() - began
        log.info("sandbox reset: %s in %.2fs", spec, took)
        return {"catalog": spec, "variants": len(catalog.skus()), "seconds": round(took, 3)}

    def reset_counters(self) -> None:
        self.counters.reset()
        if self._middleware is not None:
            self._middleware.reset_stats()

    def counters_report(self) -> dict[str, Any]:
        report: dict[str, Any] = {"counters": self.counters.snapshot()}
        if self._middleware is not None:
            report.update(self._middleware.stats())
        # The backend's own view: requests it admitted at once under its concurrency limit, since its reset.
        report["netsuite_peak_admitted"] = self.netsuite.peak_in_flight()
        return report

    def configure(self, **settings: Any) -> dict[str, Any]:
        def number(name: str, kind: type, low: float) -> Any:
            value = settings.get(name)
            if value is None:
                return None
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
                raise ControlError(f"config: {name} must be {'an integer' if kind is int else 'a number'}, got {value!r}")
            if value < low:
                raise ControlError(f"config: {name} must be >= {low}, got {value!r}")
            return kind(value)

        throttle_status = settings.get("shopify_throttle_status")
        if throttle_status is not None and throttle_status not in (200, 429):
            raise ControlError(f"config: shopify_throttle_status must be 200 or 429, got {throttle_status!r}")
        netsuite = {
            "row_cap": number("suiteql_row_cap", int, 1),
            "concurrency_limit": number("netsuite_concurrency", int, 1),
        }
        shopify = {
            "bucket_size": number("shopify_bucket_size", float, 1),
            "restore_rate": number("shopify_restore_rate", float, 0.001),
            "throttle_status": throttle_status,
            "bulk_seconds": number("bulk_seconds", float, 0),
            "bulk_seconds_per_1000_objects": number("bulk_seconds_per_1000_objects", float, 0),
            "token_lifetime": number("shopify_token_lifetime", float, 1),
            "access_scopes": _text_list(settings, "shopify_access_scopes"),
            "retired_versions": _text_list(settings, "shopify_retired_versions"),
            "timezone": settings.get("shopify_timezone"),
        }
        if shopify["timezone"] is not None and not isinstance(shopify["timezone"], str):
            raise ControlError(f"config: shopify_timezone must be an IANA zone name, got {shopify['timezone']!r}")
        timezone, oneworld = settings.get("netsuite_timezone"), settings.get("netsuite_oneworld")
        if timezone is not None and not isinstance(timezone, str):
            raise ControlError(f"config: netsuite_timezone must be an IANA zone name, got {timezone!r}")
        if oneworld is not None and not isinstance(oneworld, bool):
            raise ControlError(f"config: netsuite_oneworld must be a boolean, got {oneworld!r}")
        netsuite.update(timezone=timezone, oneworld=oneworld,
                        denied_tables=_text_list(settings, "netsuite_denied_tables"))
        try:
            if any(v is not None for v in netsuite.values()):
                self.netsuite.configure(**netsuite)
            if any(v is not None for v in shopify.values()):
                self.shopify.configure(**shopify)
        except ValueError as error:
            raise ControlError(f"config: {error}") from None
        return {name: settings[name] for name in self.CONFIG_FIELDS if settings.get(name) is not None}

    def stream_status(self) -> dict[str, Any]:
        stream = self._stream
        if stream is None or not stream.is_alive():
            return {"running": False}
        settings = stream.settings
        return {
            "running": True,
            "orders_per_minute": settings.orders_per_minute,
            "inventory_receipts_per_minute": settings.inventory_receipts_per_minute,
            "fulfillment_delay_seconds": settings.fulfillment_delay_seconds,
        }

    def set_stream(
        self,
        orders_per_minute: float = 0.0,
        inventory_receipts_per_minute: float = 0.0,
        fulfillment_delay_seconds: float = 30.0,
    ) -> dict[str, Any]:
        """Start the living shop at these rates (all zero stops it)."""
        settings = StreamSettings(orders_per_minute, inventory_receipts_per_minute, fulfillment_delay_seconds)
        with self._lock:
            self._stop_stream()
            if settings.active:
                catalog = self._require_catalog()
                self._orders_seed += 1
                self._stream = LivingShop(
                    catalog,
                    settings,
                    place_order=self.shopify.create_order,
                    receive_inventory=self.netsuite.receive_inventory,
                    fulfill=self.netsuite.fulfill_sales_orders,
                    on_event=self.counters.incr,
                    seed=self._orders_seed * 7919,
                )
                self._stream.start()
        return self.stream_status()

    def place_orders(self, count: int, seed: int | None = None) -> list[dict[str, Any]]:
        """Place ``count`` storefront orders now, through the Shopify backend (as a customer would)."""
        with self._lock:
            catalog = self._require_catalog()
            if seed is None:
                self._orders_seed += 1
                seed = self._orders_seed * 104_729 + random.randrange(1_000)
            maker = OrderMaker(catalog, seed)
            created = []
            for _ in range(count):
                try:
                    created.append(self.shopify.create_order(maker.make()))
                except UserError as error:
                    raise ControlError(f"orders: the shop refused order {len(created) + 1}: {error.as_dict()}") from error
        self.counters.incr("control.orders_placed", count)
        return [{k: order[k] for k in _ORDER_SUMMARY if k in order} for order in created]

    def seed_history(self, body: dict[str, Any]) -> dict[str, Any]:
        """Give the shop an order history of ``count`` orders placed between ``start`` and ``end`` (served by
        bulk queries, generated on demand: see sandbox/shopify/history.py)."""
        with self._lock:
            catalog = self._require_catalog()
            try:
                spec = parse_history_spec(body, datetime.now(timezone.utc))
            except HistorySpecError as error:
                raise ControlError(str(error)) from None
            return self.shopify.seed_history(spec, catalog)

    def catalog_summary(self, sample: int = 10) -> dict[str, Any]:
        catalog = self._require_catalog()
        skus = catalog.skus()
        awkward = [s for s in skus if "'" in s or not s.isascii()]
        return {
            "spec": self.catalog_spec,
            "currency": catalog.currency,
            "products": len(catalog.products),
            "variants": len(skus),
            "customers": len(catalog.customers),
            "skus_sample": skus[:sample],
            "awkward_skus": awkward[:sample],
            "price_levels": [level.name for level in catalog.price_levels],
            "locations": [
                {
                    "key": loc.key,
                    "name": loc.name,
                    "city": loc.city,
                    "country_code": loc.country_code,
                    "netsuite_id": self.netsuite.location_id(loc.key),
                    "shopify_id": self.shopify.location_id(loc.key),
                }
                for loc in catalog.locations
            ],
        }

    def close(self) -> None:
        with self._lock:
            self._stop_stream()
        self.webhooks.close()

    def _stop_stream(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream = None

    def _require_catalog(self) -> Catalog:
        if self.catalog is None:
            raise ControlError("no catalog loaded yet: POST /_sandbox/reset first")
        return self.catalog


# --- command line ---------------------------------------------------------------------------------


def _env(name: str, default: Any) -> Any:
    # argparse runs a string default through the option's type, so a bad SANDBOX_PORT gets its usual error.
    return os.environ.get(f"SANDBOX_{name}", default)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="sync-assets sandbox",
        description="Serve the local Shopify + NetSuite sandbox. Every option also reads SANDBOX_<OPTION> "
        "from the environment (e.g. SANDBOX_PORT).",
    )
    add = parser.add_argument
    add("--host", default=_env("HOST", credentials.SANDBOX_HOST), help="bind address (keep it loopback)")
    add("--port", type=int, default=_env("PORT", credentials.SANDBOX_PORT), help="0 picks a free port")
    add("--seed", type=int, default=_env("SEED", 42))
    add("--products", type=int, default=_env("PRODUCTS", 100))
    add("--variants-per-product", type=int, default=_env("VARIANTS_PER_PRODUCT", 3))
    add("--customers", type=int, default=_env("CUSTOMERS", 50))
    add("--locations", type=int, default=_env("LOCATIONS", 3))
    add("--orders-per-minute", type=float, default=_env("ORDERS_PER_MINUTE", 0), help="0 = no stream")
    add("--receipts-per-minute", type=float, default=_env("RECEIPTS_PER_MINUTE", 0))
    add("--fulfillment-delay", type=float, default=_env("FULFILLMENT_DELAY", 30), help="seconds")
    add("--fault-profile", choices=PROFILES, default=_env("FAULT_PROFILE", "none"))
    add("--fault-rate", type=float, default=_env("FAULT_RATE", 1.0))
    add("--suiteql-row-cap", type=int, default=_env("SUITEQL_ROW_CAP", 100_000))
    add("--netsuite-concurrency", type=int, default=_env("NETSUITE_CONCURRENCY", 5))
    add("--data-dir", type=Path, default=_env("DATA_DIR", Path("data/sandbox")))
    add("--log-requests", action="store_true", help="log every request (noisy)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.log_requests:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    args.data_dir.mkdir(parents=True, exist_ok=True)

    sandbox = Sandbox(
        data_dir=args.data_dir,
        suiteql_row_cap=args.suiteql_row_cap,
        netsuite_concurrency=args.netsuite_concurrency,
    )
    app = sandbox.build_app()
    try:
        sandbox.reset(args.seed, args.products, args.variants_per_product, args.customers, args.locations)
        if args.fault_profile != "none":
            plan = {"profile": args.fault_profile, "rate": args.fault_rate, "seed": args.seed}
            sandbox.faults.set(FaultPlan.from_json(plan))
        if args.orders_per_minute > 0 or args.receipts_per_minute > 0:
            sandbox.set_stream(args.orders_per_minute, args.receipts_per_minute, args.fulfillment_delay)
    except ValueError as error:  # bad sizes, rates or fault settings: say which, no traceback
        print(f"sync-assets sandbox: {error}", file=sys.stderr)
        sandbox.close()
        return 2

    server = make_server(args.host, args.port, app, threaded=True)

    def stop(signum: int, frame: Any) -> None:
        # shutdown() waits for serve_forever to return, so it must run off the serving thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # The fixture and scripts parse this line for the URL (the port may have been picked by the OS).
    print(
        f"sandbox listening on http://{args.host}:{server.port} (NetSuite account {credentials.NETSUITE_ACCOUNT_ID}, "
        f"Shopify shop {credentials.SHOPIFY_SHOP}, data dir {args.data_dir})",
        flush=True,
    )
    try:
        server.serve_forever()
    finally:
        sandbox.close()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())


def _text_list(settings: dict[str, Any], name: str) -> list[str] | None:
    value = settings.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ControlError(f"config: {name} must be a list of strings, got {value!r}")
    return value
