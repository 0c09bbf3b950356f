"""Shared fixtures for the Shopify sandbox tests: a tiny hand-built catalog and a GraphQL caller."""

from __future__ import annotations

from decimal import Decimal

import flask

from sync_assets.sandbox import credentials
from sync_assets.sandbox.model import Catalog, Counters, Customer, Location, PriceLevel, Product, Variant
from sync_assets.sandbox.shopify import ShopifyBackend

URL = f"/admin/api/{credentials.SHOPIFY_API_VERSION}/graphql.json"


def tiny_catalog() -> Catalog:
    return Catalog(
        currency="USD",
        locations=[Location("loc-1", "East Warehouse", "Newark", "US"), Location("loc-2", "West", "Reno", "US")],
        price_levels=[PriceLevel("Base Price", Decimal(0))],
        products=[
            Product("prod-1", "Tee", "Acme", "Shirts", "A tee", (
                Variant("TEE-S", "Small", Decimal("19.99"), Decimal("5"), 200),
                Variant("TEE-L", "Large", Decimal("21.50"), Decimal("6"), 220),
            )),
            Product("prod-2", "Mug", "Acme", "Kitchen", "A mug", (Variant('MUG-"Q"', "Default Title", Decimal("9"), Decimal("2"), 300),)),
        ],
        customers=[Customer("cust-1", "ann@example.com", "Ann", "Lee", None, "US")],
        inventory={("TEE-S", "loc-1"): 10, ("TEE-L", "loc-1"): 5, ("TEE-L", "loc-2"): 7, ('MUG-"Q"', "loc-2"): 3},
    )


class Shop:
    def __init__(self, **kwargs) -> None:
        self.counters = Counters()
        self.backend = ShopifyBackend(self.counters, **kwargs)
        self.backend.load_catalog(tiny_catalog())
        app = flask.Flask("shopify-test")
        app.register_blueprint(self.backend.blueprint())
        self.client = app.test_client()

    def post(self, query: str, variables: dict | None = None, *, token: str = credentials.SHOPIFY_ACCESS_TOKEN,
             url: str = URL):
        return self.client.post(url, json={"query": query, "variables": variables or {}},
                                headers={"X-Shopify-Access-Token": token})

    def gql(self, query: str, variables: dict | None = None) -> dict:
        resp = self.post(query, variables)
        assert resp.status_code == 200, resp.data
        body = resp.get_json()
        assert "errors" not in body, body["errors"]
        return body

    def variant_id(self, sku: str) -> str:
        return self.backend.store.variants[self.backend.store.variant_by_sku[sku]]["id"]

    def order(self, sku: str = "TEE-S", qty: int = 1, paid: bool = True, **extra) -> dict:
        order = {"lineItems": [{"variantId": self.variant_id(sku), "quantity": qty}], "email": "ann@example.com", **extra}
        if paid:
            order["transactions"] = [{"kind": "SALE", "status": "SUCCESS", "amountSet": {
                "shopMoney": {"amount": str(Decimal(self.backend.store.variants[self.backend.store.variant_by_sku[sku]]["price"]) * qty),
                              "currencyCode": "USD"}}}]
        return self.backend.create_order(order)
