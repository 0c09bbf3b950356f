"""The sandbox's control API under ``/_sandbox/``: what tests, benchmarks and the quick start drive.

Never faulted, never authenticated (the server binds to loopback). Every route answers JSON; bad input
gets a 400 ``{"error": "..."}`` that names the field.

- ``GET health``; ``GET catalog`` (SKU sample, awkward SKUs, locations with both systems' ids)
- ``POST reset`` {seed, products, variants_per_product, customers, locations}: empty both services, load a
  fresh catalog; clears counters, faults, webhook subscriptions and the living shop; config to defaults
- ``GET|POST faults`` {profile, service, rate, seconds, retry_after, statuses, failure, seed, limit}
- ``GET counters``, ``POST counters/reset``
- ``POST config`` {suiteql_row_cap, netsuite_concurrency, shopify_bucket_size, shopify_restore_rate,
  shopify_throttle_status, bulk_seconds, bulk_seconds_per_1000_objects, shopify_token_lifetime,
  netsuite_timezone (the integration user's zone SuiteQL timestamps are in), netsuite_oneworld (customers
  need a subsidiary), netsuite_denied_tables (tables the role may not read: SuiteQL answers "Record 'x' was
  not found."), shopify_access_scopes (the app's granted scopes), shopify_retired_versions (served by a
  newer version, as Shopify falls forward)}
- ``GET|POST stream`` {orders_per_minute, inventory_receipts_per_minute, fulfillment_delay_seconds}
- ``POST orders`` {count, seed}: place orders now through the Shopify backend
- ``POST shopify/history`` {count, start, end, seed, malformed}: the shop took ``count`` orders, evenly spread
  over [start, end) (ISO timestamps with an offset, end not in the future), before the sandbox started;
  generated on demand and served to bulk queries only (sandbox/shopify/history.py); ``malformed`` of them carry
  a corrupt ``createdAt``. Config ``shopify_timezone`` is the shop's ``ianaTimezone``
- ``POST shopify/refund`` {order_id, amount, parent_transaction_id, unchecked}: refund part of a paid order
  (a REFUND transaction; ``orders/updated`` fires). ``unchecked`` allows more than Shopify would refund
- ``POST shopify/customers`` {email, firstName, lastName, tags, state, marketingState}: a customer created in
  the admin; ``POST shopify/customers/update`` {id, ...the same fields, corrupt}: edited (``updatedAt``
  moves); ``corrupt`` stores raw values verbatim over served fields (fault injection: a malformed record)
- ``POST netsuite/receive_inventory`` {sku, location_key, quantity}: goods arrive at a NetSuite location
- ``POST netsuite/fulfill_sales_orders`` {older_than_seconds}: NetSuite ships open sales orders that old
- ``POST netsuite/items/price`` {item, price_level, currency, unit_price}; ``POST netsuite/items/update``
  {item, description, displayname, isinactive}; ``POST netsuite/items/delete`` {item}: a merchandiser's
  edits in NetSuite (``item`` is an internal id or item name); each moves the item's lastmodifieddate
- ``POST netsuite/sales_orders/delete`` {external_id}: someone deletes a sales order in NetSuite (the gap
  reconciliation finds: the ledger says it was written)
- ``GET|POST|DELETE webhooks`` {address, topics, duplicate_rate, reorder}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import flask

from sync_assets.sandbox.faults import FaultConfigError, FaultPlan
from sync_assets.sandbox.generator import CatalogSpecError
from sync_assets.sandbox.netsuite import catalog_edits, transaction_edits
from sync_assets.sandbox.shopify import UserError
from sync_assets.sandbox.shopify import customers as shopify_customers
from sync_assets.sandbox.webhooks import WebhookConfigError, parse_subscription

if TYPE_CHECKING:
    from sync_assets.sandbox.server import Sandbox


class ControlError(ValueError):
    """A control request that cannot be honoured as sent."""


def _body() -> dict[str, Any]:
    if not flask.request.data:
        return {}
    body = flask.request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ControlError(f"{flask.request.path}: the body must be a JSON object")
    return body


def control_blueprint(sandbox: Sandbox) -> flask.Blueprint:
    bp = flask.Blueprint("sandbox_control", __name__, url_prefix="/_sandbox")

    @bp.errorhandler(ControlError)
    @bp.errorhandler(FaultConfigError)
    @bp.errorhandler(CatalogSpecError)
    @bp.errorhandler(WebhookConfigError)
    @bp.errorhandler(catalog_edits.CatalogEditError)
    def bad_request(error: ValueError) -> tuple[flask.Response, int]:
        return flask.jsonify(error=str(error)), 400

    @bp.get("/health")
    def health() -> flask.Response:
        return flask.jsonify(sandbox.health())

    @bp.post("/reset")
    def reset() -> flask.Response:
        return flask.jsonify(sandbox.reset(**_only(_body(), "reset", sandbox.CATALOG_FIELDS)))

    @bp.get("/faults")
    def faults() -> flask.Response:
        return flask.jsonify(sandbox.faults.describe())

    @bp.post("/faults")
    def set_faults() -> flask.Response:
        sandbox.faults.set(FaultPlan.from_json(_body()))
        return flask.jsonify(sandbox.faults.describe())

    @bp.get("/counters")
    def counters() -> flask.Response:
        return flask.jsonify(sandbox.counters_report())

    @bp.post("/counters/reset")
    def reset_counters() -> flask.Response:
        sandbox.reset_counters()
        return flask.jsonify(sandbox.counters_report())

    @bp.post("/config")
    def config() -> flask.Response:
        return flask.jsonify(sandbox.configure(**_only(_body(), "config", sandbox.CONFIG_FIELDS)))

    @bp.get("/stream")
    def stream() -> flask.Response:
        return flask.jsonify(sandbox.stream_status())

    @bp.post("/stream")
    def set_stream() -> flask.Response:
        return flask.jsonify(sandbox.set_stream(**_only(_body(), "stream", sandbox.STREAM_FIELDS)))

    @bp.post("/orders")
    def orders() -> flask.Response:
        body = _only(_body(), "orders", ("count", "seed"))
        count = body.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 10_000:
            raise ControlError(f"orders: count must be an integer in 1..10000, got {count!r}")
        seed = body.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ControlError(f"orders: seed must be an integer, got {seed!r}")
        return flask.jsonify(orders=sandbox.place_orders(count, seed))

    @bp.post("/shopify/customers")
    def create_customer() -> flask.Response:
        body = _only(_body(), "customers", shopify_customers.EDITABLE)
        try:
            record = shopify_customers.create_customer(sandbox.shopify.store, body)
        except UserError as error:
            raise ControlError(f"customers: {'.'.join(error.field or [])}: {error}") from None
        return flask.jsonify(id=record["id"], updated_at=record["updatedAt"])

    @bp.post("/shopify/customers/update")
    def update_customer() -> flask.Response:
        body = _only(_body(), "customers/update", ("id", "corrupt", *shopify_customers.EDITABLE))
        customer_id, corrupt = body.pop("id", None), body.pop("corrupt", None)
        if not isinstance(customer_id, str) or (corrupt is not None and not isinstance(corrupt, dict)):
            raise ControlError("customers/update: id must be a string and corrupt, if given, an object")
        try:
            record = shopify_customers.update_customer(sandbox.shopify.store, customer_id, body, corrupt)
        except UserError as error:
            raise ControlError(f"customers/update: {'.'.join(error.field or [])}: {error}") from None
        return flask.jsonify(id=record["id"], updated_at=record["updatedAt"])

    @bp.post("/shopify/refund")
    def refund() -> flask.Response:
        body = _only(_body(), "refund", ("order_id", "amount", "parent_transaction_id", "unchecked"))
        order_id, amount, parent = body.get("order_id"), body.get("amount"), body.get("parent_transaction_id")
        if not isinstance(order_id, str) or (parent is not None and not isinstance(parent, str)):
            raise ControlError("refund: order_id (and parent_transaction_id, if given) must be strings")
        if isinstance(amount, bool) or not isinstance(amount, (str, int, float)):
            raise ControlError(f"refund: amount must be a decimal string or number, got {amount!r}")
        unchecked = body.get("unchecked", False)
        if not isinstance(unchecked, bool):
            raise ControlError(f"refund: unchecked must be a boolean, got {unchecked!r}")
        try:
            order = sandbox.shopify.refund_order(order_id, amount, parent, unchecked)
        except UserError as error:
            raise ControlError(f"refund: {'.'.join(error.field or [])}: {error}") from None
        return flask.jsonify(order_id=order["id"], updated_at=order["updatedAt"],
                             financial_status=order["displayFinancialStatus"],
                             refund_id=order["transactions"][-1]["id"])

    @bp.post("/shopify/history")
    def history() -> flask.Response:
        """An order history older than the sandbox (history.py): what a backfill reads through bulk queries."""
        return flask.jsonify(sandbox.seed_history(_only(_body(), "history", ("count", "start", "end", "seed",
                                                                               "malformed"))))

    @bp.post("/shopify/available")
    def storefront_available() -> flask.Response:
        """What benchmarks watch without spending the app's cost bucket: available per (sku, location_key)."""
        pairs = _only(_body(), "available", ("items",)).get("items")
        if not isinstance(pairs, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in pairs
        ):
            raise ControlError("available: items must be a list of [sku, location_key] string pairs")
        try:
            return flask.jsonify(available=[sandbox.shopify.available(sku, key) for sku, key in pairs])
        except KeyError as error:
            raise ControlError(f"available: {error.args[0]}") from None

    @bp.post("/netsuite/receive_inventory")
    def receive_inventory() -> flask.Response:
        body = _only(_body(), "receive_inventory", ("sku", "location_key", "quantity"))
        sku, location_key, quantity = body.get("sku"), body.get("location_key"), body.get("quantity")
        if not isinstance(sku, str) or not isinstance(location_key, str):
            raise ControlError("receive_inventory: sku and location_key must be strings")
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise ControlError(f"receive_inventory: quantity must be an integer, got {quantity!r}")
        try:
            sandbox.netsuite.receive_inventory(sku, location_key, quantity)
        except KeyError as error:
            raise ControlError(f"receive_inventory: {error.args[0]}") from None
        return flask.jsonify(received={"sku": sku, "location_key": location_key, "quantity": quantity})

    @bp.post("/netsuite/fulfill_sales_orders")
    def fulfill_sales_orders() -> flask.Response:
        body = _only(_body(), "fulfill_sales_orders", ("older_than_seconds",))
        older = body.get("older_than_seconds", 0)
        if isinstance(older, bool) or not isinstance(older, (int, float)) or older < 0:
            raise ControlError(f"fulfill_sales_orders: older_than_seconds must be a number >= 0, got {older!r}")
        return flask.jsonify(fulfilled=sandbox.netsuite.fulfill_sales_orders(float(older)))

    @bp.get("/webhooks")
    def webhooks() -> flask.Response:
        return flask.jsonify(subscriptions=sandbox.webhooks.describe())

    @bp.post("/webhooks")
    def register_webhooks() -> flask.Response:
        """Stand in for the Shopify admin where an app registers its webhook subscriptions."""
        return flask.jsonify(sandbox.webhooks.subscribe(**parse_subscription(_body())).to_json())

    @bp.delete("/webhooks")
    def clear_webhooks() -> flask.Response:
        sandbox.webhooks.clear()
        return flask.jsonify(subscriptions=[])

    @bp.get("/catalog")
    def catalog() -> flask.Response:
        return flask.jsonify(sandbox.catalog_summary())

    _catalog_edit_routes(bp, sandbox)
    return bp


