"""The contract between the sandbox's parts.

The generator (``generator.py``) builds a :class:`Catalog` of plain data; each emulated service
(``netsuite/``, ``shopify/``) is a :class:`Backend` that loads it into its own shapes and ids, exactly
as a merchant's two real systems hold the same goods under different identifiers. The server
(``server.py``) mounts every backend's blueprint, the fault injector and the control API.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

import flask


@dataclass(frozen=True)
class Location:
    key: str  # stable generator key, e.g. "loc-1"
    name: str  # e.g. "East Warehouse"
    city: str
    country_code: str  # ISO 3166-1 alpha-2


@dataclass(frozen=True)
class Variant:
    sku: str  # unique across the catalog; may contain quotes and non-ASCII on purpose
    title: str  # e.g. "Large / Blue"
    price: Decimal  # base price, shop currency
    cost: Decimal
    weight_grams: int
    barcode: str | None = None


@dataclass(frozen=True)
class Product:
    key: str  # stable generator key, e.g. "prod-000123"
    title: str
    vendor: str
    product_type: str
    description: str
    variants: tuple[Variant, ...]


@dataclass(frozen=True)
class PriceLevel:
    name: str  # e.g. "Base Price", "Wholesale", "MSRP"
    discount_pct: Decimal  # price = base * (1 - discount_pct/100); negative for markups


@dataclass(frozen=True)
class Customer:
    key: str
    email: str
    first_name: str
    last_name: str
    phone: str | None
    country_code: str


@dataclass
class Catalog:
    currency: str
    locations: list[Location]
    price_levels: list[PriceLevel]
    products: list[Product]
    customers: list[Customer]
    # starting on-hand quantity per (sku, location key); missing pairs mean 0
    inventory: dict[tuple[str, str], int] = field(default_factory=dict)
    # name of the NetSuite discount item the account posts storefront discounts to (None: the account has none)
    discount_item: str | None = None

    def skus(self) -> list[str]:
        return [v.sku for p in self.products for v in p.variants]


class Counters:
    """Thread-safe counters the control API reports (requests by endpoint, throttled answers, writes...)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def incr(self, name: str, by: int = 1) -> None:
        with self._lock:
            self._counts[name] += by

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


class Backend(Protocol):
    """One emulated service. Implementations: ``netsuite.NetSuiteBackend``, ``shopify.ShopifyBackend``."""

    name: str  # "netsuite" or "shopify"; also the prefix of its counter names

    def blueprint(self) -> flask.Blueprint:
        """Routes under the service's real paths."""

    def reset(self) -> None:
        """Forget every record, token, nonce and counter; back to an empty account/shop."""

    def load_catalog(self, catalog: Catalog) -> None:
        """Create locations, items/products, price levels, customers and starting inventory."""
