"""Shared helpers of the test_netsuite_* files: a tiny hand-made catalog and a TBA-signing test client."""

from __future__ import annotations

import json
from decimal import Decimal

import flask
import requests
from requests_oauthlib import OAuth1

from sync_assets.sandbox import credentials
from sync_assets.sandbox.model import Catalog, Counters, Customer, Location, PriceLevel, Product, Variant
from sync_assets.sandbox.netsuite import NetSuiteBackend

BASE = "http://localhost"


def tiny_catalog(n_products: int = 3) -> Catalog:
    products = []
    for p in range(n_products):
        variants = tuple(Variant(sku=f"SKU-{p}-{v}", title=f"Size {v}", price=Decimal("10.00") + p,
                                 cost=Decimal("4.00"), weight_grams=250, barcode=f"0000{p}{v}")
                         for v in range(2))
        products.append(Product(key=f"prod-{p:06d}", title=f"Product {p}", vendor="Acme", product_type="Shirts",
                                description="A shirt", variants=variants))
    products.append(Product(key="prod-quote", title="Quotes", vendor="O'Neil", product_type="Hats",
                            description="q", variants=(Variant(sku="O'NEIL-\"X\"-é", title="One", price=Decimal("5"),
                                                               cost=Decimal("1"), weight_grams=1),)))
    inventory = {(v.sku, "loc-1"): 10 for prod in products for v in prod.variants}
    inventory[("SKU-0-0", "loc-2")] = 3
    return Catalog(
        currency="USD",
        locations=[Location("loc-1", "East Warehouse", "Newark", "US"), Location("loc-2", "West", "Reno", "US")],
        price_levels=[PriceLevel("Base Price", Decimal(0)), PriceLevel("Wholesale", Decimal(40))],
        products=products,
        customers=[Customer("cust-1", "jane@example.com", "Jane", "Doe", None, "US"),
                   Customer("cust-2", "bob@example.com", "Bob", "O'Neil", "+15550100", "US")],
        inventory=inventory,
    )


def oauth1(**overrides) -> OAuth1:
    kwargs = dict(client_key=credentials.NETSUITE_CONSUMER_KEY, client_secret=credentials.NETSUITE_CONSUMER_SECRET,
                  resource_owner_key=credentials.NETSUITE_TOKEN_ID,
                  resource_owner_secret=credentials.NETSUITE_TOKEN_SECRET, realm=credentials.NETSUITE_ACCOUNT_ID,
                  signature_method="HMAC-SHA256")
    kwargs.update(overrides)
    return OAuth1(**kwargs)


class Client:
    """Flask test client that signs each request exactly as requests-oauthlib would on the wire."""

    def __init__(self, backend: NetSuiteBackend) -> None:
        app = flask.Flask("netsuite-test")
        app.register_blueprint(backend.blueprint())
        self.app = app
        self.flask = app.test_client()
        self.backend = backend

    def headers_for(self, method: str, path: str, *, auth=None, params=None, body=None) -> tuple[str, dict]:
        prepared = requests.Request(method, BASE + path, params=params, json=body,
                                    auth=auth if auth is not None else oauth1()).prepare()
        return prepared.url, {k: v.decode() if isinstance(v, bytes) else v for k, v in prepared.headers.items()}

    def call(self, method: str, path: str, *, params=None, body=None, auth=None, headers=None,
             sign: bool = True):
        url, hdrs = self.headers_for(method, path, auth=auth, params=params, body=body) if sign else (
            requests.Request(method, BASE + path, params=params).prepare().url, {})
        hdrs.update(headers or {})
        data = json.dumps(body) if body is not None else None
        return self.flask.open(url[len(BASE):], method=method, headers=hdrs, data=data,
                               content_type="application/json" if body is not None else None)

    def suiteql(self, q: str, *, limit=None, offset=None, params=None, prefer="transient"):
        args = {k: v for k, v in (("limit", limit), ("offset", offset)) if v is not None}
        body = {"q": q}
        if params is not None:
            body["params"] = params
        return self.call("POST", "/services/rest/query/v1/suiteql", params=args or None, body=body,
                         headers={"Prefer": prefer} if prefer else None)


def make(catalog: Catalog | None = None, **kw) -> tuple[NetSuiteBackend, Client, Counters]:
    counters = Counters()
    backend = NetSuiteBackend(counters, **kw)
    backend.load_catalog(catalog or tiny_catalog())
    return backend, Client(backend), counters
