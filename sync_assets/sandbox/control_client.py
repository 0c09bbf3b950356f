"""A small client of the sandbox control API (``/_sandbox/...``), for tests, benchmarks and scripts."""

from __future__ import annotations

import time
from typing import Any

import requests


class SandboxControlError(RuntimeError):
    """The control API refused a request; the message carries its reason."""


class SandboxControl:
    def __init__(self, base_url: str, *, timeout: float = 60.0, session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = session or requests.Session()

    def _call(self, method: str, route: str, body: dict[str, Any] | None = None) -> Any:
        url = f"{self.base_url}/_sandbox/{route}"
        response = self._session.request(method, url, json=body, timeout=self.timeout)
        if response.status_code >= 400:
            try:
                reason = response.json().get("error", response.text)
            except ValueError:
                reason = response.text
            raise SandboxControlError(f"{method} {url}: HTTP {response.status_code}: {reason}")
        return response.json()

    def health(self) -> dict[str, Any]:
        return self._call("GET", "health")

    def wait_until_healthy(self, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.health()
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def reset(
        self,
        seed: int = 42,
        products: int = 20,
        variants_per_product: int = 3,
        customers: int = 10,
        locations: int = 3,
    ) -> dict[str, Any]:
        return self._call(
            "POST",
            "reset",
            {
                "seed": seed,
                "products": products,
                "variants_per_product": variants_per_product,
                "customers": customers,
                "locations": locations,
            },
        )

    def set_faults(self, profile: str, **params: Any) -> dict[str, Any]:
        """E.g. ``set_faults("throttle", service="shopify", rate=0.5, retry_after=0.1, seed=1)``."""
        return self._call("POST", "faults", {"profile": profile, **params})

    def clear_faults(self) -> dict[str, Any]:
        return self.set_faults("none")

    def faults(self) -> dict[str, Any]:
        return self._call("GET", "faults")

    def counters(self) -> dict[str, Any]:
        """``{"counters": {...}, "requests_by_endpoint": {...}, "in_flight": {...}, "peak_in_flight": {...}}``."""
        return self._call("GET", "counters")

    def reset_counters(self) -> dict[str, Any]:
        return self._call("POST", "counters/reset")

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Keys: suiteql_row_cap, netsuite_concurrency, shopify_bucket_size, shopify_restore_rate,
        shopify_throttle_status (200|429), bulk_seconds, bulk_seconds_per_1000_objects, shopify_token_lifetime (s)."""
        return self._call("POST", "config", settings)

    def stream(
        self,
        orders_per_minute: float = 0.0,
        inventory_receipts_per_minute: float = 0.0,
        fulfillment_delay_seconds: float = 30.0,
    ) -> dict[str, Any]:
        return self._call(
            "POST",
            "stream",
            {
                "orders_per_minute": orders_per_minute,
                "inventory_receipts_per_minute": inventory_receipts_per_minute,
                "fulfillment_delay_seconds": fulfillment_delay_seconds,
            },
        )

    def stop_stream(self) -> dict[str, Any]:
        return self.stream(0, 0)

    def stream_status(self) -> dict[str, Any]:
        return self._call("GET", "stream")

    def place_orders(self, count: int = 1, seed: int | None = None) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"count": count}
        if seed is not None:
            body["seed"] = seed
        return self._call("POST", "orders", body)["orders"]

    def refund_order(self, order_id: str, amount: str, *, parent_transaction_id: str | None = None,
                     unchecked: bool = False) -> dict[str, Any]:
        """Refund part of a paid Shopify order: {order_id, updated_at, financial_status, refund_id}."""
        body: dict[str, Any] = {"order_id": order_id, "amount": amount, "unchecked": unchecked}
        if parent_transaction_id is not None:
            body["parent_transaction_id"] = parent_transaction_id
        return self._call("POST", "shopify/refund", body)

    def create_customer(self, **fields: Any) -> dict[str, Any]:
        """A customer created in the Shopify admin (email, firstName, lastName, tags, state, marketingState):
        {id, updated_at}."""
        return self._call("POST", "shopify/customers", fields)

    def update_customer(self, customer_id: str, *, corrupt: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        """Edit a Shopify customer (its updatedAt moves); ``corrupt`` plants raw field values (fault injection)."""
        body: dict[str, Any] = {"id": customer_id, **fields}
        if corrupt is not None:
            body["corrupt"] = corrupt
        return self._call("POST", "shopify/customers/update", body)

    def seed_order_history(self, count: int, start: str, end: str, *, seed: int = 0,
                           malformed: int = 0) -> dict[str, Any]:
        """The shop took ``count`` orders evenly over [start, end) before now (ISO timestamps with offsets);
        bulk queries serve them. Returns the spec as the sandbox understood it."""
        return self._call("POST", "shopify/history", {"count": count, "start": start, "end": end, "seed": seed,
                                                      "malformed": malformed})

    def storefront_available(self, pairs: list[tuple[str, str]]) -> list[int]:
        """The storefront's available of each (sku, location_key), read free of API cost."""
        return self._call("POST", "shopify/available", {"items": [list(p) for p in pairs]})["available"]

    def receive_inventory(self, sku: str, location_key: str, quantity: int) -> dict[str, Any]:
        """A NetSuite inventory receipt: on hand (and available) of ``sku`` at ``location_key`` += quantity."""
        return self._call(
            "POST", "netsuite/receive_inventory", {"sku": sku, "location_key": location_key, "quantity": quantity}
        )

    def fulfill_sales_orders(self, older_than_seconds: float = 0) -> int:
        """Ship (NetSuite item fulfillment + tracking number) every open sales order at least this old."""
        return self._call("POST", "netsuite/fulfill_sales_orders", {"older_than_seconds": older_than_seconds})["fulfilled"]

    def catalog(self) -> dict[str, Any]:
        return self._call("GET", "catalog")

    # NetSuite item edits; ``item`` is an internal id (int) or an item name (a SKU, a matrix parent's key).
    def set_item_price(self, item: int | str, unit_price: str, *, price_level: str | int = "Base Price",
                       currency: str | int = "USD") -> dict[str, Any]:
        return self._call("POST", "netsuite/items/price", {"item": item, "unit_price": unit_price,
                                                           "price_level": price_level, "currency": currency})

    def update_item(self, item: int | str, **fields: Any) -> dict[str, Any]:
        """Fields: description, displayname (text), isinactive (bool)."""
        return self._call("POST", "netsuite/items/update", {"item": item, **fields})

    def delete_item(self, item: int | str) -> list[int]:
        """Delete an item (a matrix parent with its children); returns the deleted internal ids."""
        return self._call("POST", "netsuite/items/delete", {"item": item})["deleted"]

    def delete_sales_order(self, external_id: str) -> int:
        """Someone deletes a sales order in NetSuite; returns its internal id."""
        return self._call("POST", "netsuite/sales_orders/delete", {"external_id": external_id})["deleted"]

    def register_webhooks(
        self,
        address: str,
        topics: list[str] | None = None,
        *,
        duplicate_rate: float = 0.0,
        reorder: bool = False,
    ) -> dict[str, Any]:
        """Deliver Shopify webhooks (REST-shaped, HMAC-signed) for ``topics`` (all if None) to ``address``.

        ``duplicate_rate`` sends that fraction of events twice; ``reorder`` delivers them out of order.
        """
        body = {"address": address, "topics": topics or [], "duplicate_rate": duplicate_rate, "reorder": reorder}
        return self._call("POST", "webhooks", body)

    def webhooks(self) -> list[dict[str, Any]]:
        """The subscriptions with their delivery statistics (deliveries, duplicates_sent, failures...)."""
        return self._call("GET", "webhooks")["subscriptions"]

    def clear_webhooks(self) -> None:
        self._call("DELETE", "webhooks")