def _catalog_edit_routes(bp: flask.Blueprint, sandbox: Sandbox) -> None:
    """NetSuite item edits (sandbox/netsuite/catalog_edits.py): what makes a catalog run have work."""
    db = sandbox.netsuite.db

    @bp.post("/netsuite/items/price")
    def item_price() -> flask.Response:
        body = _only(_body(), "items/price", ("item", "price_level", "currency", "unit_price"))
        return flask.jsonify(catalog_edits.set_price(db, body.get("item"), body.get("price_level", "Base Price"),
                                                     body.get("currency", "USD"), body.get("unit_price")))

    @bp.post("/netsuite/items/update")
    def item_update() -> flask.Response:
        body = _only(_body(), "items/update", ("item", *catalog_edits.EDITABLE_FIELDS))
        item = body.pop("item", None)
        return flask.jsonify(catalog_edits.update_item(db, item, body))

    @bp.post("/netsuite/items/delete")
    def item_delete() -> flask.Response:
        body = _only(_body(), "items/delete", ("item",))
        return flask.jsonify(deleted=catalog_edits.delete_item(db, body.get("item")))

    @bp.post("/netsuite/sales_orders/delete")
    def sales_order_delete() -> flask.Response:
        body = _only(_body(), "sales_orders/delete", ("external_id",))
        return flask.jsonify(deleted=transaction_edits.delete_sales_order(db, body.get("external_id")))


def _only(body: dict[str, Any], where: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ControlError(f"{where}: unknown field(s) {unknown}; known: {list(allowed)}")
    return body
