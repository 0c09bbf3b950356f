"""Order nodes shaped like the Admin GraphQL responses (shopify-admin.md §4.2)."""

from __future__ import annotations

import copy

from sync_assets.domain.orders import MappingContext


def money(amount: str, currency: str = "USD") -> dict:
    return {"shopMoney": {"amount": amount, "currencyCode": currency}}


def line(sku: str, qty: int, price: str, discounted: str | None = None, **extra) -> dict:
    node = {
        "id": f"gid://shopify/LineItem/{abs(hash(sku)) % 10**9}",
        "sku": sku,
        "name": f"Product {sku}",
        "quantity": qty,
        "currentQuantity": qty,
        "originalUnitPriceSet": money(price),
        "discountedUnitPriceSet": money(discounted or price),
    }
    node.update(extra)
    return node


def order(**overrides) -> dict:
    base = {
        "id": "gid://shopify/Order/5890295201886",
        "legacyResourceId": "5890295201886",
        "name": "#1001",
        "createdAt": "2025-09-20T14:40:33Z",
        "updatedAt": "2025-09-24T01:00:36Z",
        "cancelledAt": None,
        "displayFinancialStatus": "PAID",
        "currencyCode": "USD",
        "email": "Jane@Example.com",
        "customer": {"id": "gid://shopify/Customer/42", "email": "jane@example.com", "firstName": "Jane", "lastName": "Doe"},
        "shippingAddress": {"name": "Jane Doe", "address1": "1 Main St", "city": "Austin", "provinceCode": "TX",
                            "zip": "78701", "countryCodeV2": "US", "phone": "+1 512 555 0100"},
        "totalPriceSet": money("108.00"),
        "totalTaxSet": money("8.00"),
        "totalDiscountsSet": money("0.00"),
        "shippingLines": {"nodes": [{"title": "Standard", "originalPriceSet": money("5.00")}]},
        "taxLines": [{"title": "TX State", "rate": 0.08, "priceSet": money("8.00")}],
        "discountApplications": {"nodes": []},
        "lineItems": {"nodes": [line("SKU-1", 2, "30.00"), line("SKU-2", 1, "35.00")]},
        "transactions": [{"id": "gid://shopify/OrderTransaction/7560313339998", "kind": "SALE", "status": "SUCCESS",
                          "gateway": "shopify_payments", "processedAt": "2025-09-20T14:40:31Z",
                          "amountSet": money("108.00")}],
    }
    base.update(copy.deepcopy(overrides))
    return base


def context(**overrides) -> MappingContext:
    values = dict(
        sku_to_item={"SKU-1": "55", "SKU-2": "56", "SKU-3": "57"},
        currency_ids={"USD": "1", "EUR": "4"},
        customer_id="107",
        default_location_id="1",
        shipping_method_map={"Standard": "900"},
        discount_item_id="700",
        tax_item_id="800",
    )
    values.update(overrides)
    return MappingContext(**values)
