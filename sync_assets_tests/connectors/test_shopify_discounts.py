"""Discount codes end to end over real HTTP: placed in the sandbox, read by the connector, mapped for NetSuite.

The invariant: for a discounted order the NetSuite sales order totals what the storefront charged.
"""

from __future__ import annotations

from decimal import Decimal

import requests

from sync_assets.connectors.shopify import ShopifyClient
from sync_assets.domain.money import nodes
from sync_assets.domain.orders import MappingContext, map_order_to_sales_order
from sync_assets.sandbox import credentials
from sync_assets_tests.conftest import shopify_graphql_url, shopify_headers


def _client(sandbox) -> ShopifyClient:
    return ShopifyClient(sandbox.url, credentials.SHOPIFY_ACCESS_TOKEN, timeout=10)


def _amount(bag: dict) -> Decimal:
    return Decimal(bag["shopMoney"]["amount"])


def _netsuite_total(order: dict) -> Decimal:
    ctx = MappingContext(
        sku_to_item={line["sku"]: str(i) for i, line in enumerate(nodes(order["lineItems"]), start=1)},
        currency_ids={"USD": "1"},
        customer_id="7",
        discount_item_id="900",
    )
    body = map_order_to_sales_order(order, ctx).body
    lines = sum((Decimal(str(line["amount"])) for line in body["item"]["items"]), Decimal(0))
    return lines + Decimal(str(body["shippingCost"]))


def test_generated_discounted_orders_balance_and_map_to_equal_netsuite_totals(sandbox):
    placed = sandbox.control.place_orders(40, seed=11)
    orders = _client(sandbox).get_orders([o["id"] for o in placed])
    discounted = [o for o in orders if o["discountCodes"]]
    assert len(discounted) >= 5, "the generator should discount about a quarter of orders"
    for order in orders:
        total = _amount(order["totalPriceSet"])
        if order["displayFinancialStatus"] == "PAID":
            paid = sum((_amount(t["amountSet"]) for t in order["transactions"] if t["kind"] == "SALE"), Decimal(0))
            assert paid == total, order["name"]
    for order in discounted:
        code = order["discountCodes"][0]
        percent = Decimal(code[-2:])
        gross = sum((_amount(li["originalTotalSet"]) for li in nodes(order["lineItems"])), Decimal(0))
        discount = _amount(order["totalDiscountsSet"])
        assert discount == (gross * percent / 100).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
        assert _amount(order["totalPriceSet"]) == gross - discount + _amount(order["totalShippingPriceSet"])
        assert _netsuite_total(order) == _amount(order["totalPriceSet"]), order["name"]


_ORDER_QUERY = """
query($id: ID!) { order(id: $id) {
  discountCodes totalDiscountsSet { shopMoney { amount } } totalPriceSet { shopMoney { amount } }
  subtotalPriceSet { shopMoney { amount } }
  discountApplications(first: 5) { nodes { __typename allocationMethod targetType targetSelection index
                                            ... on DiscountCodeApplication { code } } }
  lineItems(first: 10) { nodes {
    discountedUnitPriceSet { shopMoney { amount } }
    discountedUnitPriceAfterAllDiscountsSet { shopMoney { amount } }
    discountAllocations { allocatedAmountSet { shopMoney { amount } } discountApplication { index } } } }
  shippingLines(first: 5) { nodes { discountedPriceSet { shopMoney { amount } } } }
} }
"""


def _money(amount: str) -> dict:
    return {"shopMoney": {"amount": amount, "currencyCode": "USD"}}


def _place(sandbox, discount_code: dict | None) -> dict:
    order = {
        "currency": "USD",
        "lineItems": [
            {"title": "A", "sku": "DISC-A", "quantity": 3, "priceSet": _money("10.00")},
            {"title": "B", "sku": "DISC-B", "quantity": 1, "priceSet": _money("5.00")},
        ],
        "shippingLines": [{"title": "Standard", "priceSet": _money("7.00")}],
        "transactions": [{"kind": "SALE", "status": "SUCCESS", "amountSet": _money("1.00")}],
    }
    if discount_code is not None:
        order["discountCode"] = discount_code
    created = _client(sandbox).create_order(order)
    reply = requests.post(shopify_graphql_url(sandbox.url), headers=shopify_headers(), timeout=10,
                          json={"query": _ORDER_QUERY, "variables": {"id": created["id"]}})
    body = reply.json()
    assert "errors" not in body, body
    return body["data"]["order"]


