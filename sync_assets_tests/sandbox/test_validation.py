"""The sandbox refuses bad input as the real services do, over real HTTP: Shopify with ``userErrors``,
NetSuite with its ``o:errorDetails`` body; and a path no route serves answers in the service's JSON error
shape, never an HTML page."""

from __future__ import annotations

import pytest
import requests

from sync_assets_tests.conftest import netsuite_auth, shopify_graphql_url, shopify_headers

ORDER_CREATE = """
mutation OrderCreate($order: OrderCreateOrderInput!) {
  orderCreate(order: $order) { order { id } userErrors { field message code } }
}"""
PRODUCT_SET = """
mutation ProductSet($input: ProductSetInput!) {
  productSet(input: $input, synchronous: true) { product { id } userErrors { field message code } }
}"""


def _graphql(sandbox, query, variables):
    answer = requests.post(shopify_graphql_url(sandbox.url), json={"query": query, "variables": variables},
                           headers=shopify_headers(), timeout=10)
    assert answer.status_code == 200
    return answer.json()["data"]


def _order(**changes) -> dict:
    order = {"currency": "USD", "email": "ok@example.com",
             "lineItems": [{"title": "Item", "quantity": 1,
                            "priceSet": {"shopMoney": {"amount": "10.00", "currencyCode": "USD"}}}]}
    order.update(changes)
    return order


@pytest.mark.parametrize("order, field, message", [
    (_order(email="not an email"), ["order", "email"], "Email is invalid"),
    (_order(lineItems=[{"title": "Item", "quantity": 0,
                        "priceSet": {"shopMoney": {"amount": "10.00", "currencyCode": "USD"}}}]),
     ["order", "lineItems", "0", "quantity"], "Quantity must be greater than 0"),
    (_order(lineItems=[{"title": "Item", "quantity": 1,
                        "priceSet": {"shopMoney": {"amount": "-1.00", "currencyCode": "USD"}}}]),
     ["order", "lineItems", "0", "priceSet", "shopMoney", "amount"], "Price must be greater than or equal to 0"),
])
def test_shopify_order_create_user_errors(sandbox, order, field, message):
    result = _graphql(sandbox, ORDER_CREATE, {"order": order})["orderCreate"]
    assert result["order"] is None
    assert result["userErrors"] == [{"field": field, "message": message, "code": "INVALID"}]


def test_shopify_product_set_refuses_a_negative_price(sandbox):
    result = _graphql(sandbox, PRODUCT_SET, {"input": {"title": "Bad", "handle": "bad-price",
                                                       "productOptions": [{"name": "Title", "values": [{"name": "Default Title"}]}],
                                                       "variants": [{"price": "-5.00", "optionValues": [
                                                           {"optionName": "Title", "name": "Default Title"}]}]}})
    assert result["productSet"]["product"] is None
    assert result["productSet"]["userErrors"][0]["code"] == "INVALID_VARIANT"


def test_netsuite_refuses_an_email_without_a_dotted_domain(sandbox):
    answer = requests.post(f"{sandbox.url}/services/rest/record/v1/customer", auth=netsuite_auth(), timeout=10,
                           json={"firstName": "Ann", "lastName": "Lee", "email": "ann@localhost"})
    assert answer.status_code == 400
    [detail] = answer.json()["o:errorDetails"]
    assert detail["o:errorCode"] == "INVALID_CONTENT" and detail["o:errorPath"] == "email"
    assert "Invalid Field Value ann@localhost for the following field: email" in detail["detail"]


@pytest.mark.parametrize("method, path, status, shape", [
    ("GET", "/services/rest/record/v2/customer", 404, "netsuite"),
    ("DELETE", "/services/rest/record/v1/customer/1", 405, "netsuite"),
    ("GET", "/admin/api/2026-10/products.json", 404, "shopify"),
    ("GET", "/admin/api/2026-10/graphql.json", 405, "shopify"),
    ("GET", "/nothing-here", 404, "shopify"),
    ("GET", "/_sandbox/nothing-here", 404, "control"),
])
def test_unknown_routes_answer_json_in_the_service_shape(sandbox, method, path, status, shape):
    answer = requests.request(method, sandbox.url + path, timeout=10)
    assert answer.status_code == status
    assert "html" not in answer.headers.get("Content-Type", "")
    body = answer.json()
    if shape == "netsuite":
        assert body["status"] == status and body["o:errorDetails"][0]["o:errorCode"]
    elif shape == "shopify":
        assert isinstance(body["errors"], str)
    else:
        assert path in body["error"]


def test_netsuite_refuses_a_deposit_to_an_unknown_account(sandbox):
    created = requests.post(f"{sandbox.url}/services/rest/record/v1/customer", auth=netsuite_auth(), timeout=10,
                            json={"firstName": "Ann", "lastName": "Lee", "email": "ann@example.com"})
    assert created.status_code == 204
    customer = created.headers["Location"].rsplit("/", 1)[1]
    answer = requests.post(f"{sandbox.url}/services/rest/record/v1/customerDeposit", auth=netsuite_auth(), timeout=10,
                           json={"customer": {"id": customer}, "payment": 5, "account": {"id": "999"}})
    assert answer.status_code == 400
    [detail] = answer.json()["o:errorDetails"]
    assert detail["o:errorCode"] == "INVALID_CONTENT" and detail["o:errorPath"] == "account"