def _amounts(nodes: list[dict], key: str) -> list[str]:
    return [n[key]["shopMoney"]["amount"] for n in nodes]


def test_fixed_code_is_allocated_across_lines_in_proportion(sandbox):
    order = _place(sandbox, {"itemFixedDiscountCode": {"code": "TAKE7", "amountSet": _money("7.00")}})
    assert order["discountCodes"] == ["TAKE7"]
    assert Decimal(order["totalDiscountsSet"]["shopMoney"]["amount"]) == Decimal("7.00")
    assert Decimal(order["subtotalPriceSet"]["shopMoney"]["amount"]) == Decimal("28.00")
    assert Decimal(order["totalPriceSet"]["shopMoney"]["amount"]) == Decimal("35.00")  # 35 - 7 + 7 shipping
    [app] = order["discountApplications"]["nodes"]
    assert app == {"__typename": "DiscountCodeApplication", "allocationMethod": "ACROSS", "targetType": "LINE_ITEM",
                   "targetSelection": "ALL", "index": 0, "code": "TAKE7"}
    lines = order["lineItems"]["nodes"]
    allocated = [Decimal(li["discountAllocations"][0]["allocatedAmountSet"]["shopMoney"]["amount"]) for li in lines]
    assert allocated == [Decimal("6.00"), Decimal("1.00")]  # 30:5 of 7
    # a code discount leaves discountedUnitPriceSet alone (published schema) but not the after-all price
    assert [Decimal(a) for a in _amounts(lines, "discountedUnitPriceSet")] == [Decimal("10"), Decimal("5")]
    assert [Decimal(a) for a in _amounts(lines, "discountedUnitPriceAfterAllDiscountsSet")] == [Decimal("8"), Decimal("4")]


def test_fixed_code_never_exceeds_the_goods(sandbox):
    order = _place(sandbox, {"itemFixedDiscountCode": {"code": "HUGE", "amountSet": _money("500.00")}})
    assert Decimal(order["totalDiscountsSet"]["shopMoney"]["amount"]) == Decimal("35.00")
    assert Decimal(order["totalPriceSet"]["shopMoney"]["amount"]) == Decimal("7.00")


def test_free_shipping_code_zeroes_shipping_only(sandbox):
    order = _place(sandbox, {"freeShippingDiscountCode": {"code": "SHIPFREE"}})
    assert Decimal(order["totalDiscountsSet"]["shopMoney"]["amount"]) == Decimal("7.00")
    assert Decimal(order["subtotalPriceSet"]["shopMoney"]["amount"]) == Decimal("35.00")
    assert Decimal(order["totalPriceSet"]["shopMoney"]["amount"]) == Decimal("35.00")
    assert Decimal(order["shippingLines"]["nodes"][0]["discountedPriceSet"]["shopMoney"]["amount"]) == 0
    assert order["discountApplications"]["nodes"][0]["targetType"] == "SHIPPING_LINE"


def test_percentage_code_and_no_code(sandbox):
    order = _place(sandbox, {"itemPercentageDiscountCode": {"code": "SAVE15", "percentage": 15.0}})
    assert Decimal(order["totalDiscountsSet"]["shopMoney"]["amount"]) == Decimal("5.25")
    assert Decimal(order["totalPriceSet"]["shopMoney"]["amount"]) == Decimal("36.75")
    plain = _place(sandbox, None)
    assert plain["discountCodes"] == [] and plain["discountApplications"]["nodes"] == []
    assert Decimal(plain["totalDiscountsSet"]["shopMoney"]["amount"]) == 0
    assert Decimal(plain["totalPriceSet"]["shopMoney"]["amount"]) == Decimal("42.00")


def test_two_code_kinds_at_once_are_refused(sandbox):
    reply = requests.post(
        shopify_graphql_url(sandbox.url), headers=shopify_headers(), timeout=10,
        json={"query": "mutation($o: OrderCreateOrderInput!) { orderCreate(order: $o) { userErrors { field message } } }",
              "variables": {"o": {"currency": "USD",
                                  "lineItems": [{"title": "A", "quantity": 1, "priceSet": _money("1.00")}],
                                  "discountCode": {"freeShippingDiscountCode": {"code": "X"},
                                                   "itemPercentageDiscountCode": {"code": "Y", "percentage": 5}}}}},
    )
    errors = reply.json()["data"]["orderCreate"]["userErrors"]
    assert errors and errors[0]["field"] == ["order", "discountCode"]
